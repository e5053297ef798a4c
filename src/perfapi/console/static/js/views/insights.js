// What needs attention, most severe first, for a team or an owner.
// API: GET /v1/insights?team&owner&as_of (page by page), GET /v1/objectives for the
// teams and owners there are to choose from.

import { get, listAll } from "../api.js";
import { fill, h, note, percent, problem, select } from "../dom.js";
import { currentRoute, go, linkTo, withParams } from "../route.js";
import { asOfParam, asOfText, viewShell } from "./shell.js";

const PAGE = 50;

const KIND_TEXT = {
  kpi_off_track: "KPI off track",
  kpi_at_risk: "KPI at risk",
  kpi_anomaly: "KPI anomaly",
  kpi_without_target: "KPI without a target",
  objective_likely_missed: "Objective likely missed",
  check_in_stale: "Check-in overdue",
  objective_unaligned: "Objective not measured",
  kpi_orphan: "KPI linked to nothing",
};

const SUBJECT_PATH = { kpi: "kpis", objective: "objectives", key_result: "key-results" };

function filters() {
  const { params } = currentRoute();
  return { team: params.get("team") ?? "", owner: params.get("owner") ?? "" };
}

export function insightsView() {
  const chosen = filters();
  const filterControls = h("form", {
    class: "controls",
    "aria-label": "Filter insights",
    onSubmit: (event) => event.preventDefault(),
  });
  const shell = viewShell("Insights", filterControls);
  return {
    title: "Insights",
    ...shell,
    async load(signal) {
      const query = { ...chosen, as_of: asOfParam(), limit: PAGE };
      const [feed, objectives] = await Promise.all([
        get("v1/insights", query, signal),
        listAll("v1/objectives", {}, signal),
      ]);
      const distinct = (field) => [...new Set(objectives.map((o) => o[field]).filter(Boolean))].sort();
      filterControls.replaceChildren(
        select(
          "team",
          "Team",
          [["", "every team"], ...distinct("team").map((t) => [t, t])],
          chosen.team,
          (team) => go(withParams({ team })),
        ),
        select(
          "owner",
          "Owner",
          [["", "every owner"], ...distinct("owner").map((o) => [o, o])],
          chosen.owner,
          (owner) => go(withParams({ owner })),
        ),
      );
      shell.clearStatus();
      const list = h("ol", { class: "cards insights", "aria-label": "Insights, most severe first" });
      const more = h("div", { class: "more" });
      fill(shell.body, h("p", { class: "summary" }, `Most severe first, ${asOfText()}.`), list, more);
      showPage(feed, list, more, query, signal);
    },
  };
}

function showPage(feed, list, more, query, signal) {
  list.append(...feed.items.map(insightCard));
  if (list.children.length === 0) list.replaceWith(note("Nothing needs attention."));
  more.replaceChildren();
  if (feed.next_cursor) {
    const button = h("button", { type: "button", dataset: { key: "more-insights" } }, "Show more");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const next = await get("v1/insights", { ...query, cursor: feed.next_cursor }, signal);
        showPage(next, list, more, query, signal);
      } catch (error) {
        if (error.name !== "AbortError") more.replaceChildren(problem(error));
      }
    });
    more.append(button);
  }
}

function insightCard(item) {
  const subject = item.subject;
  const who = [item.team, item.owner].filter(Boolean).join(" · ");
  return h(
    "li",
    { class: `card insight kind-${item.kind}` },
    h(
      "p",
      { class: "insight-head" },
      h("span", { class: "badge" }, KIND_TEXT[item.kind] ?? item.kind),
      h("meter", {
        min: "0",
        max: "1",
        value: String(item.severity),
        "aria-label": `Severity ${percent(item.severity)}`,
      }),
      h("span", { class: "who" }, who),
    ),
    h("p", { class: "insight-message" }, item.message),
    h(
      "p",
      {},
      h(
        "a",
        { href: linkTo(`/${SUBJECT_PATH[subject.type] ?? "objectives"}/${subject.id}`) },
        `Open ${subject.title}`,
      ),
    ),
  );
}
