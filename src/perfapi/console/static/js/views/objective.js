// One objective: its key results with their check-ins, its outlook, children and KPIs.
// API: GET /v1/objectives/{id}, /v1/objectives/{id}/key-results, /v1/objectives?parent_id,
// /v1/objectives/{id}/outlook, /v1/objectives/{id}/kpis, /v1/key-results/{id}/check-ins;
// POST /v1/key-results/{id}/check-ins records one.

import { get, listAll, optional, path, post } from "../api.js";
import {
  achievedMark,
  describe,
  facts,
  fill,
  h,
  note,
  number,
  percent,
  problem,
  progressBar,
  timestamp,
} from "../dom.js";
import { linkTo } from "../route.js";
import { asOfInstant, asOfParam, asOfText, viewShell } from "./shell.js";

const CHECK_INS_SHOWN = 5;

export function objectiveView(id) {
  const shell = viewShell("Objective");
  // A check-in form survives reloads (live updates), so what someone is typing stays.
  const forms = new Map();
  return {
    title: "Objective",
    ...shell,
    async load(signal) {
      const asOf = asOfParam();
      const objective = await get(path`v1/objectives/${id}`, { as_of: asOf }, signal);
      shell.setHeading(objective.title);
      const [keyResults, children, outlook, kpis, parent] = await Promise.all([
        listAll(path`v1/objectives/${id}/key-results`, { as_of: asOf }, signal),
        listAll("v1/objectives", { parent_id: id, as_of: asOf }, signal),
        optional(get(path`v1/objectives/${id}/outlook`, { as_of: asOf }, signal)),
        listAll(path`v1/objectives/${id}/kpis`, {}, signal),
        objective.parent_id
          ? optional(get(path`v1/objectives/${objective.parent_id}`, {}, signal))
          : Promise.resolve(null),
      ]);
      const checkIns = await Promise.all(
        keyResults.map((kr) =>
          kr.kpi_id ? Promise.resolve(null) : listAll(path`v1/key-results/${kr.id}/check-ins`, {}, signal),
        ),
      );
      const expected = new Map((outlook.value?.key_results ?? []).map((kr) => [kr.id, kr]));
      shell.clearStatus();
      fill(
        shell.body,
        summary(objective, parent),
        outlookSection(outlook),
        h(
          "section",
          { "aria-labelledby": "key-results-heading" },
          h("h2", { id: "key-results-heading" }, "Key results"),
          keyResults.length === 0
            ? note("No key results.")
            : h(
                "div",
                { class: "cards" },
                keyResults.map((kr, index) =>
                  keyResultCard(kr, expected.get(kr.id), checkIns[index], formFor(forms, kr)),
                ),
              ),
        ),
        childrenSection(children),
        kpiSection(kpis),
      );
    },
  };
}

function summary(objective, parent) {
  const parentLink = parent?.value
    ? h("a", { href: linkTo(`/objectives/${parent.value.id}`) }, parent.value.title)
    : objective.parent_id
      ? "(not visible)"
      : "none: a root objective";
  return h(
    "div",
    { class: "objective-summary" },
    objective.description ? h("p", {}, objective.description) : null,
    h(
      "p",
      { class: "progress-line" },
      progressBar(objective.progress, `Progress of ${objective.title}`),
      achievedMark(objective.achieved),
    ),
    facts([
      ["Status", objective.status],
      ["Team", objective.team ?? "–"],
      ["Owner", objective.owner ?? "–"],
      ["Period", `${objective.start_date} to ${objective.due_date}`],
      ["Weight", number(objective.weight)],
      ["Parent", parentLink],
      ["Computed", asOfText()],
    ]),
  );
}

function outlookSection(outlook) {
  const content = outlook.error
    ? problem(outlook.error)
    : outlook.value.expected_progress === null
      ? note("No outlook: the objective is not measured.")
      : facts([
          ["Expected at due date", percent(outlook.value.expected_progress)],
          ["Likely range", `${percent(outlook.value.lower)} to ${percent(outlook.value.upper)}`],
          ["Chance of being achieved", percent(outlook.value.probability_achieved)],
        ]);
  return h(
    "section",
    { "aria-labelledby": "outlook-heading" },
    h("h2", { id: "outlook-heading" }, "Outlook"),
    content,
  );
}

function goal(kr) {
  const unit = kr.unit ?? "";
  switch (kr.direction) {
    case "increase":
    case "decrease":
      return `${kr.direction} from ${number(kr.start_value, unit)} to ${number(kr.target_value, unit)}`;
    case "at_least":
      return `at least ${number(kr.target_value, unit)}`;
    case "at_most":
      return `at most ${number(kr.target_value, unit)}`;
    default:
      return `between ${number(kr.range_min, unit)} and ${number(kr.range_max, unit)}`;
  }
}

function keyResultCard(kr, expected, checkIns, form) {
  const until = asOfInstant();
  const shown = (checkIns ?? [])
    .filter((checkIn) => new Date(checkIn.at) <= until)
    .slice(-CHECK_INS_SHOWN)
    .reverse();
  return h(
    "article",
    { class: "card", "aria-labelledby": `kr-${kr.id}` },
    h("h3", { id: `kr-${kr.id}` }, kr.title),
    h("p", { class: "progress-line" }, progressBar(kr.progress, `Progress of ${kr.title}`)),
    facts([
      ["Goal", goal(kr)],
      ["Current value", number(kr.current_value, kr.unit)],
      [
        "Expected at due date",
        expected && expected.expected_value !== null
          ? `${number(expected.expected_value, kr.unit)} (${percent(expected.probability)} chance of reaching it)`
          : "–",
      ],
      ["Measured by", kr.kpi_id ? h("a", { href: linkTo(`/kpis/${kr.kpi_id}`) }, "its KPI") : "check-ins"],
    ]),
    kr.kpi_id
      ? null
      : h(
          "div",
          { class: "check-ins" },
          h("h4", {}, "Latest check-ins"),
          shown.length === 0
            ? note("No check-ins yet.")
            : h(
                "ul",
                { class: "check-in-list", "aria-label": `Check-ins of ${kr.title}` },
                shown.map((checkIn) =>
                  h(
                    "li",
                    {},
                    h("span", { class: "check-in-value" }, number(checkIn.value, kr.unit)),
                    " ",
                    h("time", { datetime: checkIn.at }, timestamp(checkIn.at)),
                    checkIn.confidence === null ? null : ` · confidence ${percent(checkIn.confidence)}`,
                    checkIn.note ? h("span", { class: "check-in-note" }, checkIn.note) : null,
                  ),
                ),
              ),
          form,
        ),
  );
}

function formFor(forms, kr) {
  if (kr.kpi_id) return null;
  if (!forms.has(kr.id)) forms.set(kr.id, checkInForm(kr));
  return forms.get(kr.id);
}

function checkInForm(kr) {
  const value = h("input", {
    type: "number",
    step: "any",
    required: true,
    id: `value-${kr.id}`,
    dataset: { key: `value-${kr.id}` },
  });
  const comment = h("input", {
    type: "text",
    id: `note-${kr.id}`,
    maxlength: "10000",
    dataset: { key: `note-${kr.id}` },
  });
  const outcome = h("p", { class: "form-outcome", role: "status" });
  const button = h("button", { type: "submit", dataset: { key: `submit-${kr.id}` } }, "Record check-in");
  return h(
    "form",
    {
      class: "check-in-form",
      "aria-label": `Record a check-in for ${kr.title}`,
      onSubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        outcome.textContent = "";
        outcome.classList.remove("problem");
        try {
          const body = { value: value.valueAsNumber };
          if (comment.value.trim()) body.note = comment.value;
          await post(path`v1/key-results/${kr.id}/check-ins`, body);
          value.value = "";
          comment.value = "";
          outcome.textContent = "Check-in recorded.";
          // The live stream refreshes the view too; this is for when it is down.
          window.dispatchEvent(new CustomEvent("console:reload"));
        } catch (error) {
          outcome.textContent = describe(error);
          outcome.classList.add("problem");
        } finally {
          button.disabled = false;
        }
      },
    },
    h("span", { class: "field" }, h("label", { for: `value-${kr.id}` }, "Value"), value),
    h("span", { class: "field" }, h("label", { for: `note-${kr.id}` }, "Note"), comment),
    button,
    outcome,
  );
}

function childrenSection(children) {
  if (children.length === 0) return null;
  return h(
    "section",
    { "aria-labelledby": "children-heading" },
    h("h2", { id: "children-heading" }, "Child objectives"),
    h(
      "ul",
      { class: "plain-list" },
      children.map((child) =>
        h(
          "li",
          { class: "tree-node" },
          h(
            "a",
            { href: linkTo(`/objectives/${child.id}`), dataset: { key: `objective-${child.id}` } },
            child.title,
          ),
          progressBar(child.progress, `Progress of ${child.title}`),
          achievedMark(child.achieved),
        ),
      ),
    ),
  );
}

function kpiSection(links) {
  if (links.length === 0) return null;
  return h(
    "section",
    { "aria-labelledby": "kpis-heading" },
    h("h2", { id: "kpis-heading" }, "Linked KPIs"),
    h(
      "ul",
      { class: "plain-list" },
      links.map((link) =>
        h(
          "li",
          {},
          h("a", { href: linkTo(`/kpis/${link.kpi_id}`) }, link.kpi_name),
          ` (${link.kpi_key}, weight ${number(link.weight)})`,
        ),
      ),
    ),
  );
}
