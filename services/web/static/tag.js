// A checkpoint URL (/t/<school>/<tag>, from its NFC tag or QR code): record the scan on load,
// once, and show what became of it.

import { buildAction } from "./actions.js";
import { readContext, startPhone, stateText, timeText } from "./page.js";

const ctx = readContext();
const { outbox, deviceId, sync } = await startPhone(ctx);
const card = document.getElementById("scan-result");
const state = document.getElementById("scan-state");
const when = document.getElementById("scan-time");

// A reload of this page (or the browser restoring it) is not a new scan.
let eventId = history.state?.recorded;
if (!eventId || !(await outbox.get(eventId))) {
  const method = new URLSearchParams(location.search).get("m") === "nfc" ? "nfc" : "qr";
  const values = { tag: card.dataset.tag, zone_id: card.dataset.zone, method };
  const { event, label } = buildAction("checkpoint.scanned", values, { ctx, deviceId });
  await outbox.add(event, { label, personId: ctx.person.id });
  await outbox.setMeta(`last_zone:${ctx.school.id}`, values.zone_id);
  eventId = event.event_id;
  history.replaceState({ recorded: eventId }, "");
}

async function render() {
  const record = await outbox.get(eventId);
  if (!record) return;
  state.textContent = `Scan ${stateText(record)}`;
  state.dataset.state = record.state;
  when.textContent = `Scanned at ${timeText(record.created_at)}`;
}

outbox.onChange(render);
await render();
sync.start();
