// The session page's clinical workflow: the infusion plan and what was done
// to the pump, assessments on the clinic's scales, adverse events and the
// fit-to-leave checklist. Nurses write; viewers read. Once the session has
// ended everything is read-only but scores, which a nurse may still add as
// late entries (the API keeps them so).
"use strict";

const SCORE_WORDS = {
  moaas: { 5: "responds readily to name", 4: "lethargic response to name", 3: "responds to loud or repeated name",
    2: "responds to prodding or shaking", 1: "responds to trapezius squeeze", 0: "no response" },
  rass: { 4: "combative", 3: "very agitated", 2: "agitated", 1: "restless", 0: "alert and calm", "-1": "drowsy",
    "-2": "light sedation", "-3": "moderate sedation", "-4": "deep sedation", "-5": "unarousable" },
  nausea: { 0: "none", 1: "mild", 2: "moderate", 3: "severe" },
  antihypertensive_given: { 0: "no", 1: "yes" },
  antiemetic_given: { 0: "no", 1: "yes" },
};
const DISCHARGE_NAMES = { aldrete: "Modified Aldrete", padss: "PADSS" };
// What the pump's state allows, in the order the buttons stand.
const PUMP_ACTIONS = { not_started: ["start"], running: ["pause", "rate", "stop"], paused: ["resume", "rate", "stop"], stopped: [] };
const ACTION_WORDS = { start: "Start", pause: "Pause", resume: "Resume", rate: "Change rate", stop: "Stop" };
const PUMP_STATES = { not_started: "not started", running: "running", paused: "paused", stopped: "stopped" };

const care = {
  me: null,
  session: null,
  infusion: null,   // GET .../infusion: {plan, events, status}
  checklist: null,  // the signed checklist, or null
  tile: null,       // the session as the board shows it (assessment due, discharge readiness)
  serverSkewMs: 0,

  // Whether ending the session needs the signed checklist it does not have.
  needsChecklist(session) { return "infusion" in session.phase_started_ms && !this.checklist; },

  async refresh(session, me) {
    this.session = session;
    this.me = me;
    const base = `/api/sessions/${session.id}`;
    const [infusion, scores, adverse, discharge, board] = await Promise.all([
      api(`${base}/infusion`), api(`${base}/assessments`), api(`${base}/adverse-events`),
      api(`${base}/discharge`), api("/api/board")]);
    this.infusion = infusion;
    this.checklist = discharge.checklist;
    this.serverSkewMs = board.server_ms - Date.now();
    this.tile = board.beds.map((b) => b.session).find((s) => s && s.id === session.id) || null;
    renderInfusion();
    renderAssessments(scores);
    renderAdverse(adverse.adverse_events);
    renderFit(discharge.scale);
  },
};

function sessionOpen() { return care.session.phase !== "ended"; }
function writer() { return canAct(care.me) && sessionOpen(); }

function cells(row, texts) {
  row.replaceChildren(...texts.map((text) => {
    const td = document.createElement("td");
    td.append(text);
    return td;
  }));
  return row;
}

function facts(element, rows) {
  element.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
}

function options(select, entries) {
  select.replaceChildren(...entries.map(([value, text]) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    return option;
  }));
}

function lateMark(atMs) {
  const ended = care.session.phase_started_ms.ended;
  if (ended === undefined || atMs <= ended) return "";
  const late = document.createElement("span");
  late.className = "late";
  late.textContent = "late entry";
  return late;
}

function mlPerHour(rate) {
  const plan = care.infusion.plan;
  return +(rate * plan.weight_kg / plan.concentration_mg_per_ml).toFixed(1);
}

function renderInfusion() {
  const { plan, events, status } = care.infusion;
  const card = document.getElementById("infusion-card");
  for (const part of card.querySelectorAll("#pump, #infusion-controls, #infusion-events-table")) part.hidden = !plan;
  if (!plan) {
    facts(document.getElementById("plan"), [["plan", "none: the session was opened without weight, dose and duration"]]);
    document.getElementById("infusion-form").hidden = true;
    return;
  }
  facts(document.getElementById("plan"), [
    ["drug", plan.drug], ["weight", `${plan.weight_kg} kg`],
    ["planned dose", `${plan.dose_mg_per_kg} mg/kg over ${plan.duration_min} min: ${plan.total_mg} mg`],
    ["planned rate", `${plan.rate_mg_per_kg_h} mg/kg/h, ${plan.rate_ml_per_h} mL/h at ${plan.concentration_mg_per_ml} mg/mL`],
  ]);
  const pump = document.getElementById("pump");
  pump.dataset.state = status.state;
  const rate = status.state === "running" ? ` at ${status.rate_mg_per_kg_h} mg/kg/h (${status.rate_ml_per_h} mL/h)` : "";
  const elapsed = status.elapsed_min === null ? "" : ` · ${Math.round(status.elapsed_min)}/${status.planned_min} min`;
  pump.textContent = `Pump ${PUMP_STATES[status.state]}${rate}${elapsed} · ${status.given_mg}/${status.planned_mg} mg given`;
  const controls = document.getElementById("infusion-controls");
  controls.replaceChildren(...(writer() ? PUMP_ACTIONS[status.state] : []).map((action) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.infusion = action;
    button.textContent = ACTION_WORDS[action];
    button.onclick = () => (action === "start" || action === "resume" ? pumpEvent({ event: action }) : askReason(action));
    return button;
  }));
  const form = document.getElementById("infusion-form");
  if (!writer() || !PUMP_ACTIONS[status.state].includes(form.dataset.event)) form.hidden = true;
  document.getElementById("infusion-events").replaceChildren(...events.map((e) => {
    const rateText = e.rate_mg_per_kg_h === null ? "" : `${e.rate_mg_per_kg_h} mg/kg/h (${mlPerHour(e.rate_mg_per_kg_h)} mL/h)`;
    return cells(document.createElement("tr"), [clock(e.at_ms), ACTION_WORDS[e.event].toLowerCase(), rateText, e.user, e.reason || ""]);
  }));
}

// Pause, a rate change and stop need a reason (and a rate change its rate).
function askReason(action) {
  const form = document.getElementById("infusion-form");
  form.reset();
  form.dataset.event = action;
  form.querySelector(".rate").hidden = action !== "rate";
  form.rate.required = action === "rate";
  form.rate.value = action === "rate" ? care.infusion.status.rate_mg_per_kg_h || care.infusion.plan.rate_mg_per_kg_h : "";
  showRateMl();
  form.querySelector('button[type="submit"]').textContent = `Confirm ${ACTION_WORDS[action].toLowerCase()}`;
  form.hidden = false;
  (action === "rate" ? form.rate : form.reason).focus();
}

function showRateMl() {
  const form = document.getElementById("infusion-form");
  const rate = form.rate.valueAsNumber;
  form.querySelector(".ml").textContent = rate > 0 ? `= ${mlPerHour(rate)} mL/h` : "";
}

async function pumpEvent(body) {
  const error = document.getElementById("infusion-error");
  const send = (extra) => api(`/api/sessions/${care.session.id}/infusion`, { method: "POST", body: JSON.stringify({ ...body, ...extra }) });
  try {
    try {
      await send({});
    } catch (problem) {
      // The pre-start check's warnings: a clinician must have seen them.
      if (problem.status !== 409 || !/acknowledge_warnings/.test(problem.message)) throw problem;
      const what = problem.message.replace(/\. Start with acknowledge_warnings true.*$/, ".");
      if (!confirm(`${sentence(what)}\n\nStart anyway, in your name?`)) return;
      await send({ acknowledge_warnings: true });
    }
    error.textContent = "";
    document.getElementById("infusion-form").hidden = true;
    await refresh();
  } catch (problem) {
    error.textContent = sentence(problem.message);
  }
}

function renderAssessments({ assessments, sedation_scale: sedation, dissociation_scale: dissociation }) {
  const form = document.getElementById("assessment-form");
  if (form.dataset.sedation !== sedation || form.dataset.dissociation !== dissociation) {
    form.dataset.sedation = sedation;
    form.dataset.dissociation = dissociation;
    form.querySelector('[data-scale="sedation"]').textContent = `(${SCALE_NAMES[sedation]})`;
    form.querySelector('[data-scale="dissociation"]').textContent = `(${SCALE_NAMES[dissociation]}, ${SCALE_RANGES[dissociation].join("-")})`;
    options(form.sedation, [["", "—"], ...Object.entries(SCORE_WORDS[sedation])
      .sort(([x], [y]) => y - x).map(([value, words]) => [value, `${value} ${words}`])]);
    [form.dissociation.min, form.dissociation.max] = SCALE_RANGES[dissociation];
    for (const scale of ["nausea", "antihypertensive_given", "antiemetic_given"]) {
      options(form[scale], [["", "—"], ...Object.entries(SCORE_WORDS[scale]).map(([value, words]) => [value, `${value} ${words}`])]);
    }
  }
  form.hidden = !canAct(care.me);
  form.querySelector('button[type="submit"]').textContent = sessionOpen() ? "Save" : "Save as late entry";
  const due = document.getElementById("assessment-due");
  const tile = care.tile;
  due.classList.toggle("overdue", Boolean(tile && tile.assessment_overdue));
  if (tile && tile.assessment_overdue) {
    due.textContent = "⚠ Assessment overdue";
  } else if (tile && tile.assessment_due_ms) {
    const left = tile.assessment_due_ms - (Date.now() + care.serverSkewMs);
    due.textContent = left > 0 ? `Next assessment due in ${minutes(left)}` : "Assessment due now";
  } else {
    due.textContent = "";
  }
  document.getElementById("assessments").replaceChildren(...assessments.map((a) => {
    const words = SCORE_WORDS[a.scale]?.[a.value];
    const score = document.createDocumentFragment();
    score.append(words ? `${a.value} (${words})` : String(a.value));
    const mark = lateMark(a.at_ms);
    if (mark) score.append(" ", mark);
    return cells(document.createElement("tr"), [clock(a.at_ms), SCALE_NAMES[a.scale], score, a.user]);
  }));
}

function renderAdverse(events) {
  const form = document.getElementById("adverse-form");
  if (!form.kind.options.length) {
    options(form.kind, [["", "—"], ...Object.entries(ADVERSE_KINDS)]);
    options(form.severity, [["", "—"], ["mild", "mild"], ["moderate", "moderate"], ["severe", "severe"]]);
  }
  form.hidden = !writer();
  document.getElementById("adverse-events").replaceChildren(...events.map((e) => {
    const given = ["drug", "dose", "route"].map((k) => e.intervention[k]).filter(Boolean).join(" ");
    return cells(document.createElement("tr"), [clock(e.at_ms), ADVERSE_KINDS[e.kind], e.severity, given,
      e.outcome || "", e.note || "", e.user]);
  }));
}

function renderFit(scale) {
  const signed = document.getElementById("fit-signed");
  const readiness = document.getElementById("fit-readiness");
  const form = document.getElementById("fit-form");
  const checklist = care.checklist;
  signed.classList.toggle("signed", Boolean(checklist));
  if (checklist) {
    signed.textContent = `✓ Signed fit to leave by ${checklist.user} at ${clock(checklist.at_ms)}: `
      + `${DISCHARGE_NAMES[checklist.scale]} ${checklist.score}, escort ${checklist.escort ? "present" : "absent"}, `
      + `${checklist.nausea ? "nausea" : "no nausea"}; vital signs: ${checklist.vitals}.`;
  } else if (!sessionOpen()) {
    signed.textContent = "Not signed.";
  } else {
    signed.textContent = care.session.phase === "observation" ? "Not signed yet."
      : "Not signed yet: the checklist is signed in observation, once the infusion has stopped.";
  }
  const discharge = care.tile && care.tile.discharge;
  readiness.textContent = checklist || !discharge ? ""
    : discharge.ready ? "Vital signs: within the discharge criteria."
    : `Vital signs: not yet within the discharge criteria (${discharge.reason}).`;
  form.hidden = Boolean(checklist) || !writer() || care.session.phase !== "observation";
  if (!form.score.options.length) {
    options(form.score, [["", "—"], ...Array.from({ length: 11 }, (_, i) => [String(10 - i), String(10 - i)])]);
  }
  form.dataset.scale = scale;
  form.querySelector(".scale-name").textContent = DISCHARGE_NAMES[scale];
  form.querySelector('button[type="submit"]').textContent = `Sign as ${care.me.name}`;
}

// The server's refusal of the checklist names each unmet item: a list of them.
function showRefusal(message) {
  const place = document.getElementById("fit-error");
  const items = message.match(/^not fit to leave: (.*)$/);
  if (!items) {
    place.textContent = sentence(message);
    return;
  }
  const heading = document.createElement("p");
  heading.textContent = "Not fit to leave yet:";
  const list = document.createElement("ul");
  list.id = "fit-refusal";
  list.replaceChildren(...items[1].split("; ").map((item) => {
    const li = document.createElement("li");
    li.textContent = sentence(item);
    return li;
  }));
  place.replaceChildren(heading, list);
}

document.getElementById("infusion-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { event: form.dataset.event, reason: form.reason.value.trim() };
  if (body.event === "rate") body.rate_mg_per_kg_h = form.rate.valueAsNumber;
  pumpEvent(body);
});
document.getElementById("infusion-form").rate.addEventListener("input", showRateMl);
document.getElementById("infusion-form").querySelector(".cancel").addEventListener("click", () => {
  document.getElementById("infusion-form").hidden = true;
});

// One Save posts each scale filled in, in the form's order, and stops at the first refusal.
document.getElementById("assessment-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = document.getElementById("assessment-error");
  const filled = [[form.dataset.sedation, form.sedation], [form.dataset.dissociation, form.dissociation],
    ["nausea", form.nausea], ["anxiety", form.anxiety], ["antihypertensive_given", form.antihypertensive_given],
    ["antiemetic_given", form.antiemetic_given]].filter(([, field]) => field.value !== "");
  if (!filled.length) {
    error.textContent = "Nothing to save: score at least one scale.";
    return;
  }
  error.textContent = "";
  for (const [scale, field] of filled) {
    try {
      await api(`/api/sessions/${care.session.id}/assessments`, { method: "POST", body: JSON.stringify({ scale, value: Number(field.value) }) });
      field.value = "";
    } catch (problem) {
      error.textContent = `${SCALE_NAMES[scale]} not saved: ${sentence(problem.message)}`;
      break;
    }
  }
  await refresh();
});

document.getElementById("adverse-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const text = (name) => form[name].value.trim() || null;
  const intervention = Object.fromEntries(["drug", "dose", "route"].map((k) => [k, text(k)]).filter(([, v]) => v));
  const body = { kind: form.kind.value, severity: form.severity.value, outcome: text("outcome"), note: text("note"),
    intervention: Object.keys(intervention).length ? intervention : null };
  const error = document.getElementById("adverse-error");
  try {
    await api(`/api/sessions/${care.session.id}/adverse-events`, { method: "POST", body: JSON.stringify(body) });
    form.reset();
    error.textContent = "";
    await refresh();
  } catch (problem) {
    error.textContent = sentence(problem.message);
  }
});

document.getElementById("fit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { scale: form.dataset.scale, score: Number(form.score.value), escort: form.escort.checked, nausea: form.nausea.checked };
  try {
    await api(`/api/sessions/${care.session.id}/discharge`, { method: "POST", body: JSON.stringify(body) });
    document.getElementById("fit-error").replaceChildren();
    await refresh();
  } catch (problem) {
    showRefusal(problem.message);
  }
});
