// Goal achievement and strategy alignment.
// API: GET /v1/reports/goal-achievement?as_of, GET /v1/reports/alignment.

import { get } from "../api.js";
import { achievedMark, facts, fill, h, note, percent, progressBar } from "../dom.js";
import { linkTo } from "../route.js";
import { asOfParam, viewShell } from "./shell.js";

export function reportsView() {
  const shell = viewShell("Reports");
  return {
    title: "Reports",
    ...shell,
    async load(signal) {
      const [achievement, alignment] = await Promise.all([
        get("v1/reports/goal-achievement", { as_of: asOfParam() }, signal),
        get("v1/reports/alignment", {}, signal),
      ]);
      shell.clearStatus();
      fill(shell.body, achievementSection(achievement), alignmentSection(alignment));
    },
  };
}

function achievementSection(report) {
  return h(
    "section",
    { "aria-labelledby": "achievement-heading" },
    h("h2", { id: "achievement-heading" }, "Goal achievement"),
    h(
      "p",
      { class: "summary" },
      `Objectives due ${report.from} to ${report.to}, achieved at ${percent(report.threshold)} progress.`,
    ),
    h("p", { class: "headline" }, h("span", { class: "big" }, percent(report.rate)), " achieved"),
    facts([
      ["Objectives due", String(report.objectives_total)],
      ["Measured", String(report.measured)],
      ["Achieved", String(report.achieved)],
    ]),
    report.objectives.length === 0
      ? note("No active or closed objectives are due in this window.")
      : h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            {},
            h("caption", { class: "visually-hidden" }, "Objectives due in the window"),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Objective", "Due", "Progress", "Achieved"].map((name) => h("th", { scope: "col" }, name)),
              ),
            ),
            h(
              "tbody",
              {},
              report.objectives.map((objective) =>
                h(
                  "tr",
                  {},
                  h(
                    "th",
                    { scope: "row" },
                    h("a", { href: linkTo(`/objectives/${objective.id}`) }, objective.title),
                  ),
                  h("td", {}, objective.due_date),
                  h("td", {}, progressBar(objective.progress, `Progress of ${objective.title}`)),
                  h("td", {}, achievedMark(objective.achieved)),
                ),
              ),
            ),
          ),
        ),
  );
}

function alignmentSection(report) {
  return h(
    "section",
    { "aria-labelledby": "alignment-heading" },
    h("h2", { id: "alignment-heading" }, "Alignment"),
    h(
      "p",
      { class: "summary" },
      "How much of the active strategy is measured by KPIs, and which KPIs measure nothing in it" +
        (asOfParam() ? ", as the strategy stands now (this report takes no as_of)." : "."),
    ),
    facts([
      [
        "Coverage",
        `${percent(report.coverage)} (${report.aligned} of ${report.objectives_total} objectives)`,
      ],
      ["Alignment score", percent(report.alignment_score)],
      [
        "KPI utilization",
        `${percent(report.kpi_utilization)} (${report.kpis_linked} of ${report.kpis_total} KPIs)`,
      ],
    ]),
    h("h3", {}, "Objectives no KPI measures"),
    report.unaligned_objectives.length === 0
      ? note("None.")
      : h(
          "ul",
          { class: "plain-list" },
          report.unaligned_objectives.map((objective) =>
            h(
              "li",
              {},
              h("a", { href: linkTo(`/objectives/${objective.id}`) }, objective.title),
              objective.team ? ` (${objective.team})` : "",
            ),
          ),
        ),
    h("h3", {}, "KPIs linked to no objective"),
    report.orphan_kpis.length === 0
      ? note("None.")
      : h(
          "ul",
          { class: "plain-list" },
          report.orphan_kpis.map((kpi) =>
            h("li", {}, h("a", { href: linkTo(`/kpis/${kpi.id}`) }, kpi.name), ` (${kpi.key})`),
          ),
        ),
  );
}
