// Shared by the board and the session page: sign-in with a token, API calls,
// formatting. A token given as ?token= (a kiosk screen) is kept in this
// browser and removed from the address bar.
"use strict";

const TOKEN_KEY = "infusion-monitor.token";

const auth = {
  token() {
    const url = new URL(location.href);
    const given = url.searchParams.get("token");
    if (given) {
      localStorage.setItem(TOKEN_KEY, given);
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    return localStorage.getItem(TOKEN_KEY);
  },
  signOut() {
    localStorage.removeItem(TOKEN_KEY);
    location.reload();
  },
};

class ApiError extends Error {
  constructor(status, detail) {
    super(readable(detail));
    this.status = status;
  }
}

// A refusal as words: FastAPI's 422 detail is a list of {loc, msg}, one
// "where: what" per problem, without pydantic's "Value error, ".
function readable(detail) {
  if (typeof detail === "string") return detail;
  if (!Array.isArray(detail)) return JSON.stringify(detail);
  return detail.map((problem) => {
    const where = (problem.loc || []).filter((part) => part !== "body").join(".");
    const what = String(problem.msg).replace(/^Value error, /, "");
    return where ? `${where}: ${what}` : what;
  }).join("; ");
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${auth.token()}`, ...(options.headers || {}) },
  });
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.detail ?? response.statusText);
  return body;
}

// Resolves with {name, role} once a valid token is in hand; shows the
// sign-in form until then.
async function signIn() {
  let refused = false;
  if (auth.token()) {
    try {
      return await api("/api/me");
    } catch (error) {
      if (error.status !== 401) throw error;
      localStorage.removeItem(TOKEN_KEY);
      refused = true;
    }
  }
  const connection = document.getElementById("connection");
  if (connection) connection.textContent = "not signed in";
  const dialog = document.getElementById("sign-in");
  dialog.innerHTML = `<form>
      <label>Access token <input type="password" autocomplete="off" required></label>
      <button type="submit">Sign in</button>
      <p class="error" role="alert"></p>
    </form>`;
  if (refused) {
    dialog.querySelector(".error").textContent =
      "The token this screen had is not valid any more (revoked, or mistyped in its link): sign in with a current one.";
  }
  dialog.hidden = false;
  return new Promise((resolve) => {
    dialog.querySelector("form").addEventListener("submit", async (event) => {
      event.preventDefault();
      localStorage.setItem(TOKEN_KEY, dialog.querySelector("input").value.trim());
      try {
        const me = await api("/api/me");
        dialog.hidden = true;
        resolve(me);
      } catch (error) {
        dialog.querySelector(".error").textContent = error.status === 401 ? "This token is not valid." : error.message;
      }
    });
  });
}

// An API refusal as a sentence: "cannot pause an infusion that is paused"
// reads "Cannot pause an infusion that is paused."
function sentence(text) {
  const said = String(text).trim();
  return `${said.charAt(0).toUpperCase()}${said.slice(1)}${/[.!?]$/.test(said) ? "" : "."}`;
}

function canAct(me) { return me.role === "nurse" || me.role === "admin"; }

function minutes(ms) { return `${Math.max(0, Math.round(ms / 60000))} min`; }

function clock(ms) { return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }); }

function showUser(me) {
  const who = document.getElementById("who");
  who.textContent = `${me.name} (${me.role})`;
  document.getElementById("sign-out").hidden = false;
  document.getElementById("sign-out").onclick = auth.signOut;
}

const ALARM_WORDS = { high: "HIGH", medium: "MEDIUM", low: "LOW" };
const ALARM_SHAPES = { high: "▲▲▲", medium: "▲▲", low: "▲" };

// The priority as a label of its own, shape and word (colour-blind safe).
function priorityText(a) { return `${ALARM_SHAPES[a.priority]} ${ALARM_WORDS[a.priority]}`; }

// What an alarm is about, never to be read as its priority: a limit alarm as
// value against limit in the vital's unit ("DBP 101 ≥ 100 mmHg"). The value is
// the worst since onset, which is surely past the limit; the current one follows
// when it differs. `vitals` is the registry by vital name.
function alarmText(a, vitals) {
  const vital = a.vital ? vitals[a.vital] : null;
  const sign = a.code.endsWith("_high") ? "≥" : a.code.endsWith("_low") ? "≤" : null;
  const words = a.code.replaceAll("_", " ");
  if (a.kind === "technical") return vital ? `${words}: ${vital.label}` : words;
  const shown = a.worst_value ?? a.onset_value ?? a.value;
  if (!vital || shown === null || shown === undefined) return words;
  const number = (x) => Number(x).toFixed(vital.precision);
  const now = a.value !== null && a.value !== undefined && a.value !== shown ? ` (now ${number(a.value)})` : "";
  if (!sign || a.limit === null || a.limit === undefined) return `${words}: ${vital.label} ${number(shown)} ${vital.unit}${now}`;
  return `${vital.label} ${number(shown)} ${sign} ${number(a.limit)} ${vital.unit}${now}`;
}

function alarmState(a) {
  if (a.state === "acknowledged") return `acknowledged by ${a.acknowledged_by}`;
  if (a.state === "paused") return `paused until ${clock(a.paused_until_ms)}`;
  if (a.state === "cleared") return "cleared";
  return a.condition_present === false ? "latched: acknowledge" : "ACTIVE";
}

// The clinical workflow's scales and adverse events, as the nurse reads them.
const SCALE_NAMES = {
  moaas: "MOAA/S", rass: "RASS", cadss6: "CADSS-6", dissociation_nrs: "Dissociation NRS",
  nausea: "Nausea", anxiety: "Anxiety or agitation", antihypertensive_given: "BP-lowering drug given",
  antiemetic_given: "Anti-emetic given",
};
const ADVERSE_KINDS = {
  nausea_vomiting: "Nausea or vomiting", emergence: "Emergence reaction", hypertension_treated: "Hypertension, treated",
  desaturation_treated: "Desaturation, treated", other: "Other",
};
const SCALE_RANGES = { moaas: [0, 5], rass: [-5, 4], cadss6: [0, 24], dissociation_nrs: [0, 10] };
