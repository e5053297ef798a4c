// Hash routes: `#/kpis/<id>?interval=week&as_of=2026-06-30`. Ids and view settings live
// in the fragment (never sent to a server); the key never does.

export function currentRoute() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [pathname, query = ""] = raw.split("?", 2);
  const parts = pathname.split("/").filter(Boolean).map(decoded);
  return { pathname, parts, params: new URLSearchParams(query) };
}

function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a malformed escape: the API answers for the id as it is
  }
}

export function href(pathname, params = new URLSearchParams()) {
  const query = params.toString();
  return `#${pathname}${query ? `?${query}` : ""}`;
}

/** The same view with some settings changed (empty values removed). */
export function withParams(changes) {
  const { pathname, params } = currentRoute();
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined || value === null || value === "") params.delete(name);
    else params.set(name, value);
  }
  return href(pathname, params);
}

/** A link to another view that keeps the as_of being looked at. */
export function linkTo(pathname) {
  const asOf = currentRoute().params.get("as_of");
  const params = new URLSearchParams();
  if (asOf) params.set("as_of", asOf);
  return href(pathname, params);
}

export function go(target) {
  if (location.hash !== target) location.hash = target;
}
