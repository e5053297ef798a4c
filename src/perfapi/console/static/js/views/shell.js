// What every view shares: a heading, a place for problems, a body, and settings.

import { h, heading, problem } from "../dom.js";
import { currentRoute } from "../route.js";

/**
 * A view's frame. `controls` stay put while the view reloads (so a control keeps its
 * focus and a half-typed form its text); `body` is refilled on each load.
 */
export function viewShell(title, ...controls) {
  const titleElement = heading(title);
  const status = h("div", { class: "view-status" });
  const body = h("div", { class: "view-body" });
  const root = h("section", { "aria-labelledby": "view-heading" }, titleElement, ...controls, status, body);
  return {
    root,
    body,
    status,
    setHeading: (text) => {
      titleElement.textContent = text;
    },
    heading: () => titleElement.textContent,
    fail: (error) => status.replaceChildren(problem(error)),
    clearStatus: () => status.replaceChildren(),
  };
}

/** The as_of the user looks back to (a date, meaning the end of that day), or null for now. */
export function asOfParam() {
  return currentRoute().params.get("as_of") || null;
}

/** The end of the as_of day as a Date, or now. */
export function asOfInstant() {
  const asOf = asOfParam();
  return asOf ? new Date(`${asOf}T23:59:59.999Z`) : new Date();
}

export function todayIso() {
  return new Date().toISOString().slice(0, 10);
}

export function addDays(isoDate, days) {
  const date = new Date(`${isoDate}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** "as of 2026-06-30" or "as of now". */
export function asOfText() {
  const asOf = asOfParam();
  return asOf ? `as of the end of ${asOf} (UTC)` : "as of now";
}
