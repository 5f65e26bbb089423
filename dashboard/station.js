// The central station: a clinic group's chairs on one screen.
//
// - The grid is fitted to the screen: columns and rows from the number of
//   chairs and the space under the alarm bar. Tiles too small for the full
//   tile go compact (HR, SpO2, BP, the phase and the worst alarm, in large
//   type); only when even compact tiles cannot fit does the board scroll.
// - The alarm bar lists every open alarm, highest priority first and, within
//   a priority, the oldest first; a click on one focuses its chair's tile.
// - The tiles are keyboard operable: arrows move between them, Enter opens
//   the session (or, on a bed without one, the Open session dialog), A
//   acknowledges the tile's worst unacknowledged alarm and P pauses its worst
//   active one (nurses only, as the buttons).
//
// Uses board.js's globals: board, beds, me, byName, key, act, chairMinutes.
"use strict";

const FULL_TILE = { width: 290, height: 400 };     // the least room the full tile needs
const COMPACT_TILE = { width: 200, height: 170 };  // and the compact one
const TALLEST_ROW_PX = 520;
const GAP_PX = 8;
const alarmBar = document.getElementById("alarm-bar");

// The columns, row height and density that give the largest tiles, full ones
// before compact ones; null when no grid of compact tiles fits.
function bestGrid(count, width, height) {
  let best = null;
  for (let cols = 1; cols <= count; cols++) {
    const rows = Math.ceil(count / cols);
    const w = (width - (cols - 1) * GAP_PX) / cols;
    const h = (height - (rows - 1) * GAP_PX) / rows;
    for (const [density, least, rank] of [["full", FULL_TILE, 2], ["compact", COMPACT_TILE, 1]]) {
      const scale = Math.min(w / least.width, h / least.height);
      if (scale < 1) continue;
      if (!best || rank > best.rank || (rank === best.rank && scale > best.scale)) {
        best = { cols, rows, rowPx: Math.min(Math.floor(h), TALLEST_ROW_PX), density, rank, scale };
      }
      break;
    }
  }
  return best;
}

// Lays the board out for its tiles and the window; the monitor's own tile
// takes a row of its own above the chairs.
function fitBoard() {
  const tiles = [...board.children];
  const system = tiles.find((tile) => tile.classList.contains("system"));
  const count = tiles.length - (system ? 1 : 0);
  const style = getComputedStyle(board);
  const width = board.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const height = window.innerHeight - board.offsetTop - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)
    - (system ? system.offsetHeight + GAP_PX : 0);
  const grid = count ? bestGrid(count, width, height) : null;
  const cols = grid ? grid.cols : Math.max(1, Math.floor((width + GAP_PX) / (COMPACT_TILE.width + GAP_PX)));
  const rowPx = grid ? grid.rowPx : COMPACT_TILE.height;
  const layout = {
    density: grid ? grid.density : "compact",
    columns: `repeat(${cols}, minmax(0, 1fr))`,
    rows: `${system ? "auto " : ""}repeat(${Math.max(1, Math.ceil(count / cols))}, ${rowPx}px)`,
  };
  board.dataset.density = layout.density;
  board.dataset.columns = String(cols);
  if (board.style.gridTemplateColumns !== layout.columns) board.style.gridTemplateColumns = layout.columns;
  if (board.style.gridTemplateRows !== layout.rows) board.style.gridTemplateRows = layout.rows;
}

const byPriorityThenAge = (x, y) => RANK[y.alarm.priority] - RANK[x.alarm.priority]
  || x.alarm.raised_ms - y.alarm.raised_ms || key(x.site, x.bed).localeCompare(key(y.site, y.bed));

// Every open alarm of every bed, in the bar's order.
function openAlarms() {
  return [...beds.values()].flatMap((b) => b.alarms.map((alarm) => ({ site: b.site, bed: b.bed, alarm })))
    .sort(byPriorityThenAge);
}

function barEntry({ site, bed, alarm }, now) {
  const entry = document.createElement("button");
  entry.type = "button";
  entry.className = "bar-alarm";
  Object.assign(entry.dataset, { priority: alarm.priority, state: alarm.state, chair: key(site, bed), alarmId: alarm.id });
  const priority = document.createElement("span");
  priority.className = "priority";
  priority.textContent = priorityText(alarm);
  const where = document.createElement("b");
  where.className = "where";
  where.textContent = bed;
  const what = document.createElement("span");
  what.className = "what";
  what.textContent = alarmText(alarm, byName);
  const age = document.createElement("span");
  age.className = "since";
  age.textContent = alarm.state === "active" ? chairMinutes(now - alarm.raised_ms)
    : `${chairMinutes(now - alarm.raised_ms)} · ${alarm.state}`;
  entry.append(priority, where, what, age);
  entry.onclick = () => showTile(entry.dataset.chair);
  return entry;
}

function renderAlarmBar(now) {
  const alarms = openAlarms();
  const list = alarmBar.querySelector("ol");
  list.replaceChildren(...alarms.map((a) => {
    const item = document.createElement("li");
    item.append(barEntry(a, now));
    return item;
  }));
  alarmBar.querySelector(".none").hidden = alarms.length > 0;
}

// Focuses a bed's tile, in view, and marks it for a moment.
function showTile(bedKey) {
  const tile = board.querySelector(`[data-bed="${CSS.escape(bedKey)}"]`);
  if (!tile) return;
  tile.focus({ preventScroll: true });
  tile.scrollIntoView({ block: "nearest" });
  tile.classList.remove("highlight");
  void tile.offsetWidth;  // restarts the highlight's animation
  tile.classList.add("highlight");
}

// The worst of a bed's alarms that `fits`: highest priority, then oldest.
function worstAlarm(b, fits) {
  return b.alarms.filter(fits).sort((x, y) => RANK[y.priority] - RANK[x.priority] || x.raised_ms - y.raised_ms)[0];
}

// The tile's worst alarm in large type: shape and word of its priority, what
// it is, and (compact tiles) the nurse's buttons for it.
function renderWorst(tile, b) {
  const worst = worstAlarm(b, (a) => a.state === "active") || worstAlarm(b, () => true);
  const block = tile.querySelector(".worst");
  block.hidden = !worst;
  if (!worst) return;
  block.dataset.priority = worst.priority;
  block.dataset.state = worst.state;
  block.querySelector(".priority").textContent = priorityText(worst);
  // "SpO₂ 84" at the largest size, then "≤ 85 %" and, unless active, the state.
  const text = alarmText(worst, byName);
  const cut = text.search(/ [≤≥] /);
  block.querySelector(".worst-what").textContent = cut > 0 ? text.slice(0, cut) : text;
  block.querySelector(".worst-limit").textContent = [cut > 0 ? text.slice(cut + 1) : "",
    worst.state === "active" ? "" : worst.state].filter(Boolean).join(" · ");
  const actions = [];
  if (me && canAct(me) && worst.state !== "acknowledged") {
    actions.push(actionButton("worst-ack", "Ack", () => act(`/api/alarms/${worst.id}/ack`)));
    if (worst.state === "active") {
      actions.push(actionButton("worst-pause", "Pause", () => act(`/api/alarms/${worst.id}/pause`, { seconds: 120 })));
    }
  }
  block.querySelector(".worst-actions").replaceChildren(...actions);
}

function actionButton(className, text, onclick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.textContent = text;
  button.tabIndex = -1;  // the keyboard has A and P
  button.onclick = onclick;
  return button;
}

// The tile below or above: the nearest by column in the next row that way.
function tileAcross(tiles, from, down) {
  const here = from.getBoundingClientRect();
  const middle = here.left + here.width / 2;
  let best = null;
  let bestScore = Infinity;
  for (const tile of tiles) {
    const box = tile.getBoundingClientRect();
    const rowsAway = down ? box.top - here.bottom : here.top - box.bottom;
    if (rowsAway < 0) continue;
    const score = rowsAway * 10 + Math.abs(box.left + box.width / 2 - middle);
    if (score < bestScore) { best = tile; bestScore = score; }
  }
  return best;
}

function onTileKey(event) {
  const tile = event.target;
  if (!tile.classList?.contains("tile") || event.altKey || event.ctrlKey || event.metaKey) return;
  const tiles = [...board.querySelectorAll(".tile")];
  const index = tiles.indexOf(tile);
  const b = beds.get(tile.dataset.bed);
  let next = null;
  switch (event.key) {
    case "ArrowRight": next = tiles[index + 1]; break;
    case "ArrowLeft": next = tiles[index - 1]; break;
    case "ArrowDown": next = tileAcross(tiles, tile, true); break;
    case "ArrowUp": next = tileAcross(tiles, tile, false); break;
    case "Enter": {
      const link = tile.querySelector(".session[href]");
      if (link) location.href = link.href;
      else tile.querySelector(".open-session:not([hidden])")?.click();
      break;
    }
    case "a": case "A": {
      const worst = b && me && canAct(me) && worstAlarm(b, (a) => a.state !== "acknowledged");
      if (worst) act(`/api/alarms/${worst.id}/ack`);
      break;
    }
    case "p": case "P": {
      const worst = b && me && canAct(me) && worstAlarm(b, (a) => a.state === "active");
      if (worst) act(`/api/alarms/${worst.id}/pause`, { seconds: 120 });
      break;
    }
    default: return;
  }
  event.preventDefault();
  next?.focus();
}

board.addEventListener("keydown", onTileKey);
window.addEventListener("resize", () => fitBoard());
