// Sign-in: an API key or a JWT, checked against the API before it is kept.

import { describe, h, heading } from "../dom.js";

export function signInView({ message, onSubmit }) {
  // No `name` on the input: even if a script failed, the browser could not submit the
  // key as form data (and never into a URL).
  const input = h("input", {
    id: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help",
  });
  const button = h("button", { type: "submit" }, "Sign in");
  const error = h("div", { class: "problem", role: "alert", hidden: true });
  const status = h("p", { class: "note", role: "status" }, message ?? "");
  const form = h(
    "form",
    {
      method: "post",
      class: "sign-in",
      onSubmit: async (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        button.disabled = true;
        error.hidden = true;
        try {
          await onSubmit(token);
        } catch (failure) {
          error.textContent = describe(failure);
          error.hidden = false;
          input.focus();
        } finally {
          button.disabled = false;
        }
      },
    },
    h("label", { for: "token" }, "API key or JWT"),
    input,
    h(
      "p",
      { id: "token-help", class: "help" },
      "A key perfapi printed on its first start (or one from `perfapi keys create`), or a " +
        "JWT from your identity provider. It is kept in this tab only, and forgotten when " +
        "you sign out or close the tab.",
    ),
    button,
    error,
  );
  return h(
    "section",
    { class: "sign-in-view", "aria-labelledby": "view-heading" },
    heading("Sign in"),
    status,
    form,
  );
}
