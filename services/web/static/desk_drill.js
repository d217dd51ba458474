// The evacuation drill: GET /api/v1/visitors/drill, asked again the moment the live stream
// (GET /api/v1/visitors/live) nudges — another desk marked someone, a visitor signed out, the
// drill started or ended — and every 20 s while a drill is under way. Each visitor who was in
// the building at the start has an "Accounted for" button (POST …/drill/<id>/account; marking
// one already marked changes nothing, so two desks may mark at once). When the last one is
// marked the drill ends and the time to full accountability is shown.

import { readContext, registerServiceWorker } from "./page.js";
import { initSignOut } from "./signout.js";
import { csrfFromPage } from "./sync.js";
import { keptCopy, why } from "./kept_copy.js";

// Kept by the service worker, so this list opens (and prints) without a network.
registerServiceWorker();

const FETCH_TIMEOUT_MS = 8000;
const POLL_MS = 20000;
const RECONNECT_MS = 30000;

const ctx = readContext();
const $ = (id) => document.getElementById(id);
const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });
const at = (iso) => (iso ? TIME.format(new Date(iso)) : "");
const words = (v) => String(v ?? "").replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());

let current = null; // the last answer's drill

const copy = keptCopy("drill", ctx); // shown, printable, when the network goes

function offlineCopy(answer) {
  const banner = $("drill-offline");
  banner.hidden = !answer;
  if (answer) {
    banner.textContent = `Offline copy as of ${at(answer.as_of)}: the network is gone, so marks cannot be sent and this list may be out of date. It can still be printed.`;
    live("off", "Offline");
  }
}
let busy = null;
let again = false;
let source = null;

/** 270 → "4 min 30 s"; 59 → "59 s"; 3600 → "60 min 0 s". */
export function duration(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m ? `${m} min ${s} s` : `${s} s`;
}

async function send(method, path, body) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    const headers = { Accept: "application/json" };
    if (method === "POST") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = csrfFromPage();
    }
    const res = await fetch(path, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      signal: abort.signal,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) {
      copy.drop();
      window.location.assign(`/signin?next=${encodeURIComponent(location.pathname)}`);
      return null;
    }
    if (!res.ok) {
      let text = `HTTP ${res.status}`;
      try {
        const problem = await res.json();
        text = problem.detail ? `${problem.title}: ${problem.detail}` : problem.title;
      } catch {
        // not problem+json: the status says enough
      }
      throw new Error(text);
    }
    return await res.json();
  } finally {
    clearTimeout(timer);
  }
}

function showError(message) {
  const error = $("drill-error");
  error.textContent = message;
  error.hidden = !message;
}

function item(v, drill) {
  const li = document.createElement("li");
  li.className = "drill__item";
  li.dataset.visit = v.visit_id;
  li.dataset.accounted = v.accounted_at ? "yes" : "no";
  const who = document.createElement("div");
  who.className = "drill__who";
  const name = document.createElement("strong");
  name.textContent = v.name || "Name purged";
  const badge = v.badge_number ? `badge ${v.badge_number}` : "held for screening";
  const where = v.last_seen_zone_name
    ? `last seen in ${v.last_seen_zone_name} at ${at(v.last_seen_at)}`
    : `going to ${v.destination_names.join(", ")}`;
  const detail = document.createElement("span");
  detail.textContent = `${words(v.visitor_type)}, ${badge}, visiting ${v.host_name}; ${where}.`;
  who.append(name, " ", detail);
  li.append(who);
  if (v.accounted_at) {
    const done = document.createElement("span");
    done.className = "drill__when";
    const how = v.how === "signed_out" ? "signed out at the desk" : `marked by ${v.accounted_by_name}`;
    done.textContent = `${at(v.accounted_at)}, ${how}`;
    li.append(done);
  } else if (!drill.ended_at) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn--primary";
    button.textContent = "Accounted for";
    button.setAttribute("aria-label", `${v.name || "Visitor"} accounted for`);
    button.addEventListener("click", () => mark(drill.drill_id, v.visit_id, button));
    li.append(button);
  } else {
    const missing = document.createElement("span");
    missing.className = "drill__when drill__when--missing";
    missing.textContent = "Not accounted for";
    li.append(missing);
  }
  return li;
}

function render(answer) {
  const drill = answer.drill;
  current = drill;
  const section = $("drill");
  const open = drill && !drill.ended_at;
  section.dataset.state = !drill ? "none" : open ? "open" : drill.end_reason;
  $("drill-start").hidden = Boolean(open);
  $("drill-end").hidden = !open;
  const done = $("drill-done");
  if (!drill) {
    $("drill-summary").textContent = "No drill has been run. Start one when the alarm sounds: everyone signed in now must then be accounted for.";
    done.hidden = true;
  } else {
    const total = drill.accounted + drill.unaccounted;
    const since = `Started at ${at(drill.started_at)} by ${drill.started_by_name}`;
    if (open) {
      $("drill-summary").textContent = `Drill under way. ${since}. ${drill.accounted} of ${total} accounted for; ${drill.unaccounted} still missing.`;
      done.hidden = true;
    } else if (drill.end_reason === "all_accounted_for") {
      $("drill-summary").textContent = `Last drill: ${since}; ended at ${at(drill.ended_at)}.`;
      done.textContent = total
        ? `Everyone accounted for in ${duration(drill.seconds_to_account)} (${total} ${total === 1 ? "visitor" : "visitors"}).`
        : "Nobody was signed in: everyone accounted for at once.";
      done.dataset.tone = "ok";
      done.hidden = false;
    } else {
      const how = drill.end_reason === "day_ended" ? "closed with the school day" : "ended";
      $("drill-summary").textContent = `Last drill: ${since}; ${how} at ${at(drill.ended_at)} before everyone was accounted for.`;
      done.textContent = `${drill.unaccounted} of ${total} ${total === 1 ? "visitor was" : "visitors were"} not accounted for.`;
      done.dataset.tone = "bad";
      done.hidden = false;
    }
  }
  const visitors = drill ? drill.visitors : [];
  const missing = visitors.filter((v) => !v.accounted_at);
  const found = visitors.filter((v) => v.accounted_at);
  $("drill-missing-title").hidden = missing.length === 0;
  $("drill-found-title").hidden = found.length === 0;
  $("drill-missing").replaceChildren(...missing.map((v) => item(v, drill)));
  $("drill-found").replaceChildren(...found.map((v) => item(v, drill)));
}

async function refresh() {
  if (busy) {
    again = true;
    return busy;
  }
  busy = (async () => {
    do {
      again = false;
      try {
        const answer = await send("GET", "/api/v1/visitors/drill");
        if (answer) {
          render(answer);
          copy.keep(answer);
          offlineCopy(null);
          if (source?.readyState === EventSource.OPEN) live("on", "Live");
        }
        showError("");
      } catch (err) {
        const last = copy.kept();
        if (last) {
          render(last);
          offlineCopy(last); // its banner says what happened: no second, red message
        }
        showError(last ? "" : `The drill could not be loaded (${why(err)}); trying again.`);
      }
    } while (again);
  })();
  try {
    await busy;
  } finally {
    busy = null;
  }
}

async function act(button, path, body) {
  button.disabled = true;
  try {
    const answer = await send("POST", path, body);
    if (answer) {
      render(answer);
      copy.keep(answer);
    }
    showError("");
  } catch (err) {
    showError(`Not done: ${err.message || "no answer"}. Try again.`);
    refresh();
  } finally {
    button.disabled = false;
  }
}

function mark(drillId, visitId, button) {
  return act(button, `/api/v1/visitors/drill/${drillId}/account`, { visit_id: visitId });
}

function live(state, text) {
  const line = $("drill-live");
  line.dataset.state = state;
  line.textContent = text;
}

function connect() {
  if (source || !("EventSource" in globalThis)) return;
  source = new EventSource("/api/v1/visitors/live");
  source.addEventListener("hello", () => {
    live("on", "Live");
    refresh();
  });
  source.addEventListener("visitors", () => refresh());
  source.onerror = () => {
    live("off", "Reconnecting…");
    if (source?.readyState === EventSource.CLOSED) {
      source.close();
      source = null;
      setTimeout(connect, RECONNECT_MS);
    }
  };
}

$("drill-start").addEventListener("click", (e) => act(e.currentTarget, "/api/v1/visitors/drill/start"));
$("drill-end").addEventListener("click", (e) => {
  if (current && window.confirm("End the drill now? Anyone not marked stays unaccounted for.")) {
    act(e.currentTarget, `/api/v1/visitors/drill/${current.drill_id}/end`);
  }
});
$("drill-print").addEventListener("click", () => window.print());
initSignOut();
connect();
refresh().finally(() => {
  $("drill").dataset.school = ctx.school.id;
});
window.addEventListener("offline", () => refresh());
window.addEventListener("online", () => refresh());
setInterval(() => {
  if (current && !current.ended_at) refresh();
}, POLL_MS);
