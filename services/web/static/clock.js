// The suite's time on the phone, for the occurred_at of what the officer does. On the wall clock
// (a real school day) it is the phone's own time, as it always was. Under a simulated clock (the
// demo runs a week in minutes) the services refuse an event more than 5 minutes ahead of the
// suite's time, so the phone stamps the last reading of GET /api/v1/clock moved on at the
// suite's rate by its own clock since: only the phone clock's pace matters, not its setting.
// A reading counts as of the moment its answer arrived, so the estimate trails the suite by at
// most a round trip (times the rate) and never runs ahead; trailing is harmless (30 days).
// A driven clock (a test moves it in steps, rate 0) cannot be foreseen: the last reading is
// stamped as it is, and asked for again every few seconds.

const KEY = "lookout-clock";
const WAIT_MS = 1500; // a weak signal: stamp from the kept reading rather than hold the page
const REFRESH_MS = { driven: 5_000, scaled: 60_000 };
const KINDS = new Set(["wall", "scaled", "driven"]);

let reading = kept();
let refresh = null;

function kept() {
  try {
    const r = JSON.parse(localStorage.getItem(KEY));
    return r && KINDS.has(r.kind) && Number.isFinite(r.suiteMs + r.atMs + r.rate) ? r : null;
  } catch {
    return null; // no storage (a private window): a reading per page load
  }
}

function estimate(r, nowMs) {
  return r.suiteMs + Math.max(0, nowMs - r.atMs) * r.rate;
}

/** The suite's time now, as a Date: the phone's own time on the wall clock. */
export function suiteNow() {
  if (!reading || reading.kind === "wall") return new Date();
  return new Date(Math.floor(estimate(reading, Date.now())));
}

/** Ask the server for the suite's time; false when it could not be had (offline, slow). */
export async function syncClock(timeoutMs = WAIT_MS) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch("/api/v1/clock", { cache: "no-store", signal: abort.signal });
    if (!res.ok) return false;
    const body = await res.json();
    const atMs = Date.now();
    const suiteMs = Date.parse(body.now);
    const rate = Number(body.rate);
    if (!KINDS.has(body.kind) || !Number.isFinite(suiteMs) || !(rate >= 0)) return false;
    const fresh = { id: String(body.id), kind: body.kind, rate, suiteMs, atMs };
    // Both are lower bounds of the suite's time: of two readings of one running clock, the
    // later estimate is the better (an answer that came back slowly trails more).
    const better =
      reading && reading.id === fresh.id && rate > 0 && estimate(reading, atMs) > suiteMs;
    if (!better) {
      reading = fresh;
      try {
        localStorage.setItem(KEY, JSON.stringify(fresh));
      } catch {
        /* kept for this page only */
      }
    }
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    scheduleRefresh();
  }
}

function scheduleRefresh() {
  clearTimeout(refresh);
  const every = REFRESH_MS[reading?.kind];
  refresh = every ? setTimeout(syncClock, every) : null;
}

addEventListener("online", () => syncClock());

// Before the page's first action (a checkpoint URL records its scan at once): a fresh reading,
// unless this phone already knows the suite keeps real time (then it comes in the background).
const first = syncClock();
if (reading?.kind !== "wall") await first;
