// The session page's charts (uPlot), one clock-time axis for all of them:
// HR with SpO2 and RR with EtCO2 (each vital on its own y-axis, labelled with
// its unit in its colour), then the spot values (BP, temperature) as points
// on one axis. Behind the values, the phases as bands, named above the plot;
// over them, the limits in force (an absolute one across the chart, one
// relative to the baseline from the infusion's start, when the baseline was
// fixed) and a marker where each alarm was raised. The key under each chart
// names them, outside the plot area.
//
// uPlot's time axis is in seconds: every time here is seconds since 1970.
"use strict";

const PHASE_BANDS = { baseline: "#eceef1", infusion: "#fdf0c4", observation: "#dce9fb" };
// A limit line is in its vital's colour (which axis it belongs to), its priority in its style.
const LIMIT_STYLES = {
  high: { width: 2, dash: [], line: "solid" }, medium: { width: 1.5, dash: [8, 4], line: "dashed" },
  low: { width: 1.5, dash: [2, 3], line: "dotted" },
};
const ALARM_COLOURS = { high: "#b91c1c", medium: "#b45309", low: "#0e7490" };
const SYMBOLS = { ">": ">", ">=": "≥", "<": "<", "<=": "≤" };
const LEAST_SPAN_S = 10 * 60;  // a new session, or one BP point, is drawn over 10 minutes
const GAP_S = 10;              // a continuous trace breaks where no value came for this long
const MINUTE_STEPS_S = [60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
const BAND_LABEL_PX = 18;      // the strip above the plot that names the phases

const charts = {};             // element id -> uPlot, for each chart shown
const shown = { session: null, limits: [], alarms: [], span: [0, 1] };

// The charts: continuous vitals two a chart, spot values as the registry groups them.
function chartPanels(registry, byName) {
  return registry.charts.flatMap((spec) => {
    const vitals = spec.vitals.map((name) => byName[name]);
    if (!vitals.every((v) => v.continuous)) return [{ id: `chart-${spec.key}`, title: spec.title, vitals, spot: true }];
    const pairs = [];
    for (let i = 0; i < vitals.length; i += 2) {
      const pair = vitals.slice(i, i + 2);
      pairs.push({ id: `chart-${pair.map((v) => v.name).join("-")}`, title: pair.map((v) => v.label).join(" and "), vitals: pair, spot: false });
    }
    return pairs;
  });
}

function addChartCards(panels) {
  const place = document.getElementById("charts");
  for (const panel of panels) {
    const card = document.createElement("section");
    card.className = "card";
    const heading = document.createElement("h2");
    heading.textContent = panel.title + (panel.spot ? " (each point one measurement)" : "");
    const element = document.createElement("div");
    element.id = panel.id;
    const key = document.createElement("ul");
    key.className = "chart-key";
    key.dataset.chart = panel.id;
    card.append(heading, element, key);
    place.append(card);
  }
}

// From the session's start (or first value) to its end, or now, at least LEAST_SPAN_S.
function timeSpan(session, readings) {
  const times = readings.length ? [Date.parse(readings[0].ts), Date.parse(readings.at(-1).ts)] : [];
  const start = Math.min(...Object.values(session.phase_started_ms), ...times) / 1000;
  const end = Math.max(session.phase_started_ms.ended ?? Date.now(), ...times) / 1000;
  return [start, Math.max(end, start + LEAST_SPAN_S)];
}

// [t, ...one column per vital]; a continuous panel's traces break at gaps.
function columns(readings, panel) {
  const names = panel.vitals.map((v) => v.name);
  const out = [[], ...names.map(() => [])];
  for (const r of readings) {
    if (!names.some((name) => r.vitals[name] !== undefined)) continue;
    const t = Date.parse(r.ts) / 1000;
    if (!panel.spot && out[0].length && t - out[0].at(-1) > GAP_S) {
      out[0].push(out[0].at(-1) + 1);
      names.forEach((_, i) => out[i + 1].push(null));
    }
    out[0].push(t);
    names.forEach((name, i) => out[i + 1].push(r.vitals[name] ?? null));
  }
  return out;
}

// Limits drawn as lines: those with a value (absolute ones always, relative ones once there is a baseline).
function drawnLimits(vitals) {
  const names = vitals.map((v) => v.name);
  return shown.limits.filter((l) => names.includes(l.vital) && l.limit !== null);
}

// The values and the limits within the vitals' usual range, with a margin.
function valueRange(vitals, values) {
  const usual = [Math.min(...vitals.map((v) => v.chart_range[0])), Math.max(...vitals.map((v) => v.chart_range[1]))];
  const seen = drawnLimits(vitals).map((l) => l.limit).filter((x) => x >= usual[0] && x <= usual[1]);
  for (const column of values) for (const x of column) if (x !== null) seen.push(x);
  if (!seen.length) return usual;
  const low = Math.min(...seen);
  const high = Math.max(...seen);
  const margin = Math.max((high - low) * 0.08, 2);
  return [Math.floor(low - margin), Math.ceil(high + margin)];
}

function hhmm(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

function phaseBands(u) {
  const { ctx, bbox } = u;
  const order = ["baseline", "infusion", "observation", "ended"].filter((p) => p in shown.session.phase_started_ms);
  ctx.save();
  ctx.font = `${12 * devicePixelRatio}px system-ui`;
  ctx.textBaseline = "bottom";
  let free = 0;  // where the next phase's name may start without overprinting the last
  order.forEach((phase, i) => {
    if (!PHASE_BANDS[phase]) return;
    const following = order[i + 1];
    const from = Math.max(bbox.left, u.valToPos(shown.session.phase_started_ms[phase] / 1000, "x", true));
    const to = following ? Math.min(bbox.left + bbox.width, u.valToPos(shown.session.phase_started_ms[following] / 1000, "x", true))
      : bbox.left + bbox.width;
    if (to <= from) return;
    ctx.fillStyle = PHASE_BANDS[phase];
    ctx.fillRect(from, bbox.top, to - from, bbox.height);
    ctx.fillStyle = "#374151";
    const at = Math.max(from + 3 * devicePixelRatio, free);
    ctx.fillText(phase, at, bbox.top - 3 * devicePixelRatio);
    free = at + ctx.measureText(phase).width + 8 * devicePixelRatio;
  });
  ctx.restore();
}

function limitLines(u, panel) {
  const { ctx, bbox } = u;
  const right = bbox.left + bbox.width;
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  for (const l of drawnLimits(panel.vitals)) {
    const relative = l.baseline_pct !== null && l.baseline_pct !== undefined;
    const from = relative && shown.session.phase_started_ms.infusion
      ? Math.max(bbox.left, u.valToPos(shown.session.phase_started_ms.infusion / 1000, "x", true)) : bbox.left;
    const y = u.valToPos(l.limit, scaleOf(panel, l.vital), true);
    const style = LIMIT_STYLES[l.priority];
    ctx.strokeStyle = byName[l.vital].colour;
    ctx.lineWidth = style.width * devicePixelRatio;
    ctx.setLineDash(style.dash.map((x) => x * devicePixelRatio));
    ctx.beginPath();
    ctx.moveTo(from, y);
    ctx.lineTo(right, y);
    ctx.stroke();
  }
  ctx.restore();
}

// A triangle where each alarm of the panel's vitals was raised, pointing at its
// onset value from just beyond it (above a high, below a low), in its priority's colour.
function alarmMarkers(u, panel) {
  const { ctx, bbox } = u;
  const size = 7 * devicePixelRatio;
  ctx.save();
  for (const a of shown.alarms.filter((x) => panel.vitals.some((v) => v.name === x.vital))) {
    const scale = u.scales[scaleOf(panel, a.vital)];
    const value = a.onset_value ?? a.value ?? a.limit ?? scale.max;
    const x = u.valToPos(a.raised_ms / 1000, "x", true);
    const low = a.code.endsWith("_low");
    const at = u.valToPos(value, scaleOf(panel, a.vital), true) + (low ? 2 : -2) * size;
    const y = Math.min(Math.max(at, bbox.top + size), bbox.top + bbox.height - size);
    const tip = low ? -size : size;  // the tip towards the value
    ctx.beginPath();
    ctx.moveTo(x, y + tip);
    ctx.lineTo(x - size, y - tip * 0.6);
    ctx.lineTo(x + size, y - tip * 0.6);
    ctx.closePath();
    ctx.fillStyle = ALARM_COLOURS[a.priority];
    ctx.strokeStyle = "#000";
    ctx.lineWidth = devicePixelRatio;
    ctx.fill();
    ctx.stroke();
  }
  ctx.restore();
}

function scaleOf(panel, vital) { return panel.spot ? panel.id : vital; }

function axisLabel(vitals) {
  const units = [...new Set(vitals.map((v) => v.unit))];
  return units.length === 1 ? `${vitals.map((v) => v.label).join(", ")} ${units[0]}` : vitals.map((v) => `${v.label} ${v.unit}`).join(", ");
}

function chartOptions(panel, width) {
  const scales = { x: { time: true, range: () => shown.span } };
  const axes = [{
    label: `Time, ${new Date(shown.span[0] * 1000).toLocaleDateString([], { day: "numeric", month: "short", year: "numeric" })}`,
    values: (u, splits) => splits.map(hhmm), incrs: MINUTE_STEPS_S,
  }];
  const groups = panel.spot ? [panel.vitals] : panel.vitals.map((v) => [v]);
  groups.forEach((group, i) => {
    const scale = scaleOf(panel, group[0].name);
    scales[scale] = { range: (u) => valueRange(group, group.map((v) => u.data[1 + panel.vitals.indexOf(v)])) };
    const colour = group.length === 1 ? group[0].colour : "#1b1f24";
    axes.push({ scale, label: axisLabel(group), stroke: colour, labelFont: "bold 12px system-ui", side: i === 0 ? 3 : 1,
      grid: { show: i === 0 } });
  });
  const points = { paths: () => null, points: { show: true, size: 8 } };
  const series = [{ label: "Time", value: (u, t) => (t === null ? "–" : hhmm(t)) }, ...panel.vitals.map((v) => ({
    label: `${v.label} ${v.unit}`, stroke: v.colour, scale: scaleOf(panel, v.name), width: 1.5,
    ...(panel.spot ? points : { points: { show: false } }) }))];
  return {
    width, height: 240, padding: [BAND_LABEL_PX, null, null, null], scales, axes, series,
    hooks: { drawClear: [phaseBands], draw: [(u) => limitLines(u, panel), (u) => alarmMarkers(u, panel)] },
  };
}

// The key under a chart: phases, each limit drawn, relative limits waiting
// for the baseline, and the alarm marker.
function renderKey(panel) {
  const key = document.querySelector(`.chart-key[data-chart="${panel.id}"]`);
  const items = [];
  const item = (className, swatch, text) => {
    const li = document.createElement("li");
    li.className = className;
    const mark = document.createElement("span");
    mark.className = "swatch";
    Object.assign(mark.style, swatch);
    li.append(mark, text);
    items.push(li);
    return li;
  };
  for (const phase of Object.keys(PHASE_BANDS).filter((p) => p in shown.session.phase_started_ms)) {
    item("phase", { background: PHASE_BANDS[phase] }, phase);
  }
  for (const l of drawnLimits(panel.vitals)) {
    const style = LIMIT_STYLES[l.priority];
    const relative = l.baseline_pct !== null && l.baseline_pct !== undefined;
    const li = item("limit", { borderTop: `${style.width + 0.5}px ${style.line} ${byName[l.vital].colour}` },
      `${byName[l.vital].label} ${SYMBOLS[l.when]} ${l.limit}${relative ? ` (baseline ${l.baseline_pct > 0 ? "+" : ""}${l.baseline_pct} %)` : ""} ${l.priority}`);
    li.dataset.priority = l.priority;
  }
  const waiting = shown.limits.filter((l) => panel.vitals.some((v) => v.name === l.vital) && l.limit === null).length;
  if (waiting) {
    const li = document.createElement("li");
    li.className = "waiting";
    li.textContent = `${waiting} limit${waiting > 1 ? "s" : ""} relative to the baseline apply once it is set (the infusion's start)`;
    items.push(li);
  }
  if (shown.alarms.some((a) => panel.vitals.some((v) => v.name === a.vital))) item("alarm", {}, "▼▲ alarm raised (pointing at its value)");
  key.replaceChildren(...items);
}

function drawCharts(panels, session, readings, limits, alarms) {
  Object.assign(shown, { session, limits, alarms, span: timeSpan(session, readings) });
  for (const panel of panels) {
    const data = columns(readings, panel);
    const element = document.getElementById(panel.id);
    if (charts[panel.id]) {
      charts[panel.id].setData(data);
    } else {
      charts[panel.id] = new uPlot(chartOptions(panel, Math.min(1150, element.clientWidth || 1100)), data, element);
    }
    renderKey(panel);
  }
}
