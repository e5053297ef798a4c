// The public API, as the console calls it: relative URLs (so a proxy prefix works),
// the key in the Authorization header, problem+json turned into ApiError.
//
// GETs use the browser's HTTP cache: perfapi answers `Cache-Control: private, no-cache`
// with an ETag, so a repeated read is revalidated with If-None-Match and a 304 costs
// the server no recomputation.

import { currentToken } from "./session.js";

export class ApiError extends Error {
  constructor(status, detail, errors = []) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = errors;
  }
}

/** A path with each interpolated value URL-encoded: path`v1/kpis/${id}`. */
export function path(strings, ...values) {
  return strings.reduce((built, text, index) => {
    const value = index < values.length ? encodeURIComponent(values[index]) : "";
    return built + text + value;
  }, "");
}

/** The URL of an API path, relative to the page (so it works under a path prefix). */
export function apiUrl(relative, query = {}) {
  const url = new URL(relative, document.baseURI);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  return url;
}

export async function request(method, relative, { query, body, signal, token } = {}) {
  const headers = {
    Accept: "application/json",
    Authorization: `Bearer ${token ?? currentToken() ?? ""}`,
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(relative, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, `The server could not be reached (${error.message}).`);
  }
  if (!response.ok) throw await problemOf(response);
  return response.status === 204 ? null : response.json();
}

export function get(relative, query, signal) {
  return request("GET", relative, { query, signal });
}

export function post(relative, body, signal) {
  return request("POST", relative, { body, signal });
}

/** Every item of a paginated list, following `next_cursor` page by page. */
export async function listAll(relative, query = {}, signal) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(relative, { ...query, limit: 500, cursor }, signal);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** An RFC 9457 problem as an ApiError; anything else by its status. */
export async function problemOf(response) {
  const type = response.headers.get("Content-Type") ?? "";
  if (type.includes("json")) {
    try {
      const body = await response.json();
      if (typeof body.detail === "string") {
        return new ApiError(response.status, body.detail, body.errors ?? []);
      }
      if (typeof body.title === "string") return new ApiError(response.status, body.title);
    } catch {
      // Not JSON after all: fall through to the status line.
    }
  }
  return new ApiError(response.status, `The server answered ${response.status} ${response.statusText}.`);
}

/** The outcome of a request a view can do without: {value} or {error}. */
export async function optional(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    if (error.name === "AbortError") throw error;
    return { error };
  }
}
