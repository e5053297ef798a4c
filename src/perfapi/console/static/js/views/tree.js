// The strategy tree: every objective with its progress, achieved mark, team and owner,
// as of now or of the date in the header.
// API: GET /v1/objectives?as_of (every page).

import { listAll } from "../api.js";
import { achievedMark, fill, h, note, progressBar } from "../dom.js";
import { linkTo } from "../route.js";
import { asOfParam, asOfText, viewShell } from "./shell.js";

export function treeView() {
  const shell = viewShell("Strategy");
  return {
    title: "Strategy",
    ...shell,
    async load(signal) {
      const objectives = await listAll("v1/objectives", { as_of: asOfParam() }, signal);
      shell.clearStatus();
      if (objectives.length === 0) {
        fill(
          shell.body,
          note(
            "No objectives yet. Create some with POST /v1/objectives, or load the demo data (perfapi demo).",
          ),
        );
        return;
      }
      const { roots, children } = arrange(objectives);
      fill(
        shell.body,
        h("p", { class: "summary" }, `${objectives.length} objectives, ${asOfText()}.`),
        h("nav", { "aria-label": "Strategy tree", class: "tree" }, branch(roots, children, 1)),
      );
    },
  };
}

/** Roots and children by parent id; an objective whose parent is not listed counts as a root. */
export function arrange(objectives) {
  const ids = new Set(objectives.map((objective) => objective.id));
  const children = new Map();
  const roots = [];
  const ordered = [...objectives].sort(
    (a, b) => a.start_date.localeCompare(b.start_date) || a.title.localeCompare(b.title),
  );
  for (const objective of ordered) {
    if (objective.parent_id && ids.has(objective.parent_id)) {
      if (!children.has(objective.parent_id)) children.set(objective.parent_id, []);
      children.get(objective.parent_id).push(objective);
    } else {
      roots.push(objective);
    }
  }
  return { roots, children };
}

function branch(objectives, children, level) {
  return h(
    "ul",
    { class: level === 1 ? "tree-root" : "tree-branch" },
    objectives.map((objective) =>
      h(
        "li",
        {},
        node(objective),
        children.has(objective.id) ? branch(children.get(objective.id), children, level + 1) : null,
      ),
    ),
  );
}

function node(objective) {
  const who = [objective.team, objective.owner].filter(Boolean).join(" · ");
  return h(
    "div",
    { class: `tree-node status-${objective.status}` },
    h(
      "a",
      { href: linkTo(`/objectives/${objective.id}`), dataset: { key: `objective-${objective.id}` } },
      objective.title,
    ),
    objective.status === "active" ? null : h("span", { class: "badge" }, objective.status),
    h("span", { class: "who" }, who),
    progressBar(objective.progress, `Progress of ${objective.title}`),
    achievedMark(objective.achieved),
  );
}
