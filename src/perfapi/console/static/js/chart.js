// The KPI chart, drawn by the vendored uPlot (console/vendor/uplot): the series, the
// target pace, the forecast with its band, and anomalies as marks.

const COLORS = {
  actual: "#1d4f91",
  pace: "#2e7d32",
  forecast: "#7b3fa0",
  bandEdge: "rgba(123, 63, 160, 0.45)",
  bandFill: "rgba(123, 63, 160, 0.16)",
  anomaly: "#c62828",
};

const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const exact = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

function shown(value) {
  return value === null || value === undefined ? "–" : exact.format(value);
}

function chartSize(container) {
  const width = Math.max(container.clientWidth, 260);
  return { width, height: width < 600 ? 240 : 320 };
}

/**
 * Draw into `container`. `model` holds aligned arrays over `x` (seconds since the epoch):
 * actual, pace, forecast, lower, upper, anomalies (null where there is nothing).
 * Returns {destroy}.
 */
export function drawKpiChart(container, model) {
  const uPlot = globalThis.uPlot;
  const options = {
    ...chartSize(container),
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1e3), model.tz),
    scales: { x: { time: true } },
    axes: [
      {},
      {
        size: 64,
        label: model.unit ?? undefined,
        values: (plot, splits) => splits.map((v) => compact.format(v)),
      },
    ],
    series: [
      {},
      { label: model.label, stroke: COLORS.actual, width: 2, value: (plot, v) => shown(v) },
      { label: "Target pace", stroke: COLORS.pace, width: 2, dash: [8, 4], value: (plot, v) => shown(v) },
      { label: "Forecast", stroke: COLORS.forecast, width: 2, dash: [3, 3], value: (plot, v) => shown(v) },
      { label: "Forecast low", stroke: COLORS.bandEdge, width: 1, value: (plot, v) => shown(v) },
      { label: "Forecast high", stroke: COLORS.bandEdge, width: 1, value: (plot, v) => shown(v) },
      {
        label: "Anomaly",
        stroke: COLORS.anomaly,
        paths: () => null, // marks only, no line
        points: { show: true, size: 11, width: 2, stroke: COLORS.anomaly, fill: "#ffffff" },
        value: (plot, v) => shown(v),
      },
    ],
    // The forecast band: filled between the high (5) and the low (4) edge.
    bands: [{ series: [5, 4], fill: COLORS.bandFill }],
  };
  const data = [model.x, model.actual, model.pace, model.forecast, model.lower, model.upper, model.anomalies];
  const plot = new uPlot(options, data, container);
  const observer = new ResizeObserver(() => plot.setSize(chartSize(container)));
  observer.observe(container);
  return {
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}
