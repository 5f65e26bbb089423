// The live board: a snapshot over /ws/board, then deltas. A value older than
// its stale limit, or under a technical alarm, is shown as -?-, never as if
// it were current. Which vitals a tile shows, their units, precision and
// stale limits come from the monitor's vital-sign registry (/api/vitals).
//
// Durations the board shows about a patient (a value's age, time since the
// infusion started, the discharge countdown, the trend's 15 min) are in the
// chairs' time: the monitor's clock times the snapshot's time_scale, which is 1
// but for the demo at --speed. Whether a value is current, and pauses (a
// nurse's two minutes), stay on the monitor's clock, as its stale, overdue
// and offline alarms do.
"use strict";

const RANK = { high: 3, medium: 2, low: 1 };
let registry = null;       // GET /api/vitals: {vitals, cells, charts}
let byName = {};           // vital name -> its registry entry

const beds = new Map();    // "site/bed" -> bed state as in the snapshot
let clockSkewMs = 0;       // server time minus browser time
let timeScale = 1;         // the chairs' seconds per second of the monitor's clock
let me = null;

const board = document.getElementById("board");
const template = document.getElementById("tile");

function key(site, bed) { return `${site}/${bed}`; }

function bedState(site, bed) {
  const k = key(site, bed);
  if (!beds.has(k)) {
    beds.set(k, { site, bed, vitals: {}, flags: {}, alarms: [], session: null, device_state: "unknown" });
  }
  return beds.get(k);
}

function apply(message) {
  switch (message.type) {
    case "snapshot":
      clockSkewMs = message.server_ms - Date.now();
      timeScale = message.time_scale;
      beds.clear();
      for (const b of message.beds) {
        beds.set(key(b.site, b.bed), b);
        if (b.session) loadTrend(b).catch(() => {});
      }
      board.replaceChildren();
      plots.clear();
      break;
    case "reading": {
      const b = bedState(message.site, message.bed);
      const at = Date.parse(message.ts);
      for (const [vital, value] of Object.entries(message.vitals)) b.vitals[vital] = { value, ts_ms: at };
      b.flags = message.flags || {};
      b.device_id = message.device_id;
      b.device_state = "online";
      b.last_received_ms = message.received_ms;
      addTrend(key(b.site, b.bed), at, message.vitals);
      break;
    }
    case "alarm": {
      const b = bedState(message.site, message.bed);
      b.alarms = b.alarms.filter((a) => a.id !== message.id);
      if (message.state !== "cleared") b.alarms.push(message);
      break;
    }
    case "session": {
      const b = bedState(message.site, message.bed);
      b.session = message.phase === "ended" ? null : message;
      if (message.phase === "ended") b.alarms = [];
      break;
    }
    case "device": {
      bedState(message.site, message.bed).device_state = message.state;
      break;
    }
  }
}

function doubtful(b, vital) {
  return b.alarms.some((a) => a.kind === "technical" && (
    a.code === "offline" || a.vital === vital || (a.code === "nibp_overdue" && byName[vital].nibp)));
}

function fresh(b, vital, now, maxAge) {
  const v = b.vitals[vital];
  if (!v || b.flags[vital] || b.device_state === "offline" || doubtful(b, vital)) return null;
  return now - v.ts_ms <= maxAge ? v : null;
}

// A span of the monitor's clock as the chairs' minutes.
function chairMinutes(ms) { return minutes(ms * timeScale); }

function sessionLine(s, now) {
  let text = `${s.patient_ref} · ${s.phase}`;
  if (s.phase_started_ms.infusion) text += ` · ${chairMinutes(now - s.phase_started_ms.infusion)} since start`;
  if (s.warnings && s.warnings.length) text += ` · ⚠ ${s.warnings.join("; ")}`;
  if (s.paused_until_ms && s.paused_until_ms > now) {
    text += ` · ⏸ alarms paused ${Math.ceil((s.paused_until_ms - now) / 1000)} s (a new high alarm still sounds)`;
  }
  if (s.discharge) {
    text += s.discharge.ready ? " · ✓ discharge ready"
      : s.discharge.met_since_ms && s.discharge.remaining_ms !== null ? ` · discharge in ${chairMinutes(s.discharge.remaining_ms)}`
      : ` · not ready: ${s.discharge.reason}`;
  }
  return text;
}

// The phase in a word or two, for the compact tile: "infusion 12 min".
function phaseLine(s, now) {
  return s.phase_started_ms.infusion && s.phase !== "baseline"
    ? `${s.phase} ${chairMinutes(now - s.phase_started_ms.infusion)}` : s.phase;
}

const PUMP_WORDS = { not_started: "infusion not started", running: "infusing", paused: "⏸ paused", stopped: "infusion stopped" };

// Mg with at most one decimal, as the pump shows it ("11.5", "40").
function mg(x) { return String(+x.toFixed(1)); }

// The clinical lines of a session with a plan: the pump against the plan
// (minutes and mg, in the chairs' time), then the next assessment or who
// signed the patient fit to leave. An overdue assessment stands out in
// shape and words, not colour alone.
function renderCare(element, s, now) {
  const lines = [];
  const infusion = s.infusion;
  if (infusion) {
    const pump = document.createElement("span");
    pump.className = "pump";
    pump.dataset.state = infusion.state;
    const elapsed = infusion.elapsed_min === null ? "" : ` ${Math.round(infusion.elapsed_min * timeScale)}/${infusion.planned_min} min`;
    pump.textContent = `${PUMP_WORDS[infusion.state]}${elapsed}`;
    const dose = document.createElement("span");
    dose.className = "dose";
    dose.textContent = `${mg(infusion.given_mg * timeScale)}/${mg(infusion.planned_mg)} mg`;
    const line = document.createElement("span");
    line.append(pump, " · ", dose);
    lines.push(line);
  }
  const next = document.createElement("span");
  if (s.fit_to_leave) {
    next.className = "fit";
    next.textContent = `✓ fit to leave: signed by ${s.fit_to_leave.user}`;
  } else if (s.assessment_overdue) {
    next.className = "assessment overdue";
    next.textContent = "⚠ assessment overdue";
  } else if (s.assessment_due_ms) {
    next.className = "assessment";
    const left = s.assessment_due_ms - now;
    next.textContent = left > 0 ? `assessment due in ${chairMinutes(left)}` : "assessment due now";
  }
  if (next.className) lines.push(next);
  element.replaceChildren(...lines);
  element.hidden = lines.length === 0;
}

function cellVitals(cell) { return cell.vitals.map((name) => byName[name]); }

// A cell per registry cell: label and unit above, the value (spot values with their age).
function addCells(list) {
  for (const cell of registry.cells) {
    const vitals = cellVitals(cell);
    const units = new Set(vitals.map((v) => v.unit));
    const item = document.createElement("div");
    item.dataset.cell = cell.key;
    if (!vitals.some((v) => v.continuous)) item.className = "spot";
    const label = document.createElement("dt");
    label.textContent = cell.title;
    if (units.size === 1) {
      const unit = document.createElement("span");
      unit.className = "unit";
      unit.textContent = ` ${[...units][0]}`;
      label.append(unit);
    }
    const value = document.createElement("dd");
    value.dataset.vital = cell.key;
    item.append(label, value);
    list.append(item);
  }
}

function tileFor(b) {
  const k = key(b.site, b.bed);
  let tile = board.querySelector(`[data-bed="${CSS.escape(k)}"]`);
  if (!tile) {
    tile = template.content.firstElementChild.cloneNode(true);
    tile.dataset.bed = k;
    tile.setAttribute("aria-label", b.site === "system" ? "The monitor's own alarms" : `Chair ${b.bed}`);
    addCells(tile.querySelector(".vitals"));
    if (b.site === "system") tile.classList.add("system");  // the monitor's own technical alarms
    board.append(tile);
    addTrendPlot(tile, k);
  }
  return tile;
}

async function act(path, body) {
  try {
    await api(path, { method: "POST", body: JSON.stringify(body || {}) });
  } catch (error) {
    alert(`Not done: ${error.message}`);
  }
}

function alarmItem(a) {
  const li = document.createElement("li");
  li.dataset.priority = a.priority;
  li.dataset.alarmId = a.id;
  li.dataset.state = a.state;
  const priority = document.createElement("span");
  priority.className = "priority";
  priority.textContent = priorityText(a);
  const label = document.createElement("span");
  label.className = "alarm-text";
  label.textContent = `${alarmText(a, byName)} · ${alarmState(a)}`;
  li.append(priority, label);
  if (me && canAct(me) && a.state !== "acknowledged") {
    const ack = document.createElement("button");
    ack.className = "ack";
    ack.textContent = "Acknowledge";
    ack.onclick = () => act(`/api/alarms/${a.id}/ack`);
    li.append(ack);
    if (a.state === "active") {
      const pause = document.createElement("button");
      pause.className = "pause";
      pause.textContent = "Pause 2 min";
      pause.onclick = () => act(`/api/alarms/${a.id}/pause`, { seconds: 120 });
      li.append(pause);
    }
  }
  return li;
}

// A cell shows its vitals' values joined by "/" (SBP/DBP) only when every one
// of them is current; a spot value carries its age.
function renderVitals(tile, b, now) {
  for (const cell of registry.cells) {
    const element = tile.querySelector(`[data-vital="${CSS.escape(cell.key)}"]`);
    const vitals = cellVitals(cell);
    const values = vitals.map((v) => fresh(b, v.name, now, v.fresh_s * 1000));
    const known = values.every(Boolean);
    element.replaceChildren();
    if (known) {
      element.append(values.map((x, i) => x.value.toFixed(vitals[i].precision)).join("/"));
      if (!vitals.some((v) => v.continuous)) {
        const age = document.createElement("span");
        age.className = "age";
        age.textContent = ` ${chairMinutes(now - Math.min(...values.map((x) => x.ts_ms)))} ago`;
        element.append(age);
      }
    } else {
      element.textContent = "-?-";
    }
    element.classList.toggle("unknown", !known);
  }
}

function render() {
  const now = Date.now() + clockSkewMs;
  // The monitor's own tile first, then the beds in order (for Tab and the arrows).
  const sorted = [...beds.values()].sort((x, y) => (y.site === "system") - (x.site === "system")
    || key(x.site, x.bed).localeCompare(key(y.site, y.bed)));
  let loudest = null;
  let place = 0;
  for (const b of sorted) {
    const k = key(b.site, b.bed);
    if (b.site === "system" && b.alarms.length === 0) {  // the monitor's tile only while it alarms
      board.querySelector(`[data-bed="${CSS.escape(k)}"]`)?.remove();
      plots.get(k)?.destroy();
      plots.delete(k);
      continue;
    }
    const tile = tileFor(b);
    if (board.children[place] !== tile) board.insertBefore(tile, board.children[place] ?? null);
    place += 1;
    tile.dataset.updated = b.last_received_ms ?? "";
    tile.querySelector(".bed").textContent = b.bed;
    tile.querySelector(".phase").textContent = b.session ? phaseLine(b.session, now) : "no session";
    const link = tile.querySelector(".session");
    link.textContent = b.session ? sessionLine(b.session, now) : "no session";
    if (b.session) link.href = `/session?id=${b.session.id}`; else link.removeAttribute("href");
    renderCare(tile.querySelector(".care"), b.session || {}, now);
    tile.querySelector(".open-session").hidden = Boolean(b.session) || b.site === "system" || !me || !canAct(me);
    renderVitals(tile, b, now);
    const alarms = [...b.alarms].sort((x, y) => RANK[y.priority] - RANK[x.priority]);
    const top = alarms.find((a) => a.state === "active") || alarms[0];
    tile.dataset.priority = top ? top.priority : "none";
    tile.dataset.alarmState = top ? top.state : "";
    tile.querySelector(".alarm-label").textContent = top
      ? `${ALARM_WORDS[top.priority]} ${top.kind === "technical" ? "TECHNICAL" : "ALARM"}` : "";
    tile.querySelector(".alarms").replaceChildren(...alarms.map(alarmItem));
    for (const a of alarms) {
      if (a.state === "active" && (!loudest || RANK[a.priority] > RANK[loudest])) loudest = a.priority;
    }
    renderWorst(tile, b);
    renderTrend(tile, k);
  }
  fitBoard();
  renderAlarmBar(now);
  if (loudest) sound.play(loudest);
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => { renderPending = false; render(); }, 50);
}

function setConnection(live) {
  const status = document.getElementById("connection");
  status.dataset.state = live ? "live" : "down";
  status.textContent = live ? "live" : "disconnected";
  document.getElementById("banner").hidden = live;
  document.body.classList.toggle("disconnected", !live);
}

function connect(delayMs = 500) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/board?token=${encodeURIComponent(auth.token())}`);
  socket.onopen = () => { delayMs = 500; };
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    for (const message of Array.isArray(data) ? data : [data]) apply(message);
    setConnection(true);
    scheduleRender();
  };
  socket.onclose = () => {
    setConnection(false);
    setTimeout(() => connect(Math.min(delayMs * 2, 4000)), delayMs);
  };
}

function showSound() {
  const button = document.getElementById("sound");
  if (sound.paused) {
    const left = Math.ceil((sound.pausedUntil - Date.now()) / 1000);
    button.textContent = `Sound paused ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}: resume`;
  } else {
    button.textContent = sound.context ? "Sound is on: pause 2 min" : "Sound on";
  }
  button.setAttribute("aria-pressed", String(sound.on));
  button.dataset.state = sound.paused ? "paused" : sound.context ? "on" : "off";
}

document.getElementById("sound").onclick = async () => {
  if (sound.on) sound.pause(); else await sound.enable();
  showSound();
};
setInterval(showSound, 1000);

signIn().then(async (who) => {
  me = who;
  showUser(me);
  document.body.dataset.role = me.role;
  registry = await api("/api/vitals");
  byName = Object.fromEntries(registry.vitals.map((v) => [v.name, v]));
  setInterval(render, 500);
  connect();
});
