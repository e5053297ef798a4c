// A key result has no page of its own: it opens its objective (insights link here).
// API: GET /v1/key-results/{id}.

import { get, path } from "../api.js";
import { fill, note } from "../dom.js";
import { currentRoute, href } from "../route.js";
import { viewShell } from "./shell.js";

export function keyResultView(id) {
  const shell = viewShell("Key result");
  return {
    title: "Key result",
    ...shell,
    async load(signal) {
      fill(shell.body, note("Opening its objective…"));
      const keyResult = await get(path`v1/key-results/${id}`, {}, signal);
      // Replace, not push: Back should not land here and bounce forward again.
      location.replace(href(`/objectives/${keyResult.objective_id}`, currentRoute().params));
    },
  };
}
