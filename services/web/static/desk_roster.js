// The on-site roster (the evacuation list): GET /api/v1/visitors/roster, asked again the
// moment the live stream (GET /api/v1/visitors/live) says a visitor checked in or out, was
// flagged, overdue, out of bounds or unaccounted; and every minute, so a missed nudge costs at
// most that. Below it, who is past their expected time and not signed out. Print: the page's
// print CSS leaves the lists.

import { suiteNow, syncClock } from "./clock.js";
import { readContext, registerServiceWorker } from "./page.js";
import { initSignOut } from "./signout.js";
import { keptCopy, why } from "./kept_copy.js";

// Kept by the service worker, so this list opens (and prints) without a network.
registerServiceWorker();

const FETCH_TIMEOUT_MS = 8000;
const POLL_MS = 60000;
const RECONNECT_MS = 30000;

const ctx = readContext();
const $ = (id) => document.getElementById(id);
const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });
const at = (iso) => (iso ? TIME.format(new Date(iso)) : "");
const words = (v) => String(v ?? "").replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());

const copy = keptCopy("roster", ctx); // shown, printable, when the network goes

function offline(answer) {
  const banner = $("roster-offline");
  if (!answer) {
    banner.hidden = true;
    $("roster").removeAttribute("data-offline");
    if (source?.readyState === EventSource.OPEN) live("on", "Live");
    return;
  }
  live("off", "Offline");
  banner.textContent = `Offline copy as of ${at(answer.as_of)}: the network is gone, so this list may be out of date. It can still be printed.`;
  banner.hidden = false;
  $("roster").dataset.offline = "yes";
}

let busy = null;
let again = false;
let source = null;
let reconnect = null;

const HEADS = ["Visitor", "Badge", "Visiting", "Where", "Since", "Expected until", "Last seen"];

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

// On a narrow screen each row is a card: every cell says what it is (desk.css).
function labelled(cells) {
  cells.forEach((td, i) => {
    td.dataset.label = HEADS[i];
  });
  return cells;
}

/** Who is past their expected time and still signed in, at `now`. */
export function notSignedOut(visitors, now) {
  return visitors.filter(
    (v) => v.status === "on_site" && (v.overdue || (v.expected_until && Date.parse(v.expected_until) <= now.getTime())),
  );
}

function render(answer) {
  const visitors = answer.visitors;
  const roster = $("roster");
  roster.dataset.state = visitors.length ? "listed" : "empty";
  $("roster-asof").textContent = `As of ${at(answer.as_of)}: ${visitors.length} ${visitors.length === 1 ? "visitor" : "visitors"}.`;
  $("roster-note").hidden = visitors.length > 0;
  $("roster-note").textContent = "No visitors on site.";
  $("roster-table").hidden = visitors.length === 0;
  $("roster-body").replaceChildren(
    ...visitors.map((v) => {
      const tr = document.createElement("tr");
      tr.dataset.visit = v.visit_id;
      tr.dataset.status = v.status;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = v.name;
      const badge = v.status === "pending_screening" ? "Held: screening" : v.badge_number;
      const seen = v.last_seen_zone_name ? `${v.last_seen_zone_name} ${at(v.last_seen_at)}` : "—";
      const expected = `${at(v.expected_until)}${v.overdue ? " (overdue)" : ""}`;
      tr.append(
        name,
        ...labelled([
        cell(words(v.visitor_type)),
        cell(badge),
        cell(v.host_name),
        cell(v.destination_names.join(", ")),
        cell(at(v.since)),
        cell(expected || "—", v.overdue ? "roster__overdue" : ""),
        cell(seen),
        ]),
      );
      return tr;
    }),
  );
  const late = notSignedOut(visitors, suiteNow());
  $("not-out-note").hidden = late.length > 0;
  $("not-out-list").replaceChildren(
    ...late.map((v) => {
      const li = document.createElement("li");
      li.textContent = `${v.name}, badge ${v.badge_number}, visiting ${v.host_name}: expected out by ${at(v.expected_until)}`;
      return li;
    }),
  );
}

// --- who never signed out: closed by the end-of-day checkout ---------------------------------

const DAY = new Intl.DateTimeFormat([], { weekday: "long", month: "long", day: "numeric", timeZone: "UTC" });

function renderEndOfDay(answer) {
  const visitors = answer.visitors;
  const day = DAY.format(new Date(`${answer.day}T00:00:00Z`));
  $("end-of-day").dataset.count = String(visitors.length);
  $("end-of-day-note").textContent = visitors.length
    ? `${day}: ${visitors.length} ${visitors.length === 1 ? "badge" : "badges"} closed at the end of the day.`
    : `${day}: everyone was signed out at the desk.`;
  $("end-of-day-list").replaceChildren(
    ...visitors.map((v) => {
      const li = document.createElement("li");
      li.dataset.visit = v.visit_id;
      const who = v.name || "Name purged";
      const seen = v.last_seen_zone_name ? `last seen in ${v.last_seen_zone_name} at ${at(v.last_seen_at)}` : "not seen by the SSO";
      li.textContent = `${who}, badge ${v.badge_number}, visiting ${v.host_name} (${v.destination_names.join(", ")}): in at ${at(v.since)}, expected out by ${at(v.expected_until)}, ${seen}; badge closed at ${at(v.checked_out_at)}.`;
      return li;
    }),
  );
}

async function loadEndOfDay() {
  const day = $("end-of-day-day").value;
  const error = $("end-of-day-error");
  try {
    const query = day ? `?day=${encodeURIComponent(day)}` : "";
    const res = await fetch(`/api/v1/visitors/end-of-day${query}`, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    renderEndOfDay(await res.json());
    error.hidden = true;
  } catch (err) {
    error.textContent = `The list could not be loaded (${err.message || "no answer"}).`;
    error.hidden = false;
  }
}

async function refresh() {
  if (busy) {
    again = true;
    return busy;
  }
  busy = (async () => {
    do {
      again = false;
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
      try {
        const res = await fetch("/api/v1/visitors/roster", {
          credentials: "same-origin",
          cache: "no-store",
          signal: abort.signal,
          headers: { Accept: "application/json" },
        });
        if (res.status === 401) {
          copy.drop();
          window.location.assign(`/signin?next=${encodeURIComponent(location.pathname)}`);
          return;
        }
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const answer = await res.json();
        render(answer);
        copy.keep(answer);
        offline(null);
        $("roster-error").hidden = true;
      } catch (err) {
        const last = copy.kept();
        if (last) {
          render(last);
          offline(last); // its banner says what happened: no second, red message
        }
        const error = $("roster-error");
        error.textContent = `The roster could not be loaded (${why(err)}); trying again.`;
        error.hidden = Boolean(last);
      } finally {
        clearTimeout(timer);
      }
    } while (again);
  })();
  try {
    await busy;
  } finally {
    busy = null;
  }
}

function live(state, text) {
  const line = $("roster-live");
  line.dataset.state = state;
  line.textContent = text;
}

function connect() {
  if (source || !("EventSource" in globalThis)) return;
  clearTimeout(reconnect);
  source = new EventSource("/api/v1/visitors/live");
  source.addEventListener("hello", () => {
    live("on", "Live");
    refresh();
  });
  // A stream keeps one waiting nudge of a kind: its `because` may not be the last event, so
  // the end-of-day list is asked again on every nudge (it changes only at the close).
  source.addEventListener("visitors", () => {
    refresh();
    loadEndOfDay();
  });
  source.onerror = () => {
    live("off", "Reconnecting…");
    if (source?.readyState === EventSource.CLOSED) {
      source.close();
      source = null;
      reconnect = setTimeout(connect, RECONNECT_MS);
    }
  };
}

initSignOut();
$("roster-print").addEventListener("click", () => window.print());
$("end-of-day-form").addEventListener("submit", (e) => {
  e.preventDefault();
  loadEndOfDay();
});
loadEndOfDay();
connect();
syncClock().finally(refresh); // "past their expected time" by the suite's clock
setInterval(refresh, POLL_MS);
window.addEventListener("online", () => refresh());
// Asked again at once: the failed answer shows the kept copy (after any answer in flight).
window.addEventListener("offline", () => refresh());
$("roster").dataset.school = ctx.school.id;
