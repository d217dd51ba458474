// The principal's console, below the alert board: "Needs your attention" (GET
// /api/v1/console/attention: unacknowledged alerts, concerns open too long, welfare re-checks
// missed) and "School now" (GET /api/v1/console/now: each zone's last check and next window,
// where the SSO last scanned, today's missed checks, today's sensor alerts). Asked again when the live stream (GET
// /api/v1/console/live) nudges `alerts` or `today`, and every minute; every item in words,
// never a student reference or a note (the server sends none). Times are the suite's.

import { suiteNow } from "./clock.js";
import { drawAreas, nowPath, onAreaChange } from "./console_area.js";

const FETCH_TIMEOUT_MS = 8000;
const POLL_MS = 60000;
const RECONNECT_MS = 30000;

const $ = (id) => document.getElementById(id);
const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });

let busy = null;
let again = false;
let source = null;
let reconnect = null;

function when(iso, now) {
  const d = new Date(iso);
  const time = TIME.format(d);
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.toLocaleDateString([], { weekday: "short" })} ${time}`;
}

/** "12 min", "3 h 5 min", "2 d 17 h". */
export function ageText(minutes) {
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** One attention item in words: what, where, for how long, who has it. */
export function attentionLines(item) {
  const where = item.zone_name ?? "No zone given";
  const age = item.age_minutes < 1 ? "just now" : `${ageText(item.age_minutes)} ago`;
  const since = { alert: "opened", concern: "raised", follow_up: "missed", visitor: "closed" }[item.kind];
  const label = { alert: "Told last", concern: "Raised by", follow_up: "Asked of", visitor: "Acknowledged by" };
  const who = item.owner ? `${label[item.kind]}: ${item.owner}` : "Nobody named yet";
  return [item.what, `${where} · ${since} ${age}`, who];
}

function lines(list, texts, empty) {
  const items = texts.length ? texts : [empty];
  list.replaceChildren(
    ...items.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }),
  );
}

/** GET a console route as JSON; a 401 goes to sign-in, a problem throws with its title. */
export async function ask(path) {
  const response = await fetch(path, {
    headers: { Accept: "application/json" },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (response.status === 401) {
    location.assign(`/signin?next=${encodeURIComponent(location.pathname)}`);
    throw new Error("signed out");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.title || "no answer"), body);
  return body;
}

function showError(part, err) {
  const box = $(`${part}-error`);
  // A role that does not ask the patrol service has no "School now": said once, quietly.
  if (err.status === 403) {
    $(`${part}-note`).textContent = "Not shown for your role.";
    $(`${part}-note`).hidden = false;
    box.hidden = true;
    return;
  }
  box.textContent = `${err.message || "No answer"}. Showing the last answer; retrying.`;
  box.hidden = false;
}

function drawAttention(answer) {
  const section = $("attention");
  const list = $("attention-list");
  const note = $("attention-note");
  list.replaceChildren(
    ...answer.items.map((item) => {
      const li = document.createElement("li");
      li.className = "card attention";
      li.dataset.kind = item.kind;
      if (item.severity) li.dataset.severity = item.severity;
      const [what, where, who] = attentionLines(item);
      const head = document.createElement("p");
      head.className = "attention__what";
      if (item.alert_id) {
        const link = document.createElement("a");
        link.href = `#alert-${item.alert_id}-what`; // the board card's heading
        link.textContent = what;
        head.append(link);
      } else {
        head.textContent = what;
      }
      const place = document.createElement("p");
      place.textContent = where;
      const owner = document.createElement("p");
      owner.className = "muted";
      owner.textContent = who;
      li.append(head, place, owner);
      return li;
    }),
  );
  const more = answer.total - answer.items.length;
  const parts = [];
  if (!answer.items.length) parts.push("Nothing needs your attention.");
  if (more > 0) parts.push(`${more} more not shown.`);
  if (!answer.patrol_shown) parts.push("Alerts only: patrol items are not shown for your role.");
  note.textContent = parts.join(" ");
  note.hidden = !parts.length;
  section.dataset.state = "ready";
}

function drawNow(answer) {
  const now = suiteNow();
  lines(
    $("now-officers"),
    answer.officers.map((o) =>
      o.at ? `${o.name}: ${o.zone_name}, ${when(o.at, now)}` : `${o.name}: no scan yet`,
    ),
    "No SSO in the school file.",
  );
  const missed = answer.missed.map(
    (m) =>
      `${m.zone_name}: ${when(m.window_start, now)}–${TIME.format(new Date(m.window_end))}` +
      `${m.unannounced ? " (unannounced)" : ""}`,
  );
  const extra = answer.missed_total - answer.missed.length;
  if (extra > 0) missed.push(`${extra} more`);
  lines($("now-missed"), missed, "None today.");
  // Today's sensor alerts by kind, in the server's words; shown where the school has sensors.
  const sensors = $("now-sensors");
  sensors.closest(".card").hidden = !answer.sensors_configured && !answer.sensors.length;
  lines(sensors, answer.sensors.map((s) => s.words), "No sensor alerts today.");
  lines(
    $("now-zones"),
    answer.zones.map((z) => {
      const last = z.last_check_at
        ? `checked ${when(z.last_check_at, now)}${z.last_checked_by ? ` by ${z.last_checked_by}` : ""}`
        : "not checked yet";
      const next = z.next_window_start
        ? `next ${TIME.format(new Date(z.next_window_start))}–${TIME.format(new Date(z.next_window_end))}`
        : "no window ahead";
      return `${z.zone_name}: ${last}; ${next}`;
    }),
    "No zones.",
  );
  drawAreas(answer);
  $("now-note").hidden = true;
  $("now-parts").hidden = false;
  $("now").dataset.state = "ready";
}

async function load(part, path, draw) {
  try {
    draw(await ask(path));
    $(`${part}-error`).hidden = true;
  } catch (err) {
    showError(part, err);
  }
}

/** Both parts, one round at a time; a nudge during a round asks once more after it. */
export async function refresh() {
  if (busy) {
    again = true;
    return busy;
  }
  busy = Promise.all([
    load("attention", "/api/v1/console/attention", drawAttention),
    load("now", nowPath(), drawNow),
  ]);
  try {
    await busy;
  } finally {
    busy = null;
  }
  if (again) {
    again = false;
    await refresh();
  }
}

function connect() {
  if (source || !("EventSource" in globalThis)) return;
  if (document.visibilityState !== "visible") return;
  clearTimeout(reconnect);
  source = new EventSource("/api/v1/console/live");
  source.addEventListener("hello", () => refresh());
  source.addEventListener("alerts", () => refresh());
  source.addEventListener("today", () => refresh());
  source.addEventListener("ended", (m) => {
    let reason = null;
    try {
      reason = JSON.parse(m.data).reason;
    } catch {
      /* no reason given */
    }
    if (reason === "replaced") disconnect();
  });
  source.onerror = () => {
    if (source?.readyState === EventSource.CLOSED) {
      disconnect();
      reconnect = setTimeout(connect, RECONNECT_MS);
    }
  };
}

function disconnect() {
  source?.close();
  source = null;
}

function start() {
  if (!$("attention")) return;
  connect();
  onAreaChange(refresh);
  refresh();
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
}

start();
