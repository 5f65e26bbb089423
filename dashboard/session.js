// One session: the clinical workflow (care.js), charts (session-charts.js), alarms with their
// audit trail, notes, phase controls and threshold overrides. An ended
// session is shown for review: no phase controls or overrides, but late
// entries may still be charted. A session with an infusion plan moves
// through its phases by the pump's start and stop; one without, by the
// phase buttons. The charts and their vitals come from the vital-sign
// registry (/api/vitals).
"use strict";

const sessionId = new URL(location.href).searchParams.get("id");
const NEXT = { baseline: ["infusion", "Start infusion"], infusion: ["observation", "Stop infusion"], observation: null };
let me = null;
let session = null;
let registry = null;  // GET /api/vitals: {vitals, cells, charts}
let byName = {};      // vital name -> its registry entry
let limitsInForce = [];  // GET /api/sessions/{id}/limits, as last fetched
let panels = [];       // the charts (session-charts.js)
const CONDITIONS = [[">", "> above"], [">=", "≥ at or above"], ["<", "< below"], ["<=", "≤ at or below"]];
const PRIORITIES = [["high", "high"], ["medium", "medium"], ["low", "low"]];
const RULE_FIELDS = { when: "condition", limit: "limit", baseline_pct: "% of baseline", priority: "priority", delay_s: "delay" };

function renderFacts() {
  document.getElementById("title").textContent = `${session.patient_ref} at ${session.site}/${session.bed}`;
  const facts = document.getElementById("facts");
  const baseline = Object.entries(session.baseline).map(([v, x]) => `${v} ${x}`).join(", ") || "not yet (set when the infusion starts)";
  const rows = [["phase", session.phase], ["profile", session.profile], ["baseline", baseline],
    ...Object.entries(session.phase_started_ms).map(([p, at]) => [`${p} from`, new Date(at).toLocaleString()])];
  facts.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
  document.getElementById("warnings").textContent = (session.warnings || []).map((w) => `⚠ ${w}`).join(" ");
  const link = document.getElementById("patient-link");
  link.href = `/patient?ref=${encodeURIComponent(session.patient_ref)}`;
  link.textContent = `All sessions of patient ${session.patient_ref}`;
  link.hidden = false;
  const controls = document.getElementById("phase-controls");
  controls.replaceChildren();
  if (!canAct(me) || session.phase === "ended") return;
  const unsigned = care.needsChecklist(session);
  const buttons = [];
  if (!session.plan && NEXT[session.phase]) buttons.push(NEXT[session.phase]);
  if (!unsigned) buttons.push(["ended", "End session"]);
  else if (me.role === "admin") buttons.push(["ended", "End without checklist (admin override)"]);
  else {
    const needed = document.createElement("p");
    needed.id = "end-needs-checklist";
    needed.textContent = "Ending this session needs the signed fit-to-leave checklist (below), or an admin's override.";
    controls.append(needed);
  }
  for (const [phase, text] of buttons) {
    const button = document.createElement("button");
    button.textContent = text;
    button.dataset.phase = phase;
    button.onclick = async () => {
      const send = (extra) => api(`/api/sessions/${sessionId}/phase`, { method: "POST", body: JSON.stringify({ phase, ...extra }) });
      if (phase === "ended" && unsigned) {
        const reason = prompt("No fit-to-leave checklist is signed. Why end the session without it? "
          + "(Kept in the audit log; its alarms are acknowledged in your name.)");
        if (reason === null) return;
        if (reason.trim().length < 3) {
          document.getElementById("phase-error").textContent = "Not ended: the override needs a reason (3 characters or more).";
          return;
        }
        try {
          session = await send({ acknowledge_alarms: true, override_reason: reason.trim() });
          document.getElementById("phase-error").textContent = "";
          await refresh();
        } catch (error) {
          document.getElementById("phase-error").textContent = sentence(error.message);
        }
        return;
      }
      if (phase === "ended" && !confirm("End this session? Its alarms clear.")) return;
      try {
        try {
          session = await send({});
        } catch (error) {
          // The pre-start check's warnings, or alarms standing at the end: the
          // nurse must have seen them, and acknowledges them in their name.
          if (error.status !== 409 || !/acknowledge_(warnings|alarms)/.test(error.message)) throw error;
          const what = error.message.replace(/\. (Start|End) with acknowledge_\w+ true.*$/, ".");
          if (!confirm(`${what}\n\nAcknowledge and go on, in your name?`)) return;
          session = await send({ acknowledge_warnings: true, acknowledge_alarms: true });
        }
        document.getElementById("phase-error").textContent = "";
        await refresh();
      } catch (error) {
        document.getElementById("phase-error").textContent = error.message;
      }
    };
    controls.append(button);
  }
}

function renderAlarms(audit) {
  const rows = audit.alarms.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.alarmId = a.id;
    const history = document.createElement("ul");
    history.className = "history";
    for (const h of a.history) {
      const li = document.createElement("li");
      li.textContent = `${clock(h.at_ms)} ${h.transition}${h.value !== null ? ` ${h.value}` : ""}`
        + `${h.user ? ` by ${h.user}` : ""}${h.detail ? ` (${h.detail})` : ""}`;
      history.append(li);
    }
    const cells = [clock(a.raised_ms), alarmText(a, byName), priorityText(a), alarmState(a)].map((text) => {
      const td = document.createElement("td"); td.textContent = text; return td;
    });
    const last = document.createElement("td");
    last.append(history);
    tr.append(...cells, last);
    return tr;
  });
  document.getElementById("alarms").replaceChildren(...rows);
}

function renderLimits(limits) {
  document.getElementById("limits").replaceChildren(...limits.map((l) => {
    const tr = document.createElement("tr");
    const condition = l.limit !== null ? `${l.when} ${l.limit}` : `${l.when} baseline ${l.baseline_pct > 0 ? "+" : ""}${l.baseline_pct} % (no baseline yet)`;
    for (const text of [l.vital, condition, l.priority, l.delay_s ? `${l.delay_s} s` : "at once"]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    return tr;
  }));
  document.getElementById("override-form").hidden = !canAct(me) || session.phase === "ended";
}

function choice(name, options, value) {
  const element = document.createElement("select");
  element.name = name;
  element.replaceChildren(...options.map(([key, text]) => {
    const option = document.createElement("option");
    option.value = key;
    option.textContent = text;
    return option;
  }));
  element.value = value;
  return element;
}

function number(name, value, attributes) {
  const element = document.createElement("input");
  Object.assign(element, { type: "number", name, step: "any", required: true, ...attributes });
  element.value = value ?? "";
  return element;
}

// One rule of the override: condition, limit (absolute, or % of baseline),
// priority and condition delay.
function ruleRow(vital, rule) {
  const tr = document.createElement("tr");
  tr.className = "rule";
  const relative = rule.baseline_pct !== null && rule.baseline_pct !== undefined;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Remove";
  remove.onclick = () => tr.remove();
  const fields = [
    choice("when", CONDITIONS, rule.when),
    number("value", relative ? rule.baseline_pct : rule.limit),
    choice("kind", [["limit", vital.unit], ["baseline_pct", "% of baseline"]], relative ? "baseline_pct" : "limit"),
    choice("priority", PRIORITIES, rule.priority),
    number("delay_s", rule.delay_s, { min: 0 }),
    remove,
  ];
  tr.append(...fields.map((field) => {
    const td = document.createElement("td");
    td.append(field);
    return td;
  }));
  return tr;
}

// The override form starts from the vital's rules in force.
function showOverride() {
  const form = document.getElementById("override-form");
  const vital = byName[form.vital.value];
  const rules = limitsInForce.filter((l) => l.vital === vital.name && l.code.startsWith(`${vital.name}_`));
  form.hysteresis.value = rules.length ? rules[0].hysteresis : 0;
  form.querySelector(".override-vital .unit").textContent = vital.unit;
  document.getElementById("override-rules").replaceChildren(...rules.map((rule) => ruleRow(vital, rule)));
  document.getElementById("override-error").textContent = "";
}

// The server's refusal in the form's own words: "rules.rules.0.limit: ..." is
// "Rule 1, limit: ...", one sentence per problem.
function overrideProblem(message) {
  return message.split("; ").map((part) => {
    const text = part
      .replace(/(?:rules\.)?rules\.(\d+)\.(\w+)/g, (_, n, field) => `rule ${Number(n) + 1}, ${RULE_FIELDS[field] ?? field}`)
      .replace(/(?:rules\.)?rules\.(\d+)\b/g, (_, n) => `rule ${Number(n) + 1}`)
      .replace(/^rules\.rules\b/, "the rules")
      .replace(/^rules\.delay_s\b/, "delay")
      .replace(/^rules\.hysteresis\b/, "hysteresis");
    return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`;
  }).join(" ");
}

async function refresh() {
  session = await api(`/api/sessions/${sessionId}`);
  const [{ readings }, { limits }, audit, { notes }] = await Promise.all([
    api(`/api/sessions/${sessionId}/vitals`), api(`/api/sessions/${sessionId}/limits`),
    api(`/api/sessions/${sessionId}/audit`), api(`/api/sessions/${sessionId}/notes`),
    care.refresh(session, me)]);
  limitsInForce = limits;
  renderFacts();
  drawCharts(panels, session, readings, limits, audit.alarms);
  renderAlarms(audit);
  renderLimits(limits);
  renderNotes(notes);
}

// A note written after the session ended is a late entry, and says so.
function renderNotes(notes) {
  const ended = session.phase_started_ms.ended;
  document.getElementById("notes").replaceChildren(...notes.map((n) => {
    const li = document.createElement("li");
    li.append(`${new Date(n.at_ms).toLocaleString()} `);
    if (ended !== undefined && n.at_ms > ended) {
      const late = document.createElement("span");
      late.className = "late";
      late.textContent = "late entry";
      li.append(late, " ");
    }
    li.append(`${n.user}: ${n.text}`);
    return li;
  }));
  const form = document.getElementById("note-form");
  form.hidden = !canAct(me);
  form.querySelector("button").textContent = ended !== undefined ? "Add late entry" : "Add note";
}

document.getElementById("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = event.target.querySelector("textarea");
  const error = document.getElementById("note-error");
  try {
    await api(`/api/sessions/${sessionId}/notes`, { method: "POST", body: JSON.stringify({ text: text.value }) });
    text.value = "";
    error.textContent = "";
    await refresh();
  } catch (problem) {
    error.textContent = problem.message;
  }
});

document.getElementById("add-rule").addEventListener("click", () => {
  const vital = byName[document.getElementById("override-form").vital.value];
  document.getElementById("override-rules").append(
    ruleRow(vital, { when: ">", limit: null, priority: "medium", delay_s: 0 }));
});

document.getElementById("override-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = document.getElementById("override-error");
  const rules = [...form.querySelectorAll("#override-rules .rule")].map((row) => {
    const field = (name) => row.querySelector(`[name="${name}"]`).value;
    return { when: field("when"), [field("kind")]: Number(field("value")), priority: field("priority"),
      delay_s: Number(field("delay_s")) };
  });
  const change = { vital: form.vital.value, rules: {
    delay_s: rules.length ? rules[0].delay_s : 0, hysteresis: Number(form.hysteresis.value), rules } };
  try {
    await api(`/api/sessions/${sessionId}/thresholds`, { method: "POST", body: JSON.stringify(change) });
    await refresh();
    showOverride();
  } catch (problem) {
    error.textContent = overrideProblem(problem.message);
  }
});

signIn().then(async (who) => {
  me = who;
  showUser(me);
  registry = await api("/api/vitals");
  byName = Object.fromEntries(registry.vitals.map((v) => [v.name, v]));
  const vitalChoice = document.getElementById("override-form").vital;
  vitalChoice.replaceChildren(...registry.vitals.map((v) => {
    const option = document.createElement("option");
    option.value = v.name;
    option.textContent = `${v.name} (${v.label}, ${v.unit})`;
    return option;
  }));
  vitalChoice.addEventListener("change", showOverride);
  document.getElementById("page").hidden = false;
  panels = chartPanels(registry, byName);
  addChartCards(panels);
  await refresh();
  showOverride();
  setInterval(() => { if (session.phase !== "ended") refresh(); }, 5000);
});

// The report and exports need the token, which a plain link cannot carry: they are
// fetched with it. The report opens in a window opened at the click (a window
// opened after the fetch would be taken for a pop-up), the exports download.
async function fetchExport(format, records = "readings") {
  const response = await fetch(`/api/sessions/${sessionId}/report?format=${format}&records=${records}`,
    { headers: { Authorization: `Bearer ${auth.token()}` } });
  if (!response.ok) throw new ApiError(response.status, response.statusText);
  return URL.createObjectURL(await response.blob());
}

document.getElementById("open-report").addEventListener("click", async () => {
  const opened = window.open("", "_blank");
  try {
    opened.location.href = await fetchExport("html");
  } catch (error) {
    opened.close();
    alert(`No report: ${error.message}`);
  }
});

// data-export: a format's readings (or, for FHIR, everything); data-download
// with data-records: the care records, or all of them.
for (const button of document.querySelectorAll("[data-export], [data-download]")) {
  button.addEventListener("click", async () => {
    const format = button.dataset.export || button.dataset.download;
    const records = button.dataset.records || "readings";
    try {
      const link = document.createElement("a");
      link.href = await fetchExport(format, records);
      link.download = `session-${sessionId}${records === "readings" ? "" : `-${records}`}.${format === "fhir" ? "json" : format}`;
      link.click();
    } catch (error) {
      alert(`No ${format.toUpperCase()}: ${error.message}`);
    }
  });
}
