// One KPI: its series chart (interval, time zone, dimension filter), the target pace,
// the forecast band and anomaly marks, and its attainment against the current target.
// API: GET /v1/kpis/{id}, /series, /targets, /attainment, /forecast, /anomalies, and
// /points (a page of raw points, to offer the dimensions there are to filter by).

import { get, listAll, optional, path } from "../api.js";
import { drawKpiChart } from "../chart.js";
import {
  bucketLabel,
  dateInput,
  describe,
  facts,
  fill,
  h,
  note,
  number,
  percent,
  problem,
  select,
} from "../dom.js";
import { currentRoute, go, withParams } from "../route.js";
import { STATUS_TEXT } from "./kpi-list.js";
import { addDays, asOfParam, asOfText, todayIso, viewShell } from "./shell.js";

const INTERVALS = ["hour", "day", "week", "month", "quarter", "year"];
// Forecasts and anomalies are computed per day, week or month only.
const FORECAST_HORIZON = { day: 14, week: 8, month: 3 };
// How far back the chart reaches by default: a readable number of buckets.
const DEFAULT_SPAN_DAYS = { hour: 7, day: 90, week: 364, month: 730, quarter: 1095, year: 1826 };
const DAY_SECONDS = 86400;

function settings() {
  const { params } = currentRoute();
  const interval = params.get("interval") ?? "day";
  const to = params.get("to") ?? addDays(asOfParam() ?? todayIso(), 1);
  return {
    interval,
    tz: params.get("tz") ?? "UTC",
    to,
    from: params.get("from") ?? addDays(to, -(DEFAULT_SPAN_DAYS[interval] ?? 90)),
    dimensions: Object.fromEntries([...params].filter(([name]) => name.startsWith("dim."))),
  };
}

function timeZones(current) {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return [...new Set(["UTC", browser, current, ...zones])].filter(Boolean);
}

export function kpiView(id) {
  const chosen = settings();
  const change = (name) => (value) => go(withParams({ [name]: value }));
  const dimensionControls = h("span", { class: "dimension-controls" });
  const controls = h(
    "form",
    { class: "controls", "aria-label": "Chart settings", onSubmit: (event) => event.preventDefault() },
    select(
      "interval",
      "Interval",
      INTERVALS.map((name) => [name, name]),
      chosen.interval,
      change("interval"),
    ),
    select(
      "tz",
      "Time zone",
      timeZones(chosen.tz).map((zone) => [zone, zone]),
      chosen.tz,
      change("tz"),
    ),
    dateInput("from", "From", chosen.from, change("from")),
    dateInput("to", "To (exclusive)", chosen.to, change("to")),
    dimensionControls,
  );
  const shell = viewShell("KPI", controls);
  let chart = null;
  return {
    title: "KPI",
    ...shell,
    dispose: () => chart?.destroy(),
    async load(signal) {
      const { interval, tz, from, to, dimensions } = settings();
      const asOf = asOfParam();
      const range = { from, to, interval, tz, ...dimensions };
      const forecastable = interval in FORECAST_HORIZON;
      // The forecast continues the chart only when the chart reaches as_of.
      const withForecast = forecastable && to >= (asOf ?? todayIso());
      const [kpi, series, targets, attainment, forecast, anomalies, sample] = await Promise.all([
        get(path`v1/kpis/${id}`, {}, signal),
        get(path`v1/kpis/${id}/series`, range, signal),
        listAll(path`v1/kpis/${id}/targets`, {}, signal),
        optional(get(path`v1/kpis/${id}/attainment`, { as_of: asOf }, signal)),
        withForecast
          ? optional(
              get(
                path`v1/kpis/${id}/forecast`,
                { interval, tz, as_of: asOf, horizon: FORECAST_HORIZON[interval], ...dimensions },
                signal,
              ),
            )
          : null,
        forecastable ? optional(get(path`v1/kpis/${id}/anomalies`, { ...range, as_of: asOf }, signal)) : null,
        optional(get(path`v1/kpis/${id}/points`, { from, to, limit: 500 }, signal)),
      ]);
      shell.setHeading(kpi.name);
      shell.clearStatus();
      fillDimensionControls(dimensionControls, sample.value?.items ?? [], dimensions);
      const model = chartModel(kpi, series, targets, forecast?.value, anomalies?.value, tz);
      const figure = h("figure", { class: "chart" });
      chart?.destroy();
      fill(
        shell.body,
        h("p", { class: "summary" }, describeKpi(kpi)),
        figure,
        notes(interval, forecast, anomalies, withForecast),
        anomalyList(anomalies?.value, kpi, interval, tz),
        dataTable(model, kpi, interval, tz),
        attainmentSection(attainment, kpi),
      );
      // The canvas says nothing to a screen reader: the caption names it, and the table
      // under it holds the numbers.
      const plotArea = h("div", { class: "plot", role: "img", "aria-labelledby": "chart-caption" });
      figure.append(
        plotArea,
        h("figcaption", { id: "chart-caption" }, chartLabel(kpi, model, interval, from, to)),
      );
      chart = drawKpiChart(plotArea, model);
    },
  };
}

function describeKpi(kpi) {
  const parts = [
    kpi.key,
    kpi.unit ? `in ${kpi.unit}` : null,
    `${kpi.aggregation} per bucket`,
    kpi.direction.replaceAll("_", " "),
  ];
  return parts.filter(Boolean).join(" · ");
}

function chartLabel(kpi, model, interval, from, to) {
  const anomalies = model.anomalies.filter((value) => value !== null).length;
  return (
    `${kpi.name} per ${interval} from ${from} to ${to}` +
    `${model.hasPace ? ", with the target pace" : ""}` +
    `${model.hasForecast ? ", a forecast band" : ""}` +
    ` and ${anomalies} ${anomalies === 1 ? "anomaly" : "anomalies"} marked.`
  );
}

/** Seconds since the epoch, as uPlot's x values. */
function seconds(iso) {
  return Date.parse(iso) / 1000;
}

/** Every series, forecast and anomaly bucket on one time axis. */
export function chartModel(kpi, series, targets, forecast, anomalies, tz) {
  const buckets = new Map();
  const at = (start) => {
    const x = seconds(start);
    if (!buckets.has(x))
      buckets.set(x, { actual: null, forecast: null, lower: null, upper: null, anomaly: null });
    return buckets.get(x);
  };
  for (const bucket of series.buckets) at(bucket.start).actual = bucket.value;
  for (const bucket of forecast?.buckets ?? []) {
    Object.assign(at(bucket.start), { forecast: bucket.value, lower: bucket.lower, upper: bucket.upper });
  }
  for (const item of anomalies?.items ?? []) at(item.start).anomaly = item.value;
  const x = [...buckets.keys()].sort((a, b) => a - b);
  const pace = targetPace(kpi, targets, x);
  const column = (name) => x.map((key) => buckets.get(key)[name]);
  return {
    label: kpi.name,
    unit: kpi.unit,
    tz,
    x,
    actual: column("actual"),
    pace,
    forecast: column("forecast"),
    lower: column("lower"),
    upper: column("upper"),
    anomalies: column("anomaly"),
    hasPace: pace.some((value) => value !== null),
    hasForecast: (forecast?.buckets ?? []).length > 0,
  };
}

/**
 * The target per bucket. A sum or count target is spread evenly over its period, so a
 * bucket's share is target × bucket length / period length; an average, minimum,
 * maximum or last value is the target itself.
 */
export function targetPace(kpi, targets, x) {
  const spread = kpi.aggregation === "sum" || kpi.aggregation === "count";
  return x.map((start, index) => {
    const target = targets.find(
      (t) =>
        seconds(`${t.period_start}T00:00:00Z`) <= start &&
        start < seconds(`${t.period_end}T00:00:00Z`) + DAY_SECONDS,
    );
    if (!target) return null;
    if (!spread) return target.value;
    const next = x[index + 1] ?? start + (index > 0 ? start - x[index - 1] : DAY_SECONDS);
    const period =
      seconds(`${target.period_end}T00:00:00Z`) + DAY_SECONDS - seconds(`${target.period_start}T00:00:00Z`);
    return (target.value * (next - start)) / period;
  });
}

function notes(interval, forecast, anomalies, withForecast) {
  const lines = [];
  if (!(interval in FORECAST_HORIZON)) {
    lines.push(
      note(`Forecasts and anomalies are computed per day, week or month; this chart is per ${interval}.`),
    );
  } else if (!withForecast) {
    lines.push(note("The forecast is shown when the chart reaches the as_of date."));
  }
  if (forecast?.error) lines.push(h("p", { class: "note" }, "No forecast: ", describe(forecast.error)));
  if (anomalies?.error) lines.push(h("p", { class: "note" }, "No anomalies: ", describe(anomalies.error)));
  return lines.length ? h("div", { class: "chart-notes" }, lines) : null;
}

function anomalyList(anomalies, kpi, interval, tz) {
  if (!anomalies || anomalies.items.length === 0) return null;
  return h(
    "section",
    { "aria-labelledby": "anomalies-heading" },
    h("h2", { id: "anomalies-heading" }, "Anomalies"),
    h(
      "ul",
      { class: "plain-list anomalies" },
      anomalies.items.map((item) =>
        h(
          "li",
          {},
          h("time", { datetime: item.start }, bucketLabel(item.start, interval, tz)),
          `: ${number(item.value, kpi.unit)}, ${item.direction} the expected ${number(item.expected, kpi.unit)} ` +
            `(range ${number(item.lower)} to ${number(item.upper)})`,
        ),
      ),
    ),
  );
}

function dataTable(model, kpi, interval, tz) {
  const format = (value) => number(value);
  return h(
    "details",
    { class: "chart-data" },
    h("summary", {}, "Chart data as a table"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, `${kpi.name}: chart data`),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Bucket", "Value", "Target pace", "Forecast", "Forecast range", "Anomaly"].map((name) =>
              h("th", { scope: "col" }, name),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          model.x.map((x, i) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, bucketLabel(new Date(x * 1000).toISOString(), interval, tz)),
              h("td", {}, format(model.actual[i])),
              h("td", {}, format(model.pace[i])),
              h("td", {}, format(model.forecast[i])),
              h(
                "td",
                {},
                model.lower[i] === null ? "–" : `${format(model.lower[i])} to ${format(model.upper[i])}`,
              ),
              h("td", {}, model.anomalies[i] === null ? "" : "anomaly"),
            ),
          ),
        ),
      ),
    ),
  );
}

function attainmentSection(attainment, kpi) {
  let content;
  if (attainment.error) {
    content = attainment.error.status === 404 ? note(describe(attainment.error)) : problem(attainment.error);
  } else {
    const a = attainment.value;
    const outlook = a.outlook;
    content = facts([
      ["Period", `${a.period_start} to ${a.period_end}`],
      ["Target", number(a.target, kpi.unit)],
      ["Actual", number(a.actual, kpi.unit)],
      ["Expected to date", number(a.expected_to_date, kpi.unit)],
      ["Pace", a.pace === null ? "–" : percent(a.pace)],
      ["Status", h("span", { class: `status status-${a.status}` }, STATUS_TEXT[a.status] ?? a.status)],
      ["Forecast at period end", number(a.forecast, kpi.unit)],
      [
        "Chance the target is met",
        outlook
          ? `${percent(outlook.probability)} (expected ${number(outlook.value, kpi.unit)}, ${number(outlook.lower)} to ${number(outlook.upper)})`
          : "–",
      ],
    ]);
  }
  return h(
    "section",
    { "aria-labelledby": "attainment-heading" },
    h("h2", { id: "attainment-heading" }, `Attainment, ${asOfText()}`),
    content,
  );
}

function fillDimensionControls(container, points, chosen) {
  const values = new Map();
  for (const point of points) {
    for (const [name, value] of Object.entries(point.dimensions ?? {})) {
      if (!values.has(name)) values.set(name, new Set());
      values.get(name).add(value);
    }
  }
  for (const name of Object.keys(chosen)) {
    const dimension = name.slice(4);
    if (!values.has(dimension)) values.set(dimension, new Set());
    values.get(dimension).add(chosen[name]);
  }
  container.replaceChildren(
    ...[...values.keys()]
      .sort()
      .map((dimension, index) =>
        select(
          `dimension-${index}`,
          dimension,
          [["", `every ${dimension}`], ...[...values.get(dimension)].sort().map((value) => [value, value])],
          chosen[`dim.${dimension}`] ?? "",
          (value) => go(withParams({ [`dim.${dimension}`]: value })),
        ),
      ),
  );
}
