// The caller's API key or JWT: in this tab's sessionStorage only (never a URL, never a
// cookie), so it is gone when the tab closes or the user signs out.

const STORAGE_KEY = "perfapi.console.token";

export function currentToken() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function remember(token) {
  sessionStorage.setItem(STORAGE_KEY, token);
}

export function forget() {
  sessionStorage.removeItem(STORAGE_KEY);
}
