// The live stream, GET /v1/events/stream, read with fetch() (EventSource cannot send the
// Authorization header). After a dropped connection it reconnects with Last-Event-ID,
// so the server sends what committed in between and nothing is missed.

import { apiUrl, problemOf } from "./api.js";
import { SseParser } from "./sse.js";

const FIRST_DELAY_MS = 1000;
const LONGEST_DELAY_MS = 30000;

/**
 * Stream the org's events until stop() is called.
 * onEvent(event): each event as GET /v1/events lists it.
 * onStatus(state, detail): "connecting", "live", "reconnecting".
 * onRefused(error): the server refused the key (401/403); the stream stops.
 */
export function connectLive({ token, onEvent, onStatus, onRefused }) {
  const controller = new AbortController();
  let lastEventId = null;
  let delay = FIRST_DELAY_MS;

  async function readOnce() {
    const headers = { Authorization: `Bearer ${token}`, Accept: "text/event-stream" };
    if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
    const response = await fetch(apiUrl("v1/events/stream"), {
      headers,
      cache: "no-store",
      signal: controller.signal,
    });
    if (response.status === 401 || response.status === 403) {
      onRefused(await problemOf(response));
      return false;
    }
    if (!response.ok) throw await problemOf(response);
    onStatus("live");
    delay = FIRST_DELAY_MS;
    const parser = new SseParser((message) => {
      lastEventId = message.id ?? lastEventId;
      try {
        onEvent(JSON.parse(message.data));
      } catch (error) {
        console.error("perfapi console: an event could not be handled", error);
      }
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      parser.push(value);
    }
  }

  async function run() {
    onStatus("connecting");
    while (!controller.signal.aborted) {
      let why;
      try {
        if (!(await readOnce())) return;
        why = "the stream ended";
      } catch (error) {
        if (controller.signal.aborted) return;
        why = error.detail ?? error.message;
      }
      onStatus("reconnecting", why);
      await pause(delay, controller.signal);
      delay = Math.min(delay * 2, LONGEST_DELAY_MS);
    }
  }

  run();
  return { stop: () => controller.abort() };
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
