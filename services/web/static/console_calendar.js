// The console's school calendar: a Confirm or Withdraw button posts to
// /api/v1/console/calendar/confirm|withdraw (this session's CSRF token in a header); once the
// patrol service plans by the change (GET /api/v1/console/calendar says so, a moment after
// JetStream stored it) the server-rendered page is loaded again; a refusal is shown in words.

const $ = (id) => document.getElementById(id);
const FETCH_TIMEOUT_MS = 10000;
const SETTLE_MS = 10000;
const SETTLE_EVERY_MS = 250;

/** Until the day is (or is no longer) in effect, or SETTLE_MS have passed. */
async function settled(day, inEffect) {
  const until = Date.now() + SETTLE_MS;
  while (Date.now() < until) {
    const response = await fetch("/api/v1/console/calendar", {
      headers: { Accept: "application/json" },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    const view = await response.json().catch(() => ({ in_effect: [] }));
    if (view.in_effect.some((d) => d.day === day) === inEffect) return;
    await new Promise((done) => setTimeout(done, SETTLE_EVERY_MS));
  }
}

async function post(path, body) {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || answer.title || "no answer");
  return answer;
}

async function change(button, path) {
  button.disabled = true;
  try {
    const day = button.dataset.confirm || button.dataset.withdraw;
    await post(path, { day });
    $("calendar-error").hidden = true;
    await settled(day, Boolean(button.dataset.confirm));
    location.reload();
  } catch (err) {
    const box = $("calendar-error");
    box.textContent = `Not changed: ${err.message}`;
    box.hidden = false;
    button.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm], button[data-withdraw]");
  if (!button) return;
  const path = button.dataset.confirm ? "confirm" : "withdraw";
  change(button, `/api/v1/console/calendar/${path}`);
});
