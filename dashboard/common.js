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
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
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

function alarmText(a) {
  const detail = a.kind === "technical" ? (a.vital ? ` ${a.vital}` : "")
    : ` ${a.value ?? ""} (limit ${a.limit ?? "-"})`;
  return `${a.code.replaceAll("_", " ")}${detail}`;
}

function alarmState(a) {
  if (a.state === "acknowledged") return `acknowledged by ${a.acknowledged_by}`;
  if (a.state === "paused") return `paused until ${clock(a.paused_until_ms)}`;
  if (a.state === "cleared") return "cleared";
  return a.condition_present === false ? "latched: acknowledge" : "ACTIVE";
}
