// The console's "Closed today" (GET /api/v1/console/closed): the alerts resolved since the start
// of the school's day, who resolved each and when, so everyone who was paged sees who closed it.
// Asked when the page opens and whenever an alert left the board (resolved here or
// elsewhere, as the live nudge told the board); never a note (the server sends none).

const FETCH_TIMEOUT_MS = 8000;
const $ = (id) => document.getElementById(id);
const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });

let busy = null;
let again = false;

/** One closed alert in words: what and where, who resolved it when, who had acknowledged it. */
export function closedLines(a) {
  const what = `${a.what[0].toUpperCase()}${a.what.slice(1)} (${a.severity})`;
  const where = a.zone_name ? `${a.zone_name} · opened ${TIME.format(new Date(a.opened_at))}` : `opened ${TIME.format(new Date(a.opened_at))}`;
  const resolved = `Resolved by ${a.resolved_by} at ${TIME.format(new Date(a.resolved_at))}`;
  const acked = a.acknowledged_by ? `Acknowledged by ${a.acknowledged_by}` : "Never acknowledged";
  return [what, where, resolved, acked];
}

function draw(answer) {
  $("closed-list").replaceChildren(
    ...answer.alerts.map((a) => {
      const li = document.createElement("li");
      li.className = "card attention";
      const [what, where, resolved, acked] = closedLines(a);
      for (const [text, className] of [[what, "attention__what"], [where, ""], [resolved, ""], [acked, "muted"]]) {
        const p = document.createElement("p");
        p.textContent = text;
        if (className) p.className = className;
        li.append(p);
      }
      return li;
    }),
  );
  const note = $("closed-note");
  note.textContent = answer.alerts.length ? "" : "No alert was resolved today.";
  note.hidden = answer.alerts.length > 0;
  $("closed-error").hidden = true;
  $("closed").dataset.state = "ready";
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
        const response = await fetch("/api/v1/console/closed", {
          headers: { Accept: "application/json" },
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        });
        if (!response.ok) throw new Error((await response.json().catch(() => ({}))).title || "no answer");
        draw(await response.json());
      } catch (err) {
        const box = $("closed-error");
        box.textContent = `${err.message || "No answer"}. Showing the last answer; retrying.`;
        box.hidden = false;
      }
    } while (again);
  })();
  try {
    await busy;
  } finally {
    busy = null;
  }
}

if ($("closed")) {
  refresh();
  document.addEventListener("board:alert-left", () => refresh());
}
