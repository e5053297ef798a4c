// Every KPI with its attainment status against the target covering as_of.
// API: GET /v1/kpis (every page), GET /v1/kpis/{id}/attainment per KPI.

import { get, listAll, optional, path } from "../api.js";
import { describe, fill, h, note, number } from "../dom.js";
import { linkTo } from "../route.js";
import { asOfParam, asOfText, viewShell } from "./shell.js";

// Attainment is computed per KPI: a few requests at a time, not one burst per KPI.
const PARALLEL = 4;

export const STATUS_TEXT = {
  on_track: "On track",
  at_risk: "At risk",
  off_track: "Off track",
  no_data: "No data",
};

export function kpiListView() {
  const shell = viewShell("KPIs");
  return {
    title: "KPIs",
    ...shell,
    async load(signal) {
      const asOf = asOfParam();
      const kpis = await listAll("v1/kpis", {}, signal);
      const attainments = await inBatches(kpis, (kpi) =>
        optional(get(path`v1/kpis/${kpi.id}/attainment`, { as_of: asOf }, signal)),
      );
      shell.clearStatus();
      if (kpis.length === 0) {
        fill(shell.body, note("No KPIs yet. Create some with POST /v1/kpis."));
        return;
      }
      fill(
        shell.body,
        h(
          "p",
          { class: "summary" },
          `${kpis.length} KPIs; status against the target covering the day, ${asOfText()}.`,
        ),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            {},
            h("caption", { class: "visually-hidden" }, "KPIs and their attainment"),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "KPI"),
                h("th", { scope: "col" }, "Status"),
                h("th", { scope: "col" }, "Actual / target"),
              ),
            ),
            h(
              "tbody",
              {},
              kpis.map((kpi, index) => row(kpi, attainments[index])),
            ),
          ),
        ),
      );
    },
  };
}

function row(kpi, attainment) {
  const value = attainment.value;
  return h(
    "tr",
    {},
    h(
      "th",
      { scope: "row" },
      h("a", { href: linkTo(`/kpis/${kpi.id}`), dataset: { key: `kpi-${kpi.id}` } }, kpi.name),
      h("span", { class: "kpi-key" }, kpi.key),
    ),
    h(
      "td",
      {},
      value
        ? h("span", { class: `status status-${value.status}` }, STATUS_TEXT[value.status] ?? value.status)
        : attainment.error.status === 404
          ? h("span", { class: "status" }, "No target")
          : h("span", { class: "status problem" }, describe(attainment.error)),
    ),
    h("td", {}, value ? `${number(value.actual, kpi.unit)} / ${number(value.target, kpi.unit)}` : "–"),
  );
}

export async function inBatches(items, work) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return results;
}
