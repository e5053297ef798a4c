// The console's shell: sign-in, the header, routing between views, and live updates.

import { ApiError, request } from "./api.js";
import { describe } from "./dom.js";
import { connectLive } from "./live.js";
import { currentRoute, go, withParams } from "./route.js";
import { currentToken, forget, remember } from "./session.js";
import { resolveView } from "./views/index.js";
import { signInView } from "./views/sign-in.js";

// Events come in bursts (a check-in, then the progress it moved): one refresh per burst,
// and at least one every few seconds while events keep coming.
const REFRESH_AFTER_MS = 300;
const REFRESH_AT_LEAST_EVERY_MS = 3000;

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const session = document.getElementById("session");
const asOf = document.getElementById("as-of");
const liveStatus = document.getElementById("live");
const alertBox = document.getElementById("alert");
const announcer = document.getElementById("announce");

let live = null;
let current = null; // {pathname, view, loading: AbortController | null}
let refreshTimer = null;
let refreshWanted = null; // when the oldest event not yet shown arrived

function showAlert(text) {
  alertBox.textContent = text;
  alertBox.hidden = false;
}

function clearAlert() {
  alertBox.textContent = "";
  alertBox.hidden = true;
}

function showSignIn(message) {
  stopLive();
  current?.loading?.abort();
  current?.view.dispose?.();
  current = null;
  nav.hidden = true;
  session.hidden = true;
  clearAlert();
  document.title = "Sign in · perfapi console";
  main.replaceChildren(signInView({ message, onSubmit: signIn }));
  // After a sign-out, say so where the focus was; a page just loaded keeps it at its start.
  if (message) document.getElementById("view-heading")?.focus();
}

/** Try the token on a cheap read; keep it only if the API takes it. */
async function signIn(token) {
  await request("GET", "v1/kpis", { query: { limit: 1 }, token });
  remember(token);
  enterSession({ focusView: true });
}

function signOut(message) {
  forget();
  showSignIn(message);
}

/** focusView: move the focus to the first view (after signing in); a page just loaded
 * leaves it at the start of the page, where the skip link is. */
function enterSession({ focusView }) {
  nav.hidden = false;
  session.hidden = false;
  startLive();
  render({ focusView });
}

function startLive() {
  stopLive();
  live = connectLive({
    token: currentToken(),
    onEvent: scheduleRefresh,
    onStatus: (state, why) => {
      liveStatus.dataset.state = state;
      liveStatus.textContent =
        state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
      liveStatus.title = why ? `Live updates: ${why}` : "Live updates from the event stream";
    },
    onRefused: (error) => signOut(`Signed out: ${describe(error)}`),
  });
}

function stopLive() {
  live?.stop();
  live = null;
  clearTimeout(refreshTimer);
  refreshWanted = null;
}

function scheduleRefresh(event) {
  if (!current) return;
  refreshWanted ??= Date.now();
  const overdue = Date.now() - refreshWanted >= REFRESH_AT_LEAST_EVERY_MS;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(
    async () => {
      refreshWanted = null;
      if (!current) return;
      await load(current);
      announcer.textContent = `Updated after ${event.type.replaceAll("_", " ").replace(".", ": ")}.`;
    },
    overdue ? 0 : REFRESH_AFTER_MS,
  );
}

function syncHeader(route) {
  asOf.value = route.params.get("as_of") ?? "";
  const section = ["kpis", "reports", "insights"].includes(route.parts[0]) ? route.parts[0] : "";
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function restoreFocus(key) {
  if (!key) return;
  const target = main.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (target && document.activeElement !== target) target.focus();
}

async function render({ focusView = true } = {}) {
  if (!currentToken()) {
    showSignIn();
    return;
  }
  clearAlert();
  const route = currentRoute();
  syncHeader(route);
  // A changed setting (interval, as_of, a filter) keeps the focus on its control; a new
  // view moves it to the view's heading, where a screen reader starts reading.
  const samePath = current?.pathname === route.pathname;
  const focusKey = document.activeElement?.dataset?.key;
  current?.loading?.abort();
  current?.view.dispose?.();
  const view = resolveView(route);
  current = { pathname: route.pathname, view, loading: null };
  document.title = `${view.title} · perfapi console`;
  main.replaceChildren(view.root);
  if (samePath) restoreFocus(focusKey);
  else if (focusView) document.getElementById("view-heading")?.focus();
  await load(current);
}

async function load(entry) {
  entry.loading?.abort();
  const loading = new AbortController();
  entry.loading = loading;
  const focusKey = document.activeElement?.dataset?.key;
  main.setAttribute("aria-busy", "true");
  try {
    await entry.view.load(loading.signal);
    if (entry.view.heading) document.title = `${entry.view.heading()} · perfapi console`;
    restoreFocus(focusKey);
  } catch (error) {
    if (error.name === "AbortError") return;
    if (error instanceof ApiError && error.status === 401) {
      signOut(`Signed out: ${describe(error)}`);
      return;
    }
    entry.view.fail(error);
  } finally {
    if (entry.loading === loading) main.removeAttribute("aria-busy");
  }
}

function start() {
  asOf.addEventListener("change", () => go(withParams({ as_of: asOf.value })));
  document.getElementById("as-of-now").addEventListener("click", () => go(withParams({ as_of: "" })));
  document.getElementById("sign-out").addEventListener("click", () => signOut("You are signed out."));
  document.getElementById("skip").addEventListener("click", (event) => {
    event.preventDefault(); // the fragment is the route: move the focus instead
    (document.getElementById("view-heading") ?? main).focus();
  });
  window.addEventListener("hashchange", () => render());
  // A view that wrote something asks for a fresh look (the stream would bring one too).
  window.addEventListener("console:reload", () => current && load(current));
  // Never a blank page: whatever breaks is said.
  window.addEventListener("error", (event) => showAlert(`The console hit an error: ${event.message}`));
  window.addEventListener("unhandledrejection", (event) =>
    showAlert(`The console hit an error: ${describe(event.reason)}`),
  );
  if (currentToken()) enterSession({ focusView: false });
  else showSignIn();
}

start();
