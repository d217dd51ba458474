// The principal's console: the school's open alerts, most urgent first (GET /api/v1/alerts),
// asked again the moment the live stream (GET /api/v1/alerts/live) says an alert opened,
// escalated, was notified, acknowledged or resolved: the query is the source of truth, a push
// only a hint to ask it sooner. Each alert says what, where, since when, how many reports, who
// was told when, when its next step is due; Acknowledge is one tap, Resolve asks for the outcome
// note, and its timeline opens in place. Times are the suite's (clock.js), so a demo's fast
// clock counts down as the services see it.

import { whatText } from "./alert_words.js";
import { suiteNow } from "./clock.js";
import { readContext } from "./page.js";
import { initSignOut } from "./signout.js";
import { csrfFromPage } from "./sync.js";
import "./console_closed.js";
import "./console_overview.js";
import "./push.js";

const FETCH_TIMEOUT_MS = 8000;
const REDRAW_MS = 15000; // "opened 3 min ago" and the countdowns move on
const POLL_MS = 60000; // the board is asked again this often, nudged or not
const RECONNECT_MS = 30000; // after the server refused the stream (signed out, say)

const ctx = readContext();
const $ = (id) => document.getElementById(id);
const board = $("board");
const list = $("board-list");
const template = $("alert-template");

let alerts = []; // the last answer's alerts, in the server's order (most urgent first)
let total = 0;
let answered = false;
const cards = new Map(); // alert id → its <li>, kept across answers (an open form stays open)
let busy = null; // the request under way
let again = false; // a nudge came while it was under way: ask once more after it
let source = null;
let reconnect = null;

// --- words ---------------------------------------------------------------------------------

const words = (value) => {
  const text = String(value ?? "").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
};

const CHANNELS = { nats: "in the app", email: "by email" };
const CHANNELS_SHORT = { nats: "app", email: "email" };
const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });
const timeText = (iso) => TIME.format(new Date(iso));

function sameDay(a, b) {
  return a.toDateString() === b.toDateString();
}

/** "9:32 AM" today, "Fri 9:32 AM" another day. */
function when(iso, now) {
  const d = new Date(iso);
  if (sameDay(d, now)) return timeText(iso);
  return `${d.toLocaleDateString([], { weekday: "short" })} ${timeText(iso)}`;
}

function minutesText(minutes) {
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** "just now", "12 min ago", "2 h 5 min ago". */
export function agoText(iso, now) {
  const minutes = Math.floor((now.getTime() - Date.parse(iso)) / 60000);
  return minutes < 1 ? "just now" : `${minutesText(minutes)} ago`;
}

/** "in 10 min", "due now". */
export function inText(iso, now) {
  const minutes = Math.ceil((Date.parse(iso) - now.getTime()) / 60000);
  return minutes <= 0 ? "due now" : `in ${minutesText(minutes)}`;
}

/** Who was told, a line per person: "Ada Okafor (app 9:30 AM, email 9:31 AM failed)". */
export function toldLines(notified, now) {
  if (!notified.length) return ["Nobody yet"];
  const people = new Map();
  for (const n of notified) {
    const how = CHANNELS_SHORT[n.channel] ?? n.channel ?? "";
    const bad = n.outcome === "failed" || n.outcome === "rate_limited";
    const bit = `${how} ${when(n.at, now)}${bad ? ` ${words(n.outcome).toLowerCase()}` : ""}`;
    const name = n.name ?? n.person_id;
    people.set(name, [...(people.get(name) ?? []), bit.trim()]);
  }
  return [...people].map(([name, bits]) => `${name} (${bits.join(", ")})`);
}

/** Where the escalation stands, with its countdown. */
export function nextText(alert, now) {
  const due = alert.next_step_at;
  if (alert.status === "acknowledged") {
    const by = alert.acknowledged_by_name ?? alert.acknowledged_by ?? "someone";
    const at = alert.acknowledged_at ? ` at ${when(alert.acknowledged_at, now)}` : "";
    const then = due ? `; re-triggers ${inText(due, now)} unless resolved` : "";
    return `Acknowledged by ${by}${at}${then}`;
  }
  switch (alert.routing) {
    case "held":
      return due ? `Held: nobody reachable now; tried again ${inText(due, now)}` : "Held";
    case "unroutable":
      return "Nobody reachable: checked again daily";
    case "exhausted":
      return "Every step done: open until acknowledged";
    default:
      return due ? `Step ${alert.step + 1} ${inText(due, now)} (${when(due, now)})` : "None due";
  }
}

function entryText(e) {
  const who = e.name ?? e.person_id;
  switch (e.kind) {
    case "opened":
      return "Opened";
    case "escalated":
      return e.step === null ? "Escalated" : `Step ${e.step + 1} reached`;
    case "notified": {
      const how = CHANNELS[e.channel] ?? (e.channel ? `by ${e.channel}` : "");
      return `Told ${who} ${how}${e.outcome ? `: ${words(e.outcome).toLowerCase()}` : ""}`;
    }
    case "acknowledged":
      return `Acknowledged by ${who}`;
    case "resolved":
      return `Resolved by ${who}`;
    default:
      return `${words(e.kind)}${who ? ` ${who}` : ""}${e.detail ? ` (${e.detail})` : ""}`;
  }
}

// --- the board -----------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function announce(text) {
  $("board-announce").textContent = text;
}

function cardOf(alert) {
  let li = cards.get(alert.alert_id);
  if (li) return li;
  li = template.content.firstElementChild.cloneNode(true);
  const id = `alert-${alert.alert_id}`;
  li.dataset.alertId = alert.alert_id;
  li.querySelector(".alert__body").setAttribute("aria-labelledby", `${id}-what`);
  li.querySelector(".alert__what").id = `${id}-what`;
  const ack = li.querySelector(".alert__ack");
  ack.setAttribute("aria-describedby", `${id}-what`);
  ack.addEventListener("click", () => acknowledge(alert.alert_id, li));
  const note = li.querySelector(".alert__note");
  note.id = `${id}-note`;
  li.querySelector(".alert__note-label").htmlFor = note.id;
  li.querySelector(".alert__note-hint").id = `${id}-note-hint`;
  note.setAttribute("aria-describedby", `${id}-note-hint`);
  li.querySelector(".alert__resolve form").addEventListener("submit", (e) => {
    e.preventDefault();
    resolve(alert.alert_id, li);
  });
  const history = li.querySelector(".alert__history");
  history.addEventListener("toggle", () => {
    if (history.open) loadTimeline(alert.alert_id, li);
  });
  cards.set(alert.alert_id, li);
  return li;
}

function fill(li, a, now) {
  const severity = li.querySelector(".alert__severity");
  severity.className = `badge alert__severity badge--sev-${a.severity}`;
  severity.textContent = words(a.severity);
  const status = li.querySelector(".alert__status");
  status.className = `badge alert__status badge--${a.status === "open" ? "now" : "ok"}`;
  status.textContent = words(a.status);
  li.dataset.status = a.status;
  li.dataset.severity = a.severity;
  li.querySelector(".alert__what").textContent = whatText(a);
  li.querySelector(".alert__where").textContent = a.zone_name ?? "No zone";
  li.querySelector(".alert__opened").textContent =
    `${agoText(a.opened_at, now)} (${when(a.opened_at, now)})`;
  li.querySelector(".alert__count").textContent =
    a.count === 1 ? "1 report" : `${a.count} reports folded in`;
  li.querySelector(".alert__told").replaceChildren(
    ...toldLines(a.notified ?? [], now).map((line) => el("span", "alert__person", line)),
  );
  li.querySelector(".alert__next-label").textContent =
    a.status === "acknowledged" ? "Status" : "Next step";
  li.querySelector(".alert__next").textContent = nextText(a, now);
  li.querySelector(".alert__ack").hidden = a.status !== "open";
}

function render() {
  const now = suiteNow();
  board.dataset.state = answered ? (alerts.length ? "alerts" : "empty") : "loading";
  const note = $("board-note");
  note.hidden = answered && alerts.length > 0;
  if (answered && !alerts.length) note.textContent = "No open alerts.";
  const shown = new Set(alerts.map((a) => a.alert_id));
  for (const [id, li] of cards) {
    if (!shown.has(id)) {
      li.remove();
      cards.delete(id);
    }
  }
  alerts.forEach((a, i) => {
    const li = cardOf(a);
    fill(li, a, now);
    // Moved only when out of place: moving a card would take the focus from its form.
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
  const more = $("board-more");
  more.hidden = total <= alerts.length;
  more.textContent = `and ${total - alerts.length} more open alerts, less urgent`;
}

async function call(path, options = {}) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    return await fetch(path, {
      credentials: "same-origin",
      cache: "no-store",
      signal: abort.signal,
      ...options,
      headers: { Accept: "application/json", ...(options.headers ?? {}) },
    });
  } finally {
    clearTimeout(timer);
  }
}

async function problemText(res) {
  try {
    const body = await res.json();
    return body.detail ? `${body.title}: ${body.detail}` : body.title;
  } catch {
    return `HTTP ${res.status}`;
  }
}

function showError(text) {
  const error = $("board-error");
  error.hidden = !text;
  error.textContent = text ?? "";
}

/** Ask for the board; a nudge while a request is under way asks once more after it. */
async function refresh() {
  if (busy) {
    again = true;
    return busy;
  }
  busy = (async () => {
    do {
      again = false;
      try {
        const res = await call("/api/v1/alerts");
        if (res.status === 401) {
          window.location.assign(`/signin?next=${encodeURIComponent(location.pathname)}`);
          return;
        }
        if (!res.ok) throw new Error(await problemText(res));
        const answer = await res.json();
        const before = new Set(alerts.map((a) => a.alert_id));
        const fresh = answered ? answer.alerts.filter((a) => !before.has(a.alert_id)) : [];
        alerts = answer.alerts;
        total = answer.total;
        answered = true;
        showError(null);
        render();
        // "Closed today" (console_closed.js) asks again when an alert left the board: only a
        // resolution changes it, and most nudges (a step, a notification) are not one.
        const now = new Set(answer.alerts.map((a) => a.alert_id));
        if ([...before].some((id) => !now.has(id))) {
          document.dispatchEvent(new CustomEvent("board:alert-left"));
        }
        if (fresh.length) {
          const a = fresh[0];
          announce(`New ${a.severity} alert: ${whatText(a)}, ${a.zone_name ?? "no zone"}.`);
        }
        for (const li of cards.values()) {
          const history = li.querySelector(".alert__history");
          if (history.open) loadTimeline(li.dataset.alertId, li);
        }
      } catch (err) {
        showError(`The board could not be updated (${err.message || "no answer"}). It shows the last answer.`);
      }
    } while (again);
  })();
  try {
    await busy;
  } finally {
    busy = null;
  }
}

async function loadTimeline(alertId, li) {
  const ol = li.querySelector(".alert__timeline");
  try {
    const res = await call(`/api/v1/alerts/${alertId}`);
    if (!res.ok) throw new Error(await problemText(res));
    const { timeline } = await res.json();
    const now = suiteNow();
    ol.replaceChildren(
      ...timeline.map((e) => {
        const item = document.createElement("li");
        const time = document.createElement("time");
        time.dateTime = e.at;
        time.textContent = when(e.at, now);
        item.append(time, ` ${entryText(e)}`);
        return item;
      }),
    );
  } catch (err) {
    const item = document.createElement("li");
    item.textContent = `The timeline could not be loaded (${err.message || "no answer"}).`;
    ol.replaceChildren(item);
  }
}

// --- acknowledge and resolve ---------------------------------------------------------------

function alertError(li, text) {
  const error = li.querySelector(".alert__error");
  error.hidden = !text;
  error.textContent = text ?? "";
}

async function change(alertId, what, body) {
  return call(`/api/v1/alerts/${alertId}/${what}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfFromPage() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function acknowledge(alertId, li) {
  const button = li.querySelector(".alert__ack");
  button.disabled = true;
  alertError(li, null);
  try {
    const res = await change(alertId, "ack");
    if (!res.ok) throw new Error(await problemText(res));
    const acked = await res.json();
    alerts = alerts.map((a) =>
      a.alert_id === alertId ? { ...acked, notified: a.notified } : a,
    );
    render();
    announce(`Acknowledged: ${whatText(acked)}.`);
    li.querySelector(".alert__resolve summary").focus();
  } catch (err) {
    alertError(li, `Not acknowledged: ${err.message || "no answer"}. Try again.`);
  } finally {
    button.disabled = false;
  }
  refresh();
}

async function resolve(alertId, li) {
  const form = li.querySelector(".alert__resolve form");
  const note = form.querySelector(".alert__note");
  const error = form.querySelector(".form__error");
  const say = (text) => {
    error.hidden = !text;
    error.textContent = text ?? "";
    note.setAttribute("aria-invalid", text ? "true" : "false");
  };
  if (!note.value.trim()) {
    say("Write what was done: an outcome note is required.");
    note.focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const res = await change(alertId, "resolve", { note: note.value });
    if (res.status === 422) {
      say("Write what was done: an outcome note is required.");
      note.focus();
      return;
    }
    if (!res.ok) throw new Error(await problemText(res));
    const resolved = await res.json();
    say(null);
    alerts = alerts.filter((a) => a.alert_id !== alertId);
    total = Math.max(0, total - 1);
    render();
    document.dispatchEvent(new CustomEvent("board:alert-left"));
    announce(`Resolved: ${whatText(resolved)}.`);
    $("board-title").focus();
  } catch (err) {
    say(`Not resolved: ${err.message || "no answer"}. Try again.`);
  } finally {
    button.disabled = false;
  }
  refresh();
}

// --- live updates --------------------------------------------------------------------------

function live(state, text) {
  const line = $("board-live");
  line.dataset.state = state;
  line.textContent = text;
}

function connect() {
  if (source || !("EventSource" in globalThis)) return;
  if (document.visibilityState !== "visible") return;
  clearTimeout(reconnect);
  source = new EventSource("/api/v1/alerts/live");
  source.addEventListener("hello", () => {
    live("on", "Live");
    refresh(); // whatever changed while away is in the answer
  });
  source.addEventListener("alerts", () => refresh());
  source.addEventListener("ended", (m) => {
    let reason = null;
    try {
      reason = JSON.parse(m.data).reason;
    } catch {
      /* no reason given */
    }
    // A newer console of this person took over: this one waits to be shown again.
    if (reason === "replaced") disconnect();
  });
  source.onerror = () => {
    live("off", "Reconnecting…");
    if (source?.readyState === EventSource.CLOSED) {
      disconnect(); // refused (signed out): try again later, not in a tight loop
      reconnect = setTimeout(connect, RECONNECT_MS);
    }
  };
}

function disconnect() {
  source?.close();
  source = null;
  live("off", "Paused");
}

function start() {
  initSignOut();
  render();
  connect();
  refresh();
  setInterval(render, REDRAW_MS);
  // A nudge missed (the web reconnecting to NATS, a stream down) is caught up within a minute.
  setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      connect();
      refresh();
    } else {
      disconnect();
    }
  });
  addEventListener("online", () => refresh());
  board.dataset.school = ctx.school.id;
}

start();
