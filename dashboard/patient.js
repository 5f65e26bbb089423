// A patient's series of sessions (GET /api/patients/{ref}), as the prescriber
// compares them: a row per session, linking to its page, and charts across
// the series of how far BP and HR rose over baseline and how deep sedation
// and dissociation went. The x axis is the session's number in the series.
"use strict";

const patientRef = new URL(location.href).searchParams.get("ref");

function signed(x) { return `${x > 0 ? "+" : ""}${x}`; }

// A cell of two lines: the figure, and a muted line under it.
function twoLines(main, under) {
  const cell = document.createDocumentFragment();
  cell.append(main);
  if (under) {
    const small = document.createElement("span");
    small.className = "under";
    small.textContent = under;
    cell.append(small);
  }
  return cell;
}

function peakCell(peak) {
  return peak ? twoLines(`${signed(peak.change)} (${peak.peak})`, `at ${peak.min_after_start} min`) : "—";
}

function doseCell(s) {
  if (!s.plan) return "no plan";
  const given = s.given_mg === null ? "none given" : `${s.given_mg} mg given`;
  return twoLines(`${s.plan.dose_mg_per_kg} mg/kg`, `${given} of ${s.plan.total_mg} mg`);
}

function scoreText(score) { return score ? `${SCALE_NAMES[score.scale]} ${score.value}` : "—"; }

// Alarms by priority, shape and word, leaving out the priorities with none.
function alarmsCell(alarms) {
  const raised = ["high", "medium", "low"].filter((p) => alarms[p]);
  if (!raised.length) return "none";
  const cell = document.createDocumentFragment();
  cell.append(...raised.map((p) => {
    const line = document.createElement("span");
    line.className = "count";
    line.dataset.priority = p;
    line.textContent = `${ALARM_SHAPES[p]} ${alarms[p]} ${p}`;
    return line;
  }));
  return cell;
}

function adverseText(events) {
  return events.length ? events.map((e) => `${ADVERSE_KINDS[e.kind]} (${e.severity})`).join("; ") : "none";
}

function day(ms) { return ms ? new Date(ms).toLocaleDateString([], { day: "numeric", month: "short", year: "numeric" }) : "—"; }

function renderTable(sessions) {
  document.getElementById("series").replaceChildren(...sessions.map((s, i) => {
    const tr = document.createElement("tr");
    tr.dataset.sessionId = s.session_id;
    const link = document.createElement("a");
    link.href = `/session?id=${encodeURIComponent(s.session_id)}`;
    link.textContent = day(s.started_ms);
    const texts = [String(i + 1), link, doseCell(s), peakCell(s.peaks.sbp), peakCell(s.peaks.dbp),
      peakCell(s.peaks.hr), alarmsCell(s.alarms), scoreText(s.lowest_sedation), scoreText(s.peak_dissociation),
      adverseText(s.adverse_events), s.min_to_fit_to_leave === null ? "—" : `${s.min_to_fit_to_leave} min`];
    tr.replaceChildren(...texts.map((text) => {
      const td = document.createElement("td");
      td.append(text);
      return td;
    }));
    return tr;
  }));
}

// x: the session's number, one tick per session, labelled with its date.
function sessionAxis(sessions) {
  return {
    label: "session (number and date)",
    splits: () => sessions.map((_, i) => i + 1),
    values: (u, splits) => splits.map((n) => `#${n} ${day(sessions[n - 1].started_ms)}`),
  };
}

function seriesChart(id, sessions, lines, axes) {
  const element = document.getElementById(id);
  const data = [sessions.map((_, i) => i + 1), ...lines.map((line) => sessions.map(line.value))];
  new uPlot({
    width: Math.max(480, element.clientWidth), height: 300, legend: { live: false },
    scales: { x: { time: false, range: [0.5, sessions.length + 0.5] }, ...Object.fromEntries(axes.map((a) => [a.scale, { range: a.range }])) },
    axes: [sessionAxis(sessions), ...axes.map((a, i) => ({ scale: a.scale, label: a.label, side: i ? 1 : 3, grid: { show: i === 0 } }))],
    series: [{ label: "session" }, ...lines.map((line) => ({
      label: line.label, stroke: line.colour, scale: line.scale, width: 2, dash: line.dash,
      spanGaps: true, points: { show: true, size: 9, fill: line.colour } }))],
  }, data, element);
}

// A range that holds the values and zero, with a little room.
function around(values, least) {
  const known = values.filter((v) => v !== null && v !== undefined);
  const low = Math.min(0, ...known);
  const high = Math.max(least, ...known);
  return [Math.floor(low - 2), Math.ceil(high + 2)];
}

function drawCharts(sessions, vitals) {
  const change = (vital) => (s) => (s.peaks[vital] ? s.peaks[vital].change : null);
  const pressures = sessions.flatMap((s) => [change("sbp")(s), change("dbp")(s)]);
  seriesChart("chart-peaks", sessions, [
    { label: "SBP change mmHg", value: change("sbp"), colour: vitals.sbp.colour, scale: "mmHg" },
    { label: "DBP change mmHg", value: change("dbp"), colour: vitals.dbp.colour, scale: "mmHg", dash: [8, 4] },
    { label: "HR change /min", value: change("hr"), colour: vitals.hr.colour, scale: "/min", dash: [2, 3] },
  ], [
    { scale: "mmHg", label: "BP over baseline (mmHg)", range: around(pressures, 20) },
    { scale: "/min", label: "HR over baseline (/min)", range: around(sessions.map(change("hr")), 20) },
  ]);
  const sedation = sessions.map((s) => s.lowest_sedation).find(Boolean)?.scale ?? "moaas";
  const dissociation = sessions.map((s) => s.peak_dissociation).find(Boolean)?.scale ?? "cadss6";
  const score = (key) => (s) => (s[key] ? s[key].value : null);
  seriesChart("chart-scores", sessions, [
    { label: `lowest ${SCALE_NAMES[sedation]}`, value: score("lowest_sedation"), colour: "#7c3aed", scale: sedation },
    { label: `peak ${SCALE_NAMES[dissociation]}`, value: score("peak_dissociation"), colour: "#0f766e", scale: dissociation, dash: [8, 4] },
  ], [
    { scale: sedation, label: `lowest ${SCALE_NAMES[sedation]} (${SCALE_RANGES[sedation].join(" to ")})`, range: SCALE_RANGES[sedation] },
    { scale: dissociation, label: `peak ${SCALE_NAMES[dissociation]} (${SCALE_RANGES[dissociation].join(" to ")})`, range: SCALE_RANGES[dissociation] },
  ]);
}

signIn().then(async (who) => {
  showUser(who);
  document.getElementById("title").textContent = `Patient ${patientRef}`;
  document.getElementById("page").hidden = false;
  try {
    const [series, registry] = await Promise.all([api(`/api/patients/${encodeURIComponent(patientRef)}`), api("/api/vitals")]);
    renderTable(series.sessions);
    drawCharts(series.sessions, Object.fromEntries(registry.vitals.map((v) => [v.name, v])));
  } catch (error) {
    const problem = document.getElementById("series-error");
    problem.textContent = sentence(error.message);
    problem.hidden = false;
  }
});
