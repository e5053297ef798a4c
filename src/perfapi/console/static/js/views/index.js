// Which view a route shows.

import { h, heading } from "../dom.js";
import { href } from "../route.js";
import { insightsView } from "./insights.js";
import { keyResultView } from "./key-result.js";
import { kpiListView } from "./kpi-list.js";
import { kpiView } from "./kpi.js";
import { objectiveView } from "./objective.js";
import { reportsView } from "./reports.js";
import { treeView } from "./tree.js";

export function resolveView(route) {
  const [section, id, ...rest] = route.parts;
  if (rest.length === 0) {
    if (section === undefined || (section === "objectives" && id === undefined)) return treeView();
    if (section === "objectives") return objectiveView(id);
    if (section === "key-results" && id !== undefined) return keyResultView(id);
    if (section === "kpis" && id === undefined) return kpiListView();
    if (section === "kpis") return kpiView(id);
    if (section === "reports" && id === undefined) return reportsView();
    if (section === "insights" && id === undefined) return insightsView();
  }
  return notFoundView(route.pathname);
}

function notFoundView(pathname) {
  const root = h(
    "section",
    { "aria-labelledby": "view-heading" },
    heading("No such page"),
    h(
      "p",
      { role: "alert" },
      `The console has no page at ${pathname}. `,
      h("a", { href: href("/") }, "Go to the strategy tree."),
    ),
  );
  return { title: "No such page", root, load: async () => {}, fail: () => {} };
}
