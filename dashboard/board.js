// The live board: a snapshot over /ws/board, then deltas. A value older than
// STALE_MS is shown as -?-, never as if it were current.
"use strict";

const STALE_MS = { hr: 10000, spo2: 10000, rr: 10000, etco2: 10000 };
const BP_STALE_MS = 15 * 60 * 1000;
const RANK = { high: 3, medium: 2, low: 1 };
const beds = new Map();   // "site/bed" -> bed state as in the snapshot
let clockSkewMs = 0;      // server time minus browser time

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
      beds.clear();
      for (const b of message.beds) beds.set(key(b.site, b.bed), b);
      board.replaceChildren();
      break;
    case "reading": {
      const b = bedState(message.site, message.bed);
      const at = Date.parse(message.ts);
      for (const [vital, value] of Object.entries(message.vitals)) b.vitals[vital] = { value, ts_ms: at };
      b.flags = message.flags || {};
      b.device_id = message.device_id;
      b.device_state = "online";
      b.last_received_ms = message.received_ms;
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
      const b = bedState(message.site, message.bed);
      b.device_state = message.state;
      break;
    }
  }
}

function tileFor(b) {
  const id = `tile-${b.site}-${b.bed}`;
  let tile = document.getElementById(id);
  if (!tile) {
    tile = template.content.firstElementChild.cloneNode(true);
    tile.id = id;
    tile.dataset.bed = key(b.site, b.bed);
    board.append(tile);
  }
  return tile;
}

const BP_GROUP = ["sbp", "dbp", "map"];

function doubtful(b, vital) {
  // A technical alarm on the vital (stale, sensor off, implausible) or on the device.
  return b.alarms.some((a) => a.kind === "technical" && (
    a.code === "offline" || a.vital === vital || (a.code === "nibp_overdue" && BP_GROUP.includes(vital))));
}

function fresh(b, vital, now, maxAge) {
  const v = b.vitals[vital];
  if (!v || b.flags[vital] || b.device_state === "offline" || doubtful(b, vital)) return null;
  return now - v.ts_ms <= maxAge ? v : null;
}

function sessionLine(s, now) {
  let text = `${s.patient_ref} · ${s.phase}`;
  if (s.phase_started_ms.infusion) text += ` · ${minutes(now - s.phase_started_ms.infusion)} since start`;
  if (s.warnings && s.warnings.length) text += ` · ⚠ ${s.warnings.join("; ")}`;
  if (s.discharge) {
    text += s.discharge.ready ? " · ✓ discharge ready"
      : s.discharge.met_since_ms ? ` · discharge in ${minutes(s.discharge.remaining_ms)}`
      : ` · not ready: ${s.discharge.reason}`;
  }
  return text;
}

function alarmState(a) {
  if (a.state === "acknowledged") return `acknowledged by ${a.acknowledged_by}`;
  if (a.state === "paused") return "paused";
  return a.condition_present === false ? "latched: acknowledge" : "ACTIVE";
}

function minutes(ms) { return `${Math.max(0, Math.round(ms / 60000))} min`; }

function render() {
  const now = Date.now() + clockSkewMs;
  const sorted = [...beds.values()].sort((a, b) => key(a.site, a.bed).localeCompare(key(b.site, b.bed)));
  for (const b of sorted) {
    const tile = tileFor(b);
    tile.querySelector(".bed").textContent = `${b.bed}`;
    const s = b.session;
    tile.querySelector(".session").textContent = s ? sessionLine(s, now) : "no session";
    for (const vital of ["hr", "spo2", "rr", "etco2"]) {
      const cell = tile.querySelector(`[data-vital="${vital}"]`);
      const v = fresh(b, vital, now, STALE_MS[vital]);
      cell.textContent = v ? Math.round(v.value) : "-?-";
      cell.classList.toggle("unknown", !v);
    }
    const bpCell = tile.querySelector('[data-vital="bp"]');
    const sbp = fresh(b, "sbp", now, BP_STALE_MS);
    const dbp = fresh(b, "dbp", now, BP_STALE_MS);
    if (sbp && dbp) {
      bpCell.innerHTML = "";
      bpCell.append(`${Math.round(sbp.value)}/${Math.round(dbp.value)} `);
      const age = document.createElement("span");
      age.className = "age";
      age.textContent = `${minutes(now - sbp.ts_ms)} ago`;
      bpCell.append(age);
    } else {
      bpCell.textContent = "-?-";
    }
    bpCell.classList.toggle("unknown", !(sbp && dbp));
    const alarms = [...b.alarms].sort((x, y) => RANK[y.priority] - RANK[x.priority]);
    const top = alarms.find((a) => a.state === "active") || alarms[0];
    tile.dataset.priority = top ? top.priority : "none";
    tile.querySelector(".alarm-label").textContent = top
      ? `${top.priority.toUpperCase()} ${top.kind === "technical" ? "TECHNICAL" : "ALARM"}` : "";
    tile.querySelector(".alarms").replaceChildren(...alarms.map((a) => {
      const li = document.createElement("li");
      li.dataset.priority = a.priority;
      li.dataset.alarmId = a.id;
      const detail = a.kind === "technical" ? (a.vital ? ` ${a.vital}` : "")
        : ` ${a.value ?? ""} (limit ${a.limit ?? "-"})`;
      li.textContent = `${a.code.replace("_", " ")}${detail} · ${alarmState(a)}`;
      return li;
    }));
  }
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
  const socket = new WebSocket(`${scheme}://${location.host}/ws/board`);
  socket.onopen = () => { delayMs = 500; };
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    for (const message of Array.isArray(data) ? data : [data]) apply(message);
    setConnection(true);
    scheduleRender();
  };
  socket.onclose = () => {
    setConnection(false);
    setTimeout(() => connect(Math.min(delayMs * 2, 5000)), delayMs);
  };
}

setInterval(render, 500);
connect();
