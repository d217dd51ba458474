// What every page of the phone app shares: its context, the outbox and sync, the service worker,
// and the words for an event's state.

import { openOutbox } from "./outbox.js";
import { initSignOut } from "./signout.js";
import { Sync } from "./sync.js";

/** The school, the officer and the checkpoints the server rendered into the page. */
export function readContext(doc = document) {
  return JSON.parse(doc.getElementById("lookout-context").textContent);
}

/** The outbox, this phone's device id and a started sync for the signed-in officer. */
export async function startPhone(ctx) {
  const outbox = await openOutbox();
  const deviceId = await outbox.deviceId();
  const sync = new Sync({ outbox, personId: ctx.person.id, deviceId });
  registerServiceWorker();
  initSignOut();
  return { outbox, deviceId, sync };
}

export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
    /* no offline shell (an insecure origin, say): the outbox still keeps every action */
  });
}

/** "saved on phone" until the receipt: "delivered ✓" or "rejected: <reason>". */
export function stateText(record) {
  if (record.state === "delivered") return "delivered ✓";
  if (record.state === "rejected") return `rejected: ${record.reason}`;
  return "saved on phone";
}

export function timeText(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? ""
    : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
