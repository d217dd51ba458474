// The Today card: the next planned windows, unannounced checks (pushed live over Server-Sent
// Events the moment they are scheduled), welfare follow-ups due, the officer's open concerns and
// the alerts she was paged for (each with who has its alert), from GET /api/v1/today. The last
// answer is kept on the phone (IndexedDB) and shown "as of HH:MM" without signal. While the app
// is open and visible the phone also says it is alive (device.heartbeat) for the lone-worker
// watch: sent straight away, never queued, since a heartbeat that arrives late says nothing
// about now.

import { zoneName } from "./actions.js";
import { whatText } from "./alert_words.js";
import { suiteNow } from "./clock.js";
import { makeEvent, openOutbox } from "./outbox.js";
import { readContext } from "./page.js";
import { csrfFromPage } from "./sync.js";

// The rest as "and N more": the card must not push Scan far off the screen.
const SHOWN_WINDOWS = 4;
const SHOWN_CHECKS = 3;
const FIRST_HEARTBEAT_S = 60; // until the server says (a third of the school's silence limit)
const NUDGE_DELAY_MS = 1000; // a bell closes every zone's window at once: one fetch for the burst
const FETCH_TIMEOUT_MS = 8000;
const RECONNECT_MS = 60000; // after the server refused the stream (signed out, say)
const REDRAW_MS = 30000; // windows and checks leave the card when their time has passed

// concerns.js (the update/resolve and follow-up check-in forms) adds its buttons here when it is
// there; without it the items are shown without them.
const concernForms = import("./concerns.js").catch(() => null);

const ctx = readContext();
const key = `today:${ctx.school.id}:${ctx.person.id}`;
const $ = (id) => document.getElementById(id);
const card = $("today");

let outbox = null;
let deviceId = null;
let kept = { answer: null, live: [] }; // what the phone keeps: the last answer, pushed items
let fresh = false; // the answer shown came from the server since this page opened
let csrf = csrfFromPage();
let source = null;
let nudge = null;
let reconnect = null;
let beats = null;
let beatEvery = FIRST_HEARTBEAT_S;
const offered = new Set(); // concern ids handed to the resolve/update picker

// --- words ---------------------------------------------------------------------------------

const words = (value) => {
  const text = String(value).replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
};

const SENSOR_WORDS = {
  vape: "Vape sensor",
  thc: "THC sensor",
  loud_sound: "Loud sound",
  tamper: "Sensor tampered with",
};

function sameDay(a, b) {
  return a.toDateString() === b.toDateString();
}

// Times as the phone's locale writes them: "9:32 – 9:39 AM" in the US, "09:32–09:39" in Europe.
const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });

function timeText(iso) {
  return TIME.format(new Date(iso));
}

/** A span of two times, said once where the locale can ("9:32 – 9:39 AM"). */
function span(startIso, endIso) {
  try {
    return TIME.formatRange(new Date(startIso), new Date(endIso));
  } catch {
    return `${timeText(startIso)}–${timeText(endIso)}`;
  }
}

/** "9:32 AM" today, "Fri 9:32 AM" another day. */
function when(iso, now) {
  const d = new Date(iso);
  if (sameDay(d, now)) return timeText(iso);
  return `${d.toLocaleDateString([], { weekday: "short" })} ${timeText(iso)}`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function item(title, meta, ...extra) {
  const li = el("li", "today__item");
  const main = el("span", "today__main");
  main.append(el("span", "today__what", title), el("span", "today__meta", meta));
  li.append(main, ...extra.filter(Boolean));
  return li;
}

const badge = (text, kind) => el("span", `badge badge--${kind}`, text);

// --- what is shown -------------------------------------------------------------------------

function unannouncedChecks(now) {
  const answer = kept.answer;
  const pushed = kept.live.filter((p) => p.kind === "unannounced_check");
  const all = [...(answer?.unannounced ?? []), ...pushed];
  const seen = new Map();
  for (const u of all) {
    const k = `${u.zone_id}|${Date.parse(u.check_at)}`;
    if (!seen.has(k) || u.fresh) seen.set(k, u);
  }
  return [...seen.values()]
    .filter((u) => Date.parse(u.deadline_at ?? u.window_end) >= now.getTime())
    .filter((u) => sameDay(new Date(u.check_at), now))
    .sort((a, b) => Date.parse(a.check_at) - Date.parse(b.check_at));
}

function followUps(now) {
  const answer = kept.answer;
  const pushed = kept.live.filter((p) => p.kind === "follow_up_due");
  const byId = new Map((answer?.follow_ups ?? []).map((f) => [f.concern_id, f]));
  for (const p of pushed) {
    if (!byId.has(p.concern_id)) byId.set(p.concern_id, { ...p, overdue: false });
  }
  return [...byId.values()]
    .map((f) => ({ ...f, overdue: f.overdue || Date.parse(f.due_at) < now.getTime() }))
    .sort((a, b) => Date.parse(a.due_at) - Date.parse(b.due_at));
}

function fill(listId, nodes) {
  $(listId).replaceChildren(...nodes);
  card.querySelector(`[data-empty="${listId}"]`).hidden = nodes.length > 0 || !kept.answer;
}

async function render() {
  const now = suiteNow();
  const answer = kept.answer;
  const forms = await concernForms;
  card.dataset.state = answer ? (fresh ? "fresh" : "kept") : kept.live.length ? "live" : "none";
  const asof = $("today-asof");
  asof.hidden = !answer || fresh;
  if (answer) asof.textContent = `as of ${when(answer.as_of, now)}`;
  const note = $("today-note");
  note.hidden = Boolean(answer);
  if (!answer && card.dataset.tried) {
    note.textContent = "Today's patrol shows here once the phone has had signal.";
  }

  // Sensor alerts first: a vape alert is now, and any SSO's scan of the zone ends it.
  const sensors = answer?.sensor_checks ?? [];
  fill(
    "today-sensors",
    sensors.map((c) => {
      const kind = SENSOR_WORDS[c.sensor_kind] ?? words(c.sensor_kind);
      const what = `${kind} · ${zoneName(ctx.zones, c.zone_id)}`;
      const meta = `${when(c.raised_at, now)} · scan by ${timeText(c.check_by)}`;
      const state = c.overdue ? badge("overdue", "bad") : c.mine ? badge("yours", "now") : null;
      const li = item(what, meta, state);
      li.dataset.sensorEventId = c.sensor_event_id;
      return li;
    }),
  );

  const checks = unannouncedChecks(now);
  // The soonest, and any that just arrived: a new check is never hidden under "more".
  const shownChecks = checks.filter((u, i) => i < SHOWN_CHECKS || u.fresh);
  fill(
    "today-unannounced",
    shownChecks.map((u) => {
      // An unannounced check has no grace: its deadline is its end, said once.
      const late = u.deadline_at && Date.parse(u.deadline_at) !== Date.parse(u.window_end);
      const open = Date.parse(u.check_at) <= now.getTime();
      const li = item(
        zoneName(ctx.zones, u.zone_id),
        span(u.check_at, u.window_end) + (late ? ` · by ${timeText(u.deadline_at)}` : ""),
        u.fresh ? badge("new", "new") : open ? badge("open now", "now") : null,
      );
      li.classList.add("today__item--unannounced");
      return li;
    }),
  );

  const ahead = (answer?.windows ?? []).filter((w) => Date.parse(w.deadline_at) >= now.getTime());
  fill(
    "today-windows",
    ahead.slice(0, SHOWN_WINDOWS).map((w) => {
      const open = Date.parse(w.window_start) <= now.getTime();
      return item(
        zoneName(ctx.zones, w.zone_id),
        `${span(w.window_start, w.window_end)} · by ${timeText(w.deadline_at)}`,
        w.checked ? badge("checked ✓", "ok") : open ? badge("open now", "now") : null,
      );
    }),
  );
  const unfetched = answer ? answer.windows_total - answer.windows.length : 0;
  const more = ahead.length - Math.min(ahead.length, SHOWN_WINDOWS) + unfetched;
  moreLine("today-windows-more", more, "window");
  const beyond = answer ? answer.unannounced_total - answer.unannounced.length : 0;
  moreLine("today-unannounced-more", checks.length - shownChecks.length + beyond, "check");

  fill(
    "today-follow-ups",
    followUps(now).map((f) => {
      const where = f.zone_id ? zoneName(ctx.zones, f.zone_id) : "No zone";
      const due = `${f.overdue ? "overdue since" : "due by"} ${when(f.due_at, now)}`;
      let action = null;
      if (typeof forms?.startFollowUp === "function") {
        action = el("button", "btn btn--small", "Check in");
        action.type = "button";
        action.setAttribute("aria-label", `Check in: follow-up in ${where}`);
        action.addEventListener("click", () => {
          forms.startFollowUp(f.concern_id, f.zone_id ?? null);
        });
      }
      const what = `${f.category ? words(f.category) : "Follow-up"} · ${where}`;
      const li = item(what, due, f.overdue ? badge("overdue", "bad") : null, action);
      li.dataset.concernId = f.concern_id;
      return li;
    }),
  );

  const concerns = answer?.concerns ?? [];
  fill(
    "today-concerns",
    concerns.map((c) => {
      if (typeof forms?.addConcernChoice === "function" && !offered.has(c.concern_id)) {
        offered.add(c.concern_id);
        forms.addConcernChoice(c);
      }
      const where = c.zone_id ? ` · ${zoneName(ctx.zones, c.zone_id)}` : "";
      const severity = badge(c.severity, `sev-${c.severity}`);
      const raised = `raised ${when(c.raised_at, now)}`;
      const closure = alertLine(c.alert, answer?.names ?? {}, now);
      const li = item(`${words(c.category)}${where}`, closure ? `${raised} · ${closure}` : raised, severity);
      li.dataset.concernId = c.concern_id;
      return li;
    }),
  );

  // Alerts the officer was paged for that are not her own concerns': who has each.
  const paged = answer?.paged ?? [];
  fill(
    "today-paged",
    paged.map((a) => {
      const where = a.zone_id ? ` · ${zoneName(ctx.zones, a.zone_id)}` : "";
      const told = `paged ${when(a.paged_at, now)}`;
      const closure = alertLine(a, answer?.names ?? {}, now);
      const severity = badge(a.severity, `sev-${a.severity}`);
      const li = item(`${whatText(a)}${where}`, `${told} · ${closure}`, severity);
      li.dataset.alertId = a.alert_id;
      return li;
    }),
  );
  const morePaged = answer ? answer.paged_total - paged.length : 0;
  const pagedLine = $("today-paged-more");
  pagedLine.hidden = morePaged <= 0;
  pagedLine.textContent = `and ${morePaged} more`;
}

/** What became of an alert: who has it (loop closure), or that nobody has yet. */
export function alertLine(alert, names, now) {
  if (!alert) return "";
  if (alert.state === "open") return "alert not acknowledged yet";
  const who = names[alert.by] ?? alert.by ?? "someone";
  return `alert ${alert.state} by ${who} ${when(alert.at, now)}`;
}

function moreLine(id, more, what) {
  const line = $(id);
  line.hidden = more <= 0;
  line.textContent = `and ${more} more ${what}${more === 1 ? "" : "s"} today`;
}

function announce(text) {
  $("today-announce").textContent = text;
}

const KEEP_LIVE = 50;
const KEEP_PAST_MS = 7 * 24 * 3600 * 1000; // a missed follow-up stays as long as the server's

async function keep() {
  // Pushed items leave once their time has passed: the phone keeps a bounded list.
  const now = suiteNow().getTime();
  const current = (p) =>
    p.kind === "unannounced_check"
      ? Date.parse(p.window_end) >= now
      : Date.parse(p.due_at) >= now - KEEP_PAST_MS;
  kept = { ...kept, live: kept.live.filter(current).slice(-KEEP_LIVE) };
  try {
    await outbox.setMeta(key, kept);
  } catch {
    /* storage full or gone: the card still shows what this page has */
  }
}

// --- the server's answer -------------------------------------------------------------------

async function refresh() {
  clearTimeout(nudge);
  nudge = null;
  card.dataset.tried = "yes";
  if (navigator.onLine === false) {
    fresh = false;
    await render();
    return;
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    const res = await fetch("/api/v1/today", {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
      signal: abort.signal,
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const answer = await res.json();
    const asOf = Date.parse(answer.as_of);
    // A pushed follow-up the answer no longer lists was done; a pushed unannounced check stays
    // until its time has passed (the answer lists it too, shown once).
    kept = {
      answer,
      live: kept.live.filter((p) => p.kind === "unannounced_check" || p.received_at > asOf),
    };
    fresh = true;
    setHeartbeatEvery(answer.heartbeat_seconds);
    await keep();
  } catch {
    fresh = false; // without signal, or the patrol service is away: the kept answer, as of then
  } finally {
    clearTimeout(timer);
  }
  await render();
}

function refreshSoon() {
  clearTimeout(nudge);
  nudge = setTimeout(refresh, NUDGE_DELAY_MS);
}

// --- live updates --------------------------------------------------------------------------

function parse(message) {
  try {
    return JSON.parse(message.data);
  } catch {
    return null;
  }
}

async function pushed(kind, data) {
  if (!data) return;
  const now = suiteNow();
  const fields = { kind, received_at: now.getTime(), fresh: true };
  const others = kept.live.filter((p) => p.event_id !== data.event_id);
  kept = { ...kept, live: [...others, { ...data, ...fields }] };
  await keep();
  await render();
  const where = zoneName(ctx.zones, data.zone_id);
  if (kind === "unannounced_check" && sameDay(new Date(data.check_at), now)) {
    announce(`Unannounced check scheduled: ${where}, ${timeText(data.check_at)}.`);
  } else if (kind === "follow_up_due") {
    announce(`Follow-up due${data.zone_id ? ` in ${where}` : ""} by ${when(data.due_at, now)}.`);
  }
}

/** A sensor alert asked of this officer: say so at once, and ask Today (which lists it). */
function sensorAlert(data) {
  if (!data) return;
  const what = SENSOR_WORDS[data.sensor_kind] ?? words(data.sensor_kind);
  announce(`${what} in ${zoneName(ctx.zones, data.zone_id)}: scan by ${timeText(data.check_by)}.`);
  refresh();
}

function connect() {
  if (source || !("EventSource" in globalThis)) return;
  if (document.visibilityState !== "visible" || navigator.onLine === false) return;
  clearTimeout(reconnect);
  source = new EventSource("/api/v1/live");
  source.addEventListener("hello", () => refresh()); // whatever came while away is in the answer
  source.addEventListener("today", refreshSoon);
  source.addEventListener("unannounced_check", (m) => pushed("unannounced_check", parse(m)));
  source.addEventListener("follow_up_due", (m) => pushed("follow_up_due", parse(m)));
  source.addEventListener("sensor_check", (m) => sensorAlert(parse(m)));
  source.addEventListener("ended", (m) => {
    // A newer stream of this officer (another tab) took over: this one waits to be shown again
    // rather than take it back. Other ends (the server stopping) reconnect by themselves.
    if (parse(m)?.reason === "replaced") disconnect();
  });
  source.onerror = () => {
    if (source?.readyState === EventSource.CLOSED) {
      disconnect(); // refused (signed out, locked): try again later, not in a tight loop
      reconnect = setTimeout(connect, RECONNECT_MS);
    }
  };
}

function disconnect() {
  source?.close();
  source = null;
}

// --- heartbeats ----------------------------------------------------------------------------

async function post(event) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    return await fetch("/api/v1/events", {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ device_id: deviceId, events: [event] }),
      signal: abort.signal,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** A token from the page again (a page kept offline may carry an old session's). */
async function freshCsrf() {
  const res = await fetch("/app", { cache: "no-store", credentials: "same-origin" });
  if (!res.ok || res.redirected) return false;
  const doc = new DOMParser().parseFromString(await res.text(), "text/html");
  csrf = csrfFromPage(doc) || csrf;
  return true;
}

/** device.heartbeat now: the server adds the device and officer from the session. */
async function heartbeat() {
  if (navigator.onLine === false || !deviceId) return;
  const env = { schoolId: ctx.school.id, deviceId, now: suiteNow() };
  const event = makeEvent("device.heartbeat", {}, env);
  try {
    const res = await post(event);
    await res.body?.cancel(); // the receipt is not needed: a heartbeat is never retried
    if (res.status === 403 && (await freshCsrf())) await post(event);
  } catch {
    /* dropped: the next one goes at its time */
  }
}

function startBeats() {
  stopBeats();
  heartbeat();
  beats = setInterval(heartbeat, beatEvery * 1000);
}

function stopBeats() {
  clearInterval(beats);
  beats = null;
}

function setHeartbeatEvery(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds === beatEvery) return;
  beatEvery = seconds;
  if (beats !== null) {
    clearInterval(beats);
    beats = setInterval(heartbeat, beatEvery * 1000);
  }
}

// --- start ---------------------------------------------------------------------------------

function visible() {
  startBeats();
  connect();
}

async function start() {
  outbox = await openOutbox();
  deviceId = await outbox.deviceId();
  const stored = await outbox.getMeta(key).catch(() => null);
  if (stored?.answer || stored?.live) {
    const live = (stored.live ?? []).map((p) => ({ ...p, fresh: false })); // "new" on arrival only
    kept = { answer: stored.answer ?? null, live };
    setHeartbeatEvery(kept.answer?.heartbeat_seconds);
  }
  await render(); // the kept answer at once, as of when it came
  if (document.visibilityState === "visible") visible(); // the first heartbeat binds the phone
  refresh();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      visible();
      refresh();
    } else {
      stopBeats();
      disconnect();
    }
  });
  addEventListener("online", () => {
    if (document.visibilityState === "visible") visible();
    refresh();
  });
  addEventListener("offline", () => {
    disconnect();
    fresh = false;
    render();
  });
  setInterval(render, REDRAW_MS);
}

start();
