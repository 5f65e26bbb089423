// The board tiles' 15-min HR/SpO2 trend: a session's last 15 min are
// fetched once, then each reading is added. The 15 min are the chairs' (see
// board.js on time_scale); uses board.js's globals (byName, key, clockSkewMs,
// timeScale).
"use strict";

const TREND_MS = 15 * 60 * 1000;
// The trend's scale per trace: the values' own range, at least this wide.
const TREND_SCALES = { hr: { span: 20, idle: [40, 140], ceiling: Infinity }, spo2: { span: 4, idle: [80, 100], ceiling: 100 } };
const trends = new Map();  // "site/bed" -> {t: [], hr: [], spo2: []} (seconds)
const plots = new Map();   // "site/bed" -> uPlot

function trendOf(k) {
  if (!trends.has(k)) trends.set(k, { t: [], hr: [], spo2: [] });
  return trends.get(k);
}

function addTrend(k, atMs, vitals) {
  if (vitals.hr === undefined && vitals.spo2 === undefined) return;
  const trend = trendOf(k);
  trend.t.push(atMs / 1000);
  trend.hr.push(vitals.hr ?? null);
  trend.spo2.push(vitals.spo2 ?? null);
  const oldest = (Date.now() + clockSkewMs - TREND_MS / timeScale) / 1000;
  while (trend.t.length && trend.t[0] < oldest) {
    trend.t.shift(); trend.hr.shift(); trend.spo2.shift();
  }
}

async function loadTrend(b) {
  const since = Date.now() + clockSkewMs - TREND_MS / timeScale;
  const { readings } = await api(`/api/sessions/${b.session.id}/vitals?from=${Math.round(since)}`);
  const k = key(b.site, b.bed);
  trends.set(k, { t: [], hr: [], spo2: [] });
  for (const r of readings) addTrend(k, Date.parse(r.ts), r.vitals);
}

// The tile's trend: HR and SpO2, each on its own scale, with no axes.
function addTrendPlot(tile, k) {
  const scales = { x: { time: true } };
  for (const [vital, { idle }] of Object.entries(TREND_SCALES)) {
    const scale = tile.querySelector(`.scale[data-trend="${vital}"]`);
    scale.style.color = byName[vital].colour;
    scale.querySelector(".name").textContent = `${byName[vital].label} ${byName[vital].unit}`;
    scales[vital] = { range: () => trendRange(trendOf(k)[vital], vital) ?? idle };
  }
  plots.set(k, new uPlot({
    width: 190, height: 56, legend: { show: false }, cursor: { show: false },
    axes: [{ show: false }, { show: false }], scales,
    series: [{}, { stroke: byName.hr.colour, scale: "hr", width: 1.5, points: { show: false } },
      { stroke: byName.spo2.colour, scale: "spo2", width: 1.5, points: { show: false } }],
  }, [[], [], []], tile.querySelector(".trend")));
}

// A trace's scale: its values' own range, widened about the middle to the
// vital's minimum span (a steady patient's noise is not drawn as a swing) and
// kept under its ceiling (SpO2 100 %), in whole units; null while it has no values.
function trendRange(values, vital) {
  const known = values.filter((v) => v !== null);
  if (!known.length) return null;
  const { span, ceiling } = TREND_SCALES[vital];
  const low = Math.min(...known);
  const high = Math.max(...known);
  const widen = Math.max(0, span - (high - low)) / 2;
  const over = Math.max(0, Math.ceil(high + widen) - ceiling);
  return [Math.floor(low - widen) - over, Math.ceil(high + widen) - over];
}

// The top and bottom of each trace's scale beside the trend, in its colour.
function renderTrend(tile, k) {
  const trend = trendOf(k);
  plots.get(k).setData([trend.t, trend.hr, trend.spo2]);
  for (const vital of Object.keys(TREND_SCALES)) {
    const range = trendRange(trend[vital], vital);
    const scale = tile.querySelector(`.scale[data-trend="${vital}"]`);
    scale.classList.toggle("empty", !range);
    scale.querySelector(".max").textContent = range ? range[1] : "";
    scale.querySelector(".min").textContent = range ? range[0] : "";
  }
}
