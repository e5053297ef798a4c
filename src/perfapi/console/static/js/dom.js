// Building the page from API data: every string becomes a text node, never markup.

/**
 * An element with attributes and children. Strings and numbers become text nodes;
 * null, undefined and false children are skipped, arrays are flattened.
 * Attributes: `on<Event>` functions become listeners, `dataset` an object of data-*,
 * true/false toggle boolean attributes, anything else is set as given.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A view's main heading: focusable, so navigation can move the focus (and a screen reader) to it. */
export function heading(text) {
  return h("h1", { tabindex: "-1", id: "view-heading" }, text);
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`;
}

const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function number(value, unit) {
  if (value === null || value === undefined) return "–";
  const text = numbers.format(value);
  return unit ? `${text} ${unit}` : text;
}

/** A progress bar with its value written next to it; the label names it for screen readers. */
export function progressBar(value, label) {
  const bar = h("progress", { max: "1", "aria-label": label });
  // Unmeasured shows empty, not indeterminate (which reads as "still loading").
  bar.value = value === null || value === undefined ? 0 : Math.min(Math.max(value, 0), 1);
  return h("span", { class: "progress" }, bar, h("span", { class: "progress-value" }, percent(value)));
}

/** The achieved mark: achieved, not yet, or unmeasured (no progress to judge). */
export function achievedMark(achieved) {
  if (achieved === true) return h("span", { class: "mark achieved" }, "✓ Achieved");
  if (achieved === false) return h("span", { class: "mark open" }, "Not achieved");
  return h("span", { class: "mark unmeasured" }, "Not measured");
}

export function timestamp(iso, timeZone) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  if (timeZone) options.timeZone = timeZone;
  return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
}

/** A bucket's start as its interval reads: a time for hours, a date otherwise. */
export function bucketLabel(iso, interval, timeZone) {
  const options = interval === "hour" ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" };
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone }).format(new Date(iso));
}

/** A list of "term: value" pairs. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))),
  );
}

export function note(text) {
  return h("p", { class: "note" }, text);
}

/** A problem the API answered, inside a view: the detail, in an alert. */
export function problem(error) {
  return h("div", { class: "problem", role: "alert" }, describe(error));
}

const LOCATIONS = new Set(["query", "body", "path", "header"]);

/** What went wrong, as a person reads it: the API's `detail` and its field errors. */
export function describe(error) {
  if (error && typeof error.detail === "string") {
    const fields = (error.errors ?? [])
      .filter((field) => field.message !== error.detail)
      .map((field) => {
        // ["query", "to"] reads as "to": where the field travelled is no help to a person.
        const where = field.loc.filter((part, index) => index > 0 || !LOCATIONS.has(part)).join(".");
        return where ? `${where}: ${field.message}` : field.message;
      });
    return [error.detail, ...fields].join(" ");
  }
  return error?.message ? String(error.message) : String(error);
}

export function dateInput(id, label, value, onChange) {
  const input = h("input", {
    type: "date",
    id,
    value: value ?? "",
    min: "1900-01-01",
    max: "2999-12-31",
    dataset: { key: id },
    onChange: () => onChange(input.value),
  });
  return h("span", { class: "field" }, h("label", { for: id }, label), input);
}

export function select(id, label, options, value, onChange) {
  const element = h(
    "select",
    { id, dataset: { key: id }, onChange: () => onChange(element.value) },
    options.map(([optionValue, text]) =>
      h("option", { value: optionValue, selected: optionValue === value }, text),
    ),
  );
  return h("span", { class: "field" }, h("label", { for: id }, label), element);
}

/** Replace a container's content (skipping null, undefined and false, flattening arrays). */
export function fill(container, ...children) {
  container.replaceChildren();
  append(container, children);
}
