// The phone's outbox: every action is an event made here, with its own event_id, and written to
// IndexedDB before anything is sent. The server's per-event receipt settles it: "delivered" or
// "rejected" (with the reason). A settled record keeps only its label: the note and the student
// references leave the phone once the server has them.

const DB_VERSION = 1;
const KEEP_SETTLED = 50; // settled records shown under "Recent"; older ones are dropped
const CHANNEL = "lookout-outbox";

/** A UUID v4; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newUuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The phone's local time as ISO 8601 with its UTC offset: 2026-12-04T09:15:02.123-06:00. */
export function isoWithOffset(date = new Date()) {
  const pad = (n, w = 2) => String(Math.abs(n)).padStart(w, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

/** An event as lookout/contracts defines it; the server sets `actor` from the session anyway. */
export function makeEvent(type, fields, { schoolId, deviceId, now = new Date() }) {
  return {
    event_id: newUuid(),
    type,
    schema_version: 1,
    school_id: schoolId,
    occurred_at: isoWithOffset(now),
    actor: { kind: "sso_device", id: deviceId },
    ...fields,
  };
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

/** Open (or create) the phone's database. */
export async function openOutbox(name = "lookout") {
  const request = indexedDB.open(name, DB_VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    const outbox = db.createObjectStore("outbox", { keyPath: "event_id" });
    outbox.createIndex("by_state", ["state", "seq"]);
    outbox.createIndex("by_seq", "seq");
    db.createObjectStore("meta");
  };
  return new Outbox(await done(request));
}

let lastSeq = 0;
function nextSeq() {
  lastSeq = Math.max(Date.now() * 1000, lastSeq + 1);
  return lastSeq;
}

export class Outbox {
  constructor(db) {
    this.db = db;
    this.listeners = new Set();
    this.channel = "BroadcastChannel" in globalThis ? new BroadcastChannel(CHANNEL) : null;
    if (this.channel) this.channel.onmessage = () => this.#notify(false);
  }

  /** Call `fn` whenever the outbox changes, in this tab or another. */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  #notify(broadcast = true) {
    if (broadcast) this.channel?.postMessage("changed");
    for (const fn of this.listeners) fn();
  }

  async getMeta(key) {
    return done(this.db.transaction("meta").objectStore("meta").get(key));
  }

  async setMeta(key, value) {
    const tx = this.db.transaction("meta", "readwrite");
    tx.objectStore("meta").put(value, key);
    await finished(tx);
  }

  /** This phone's device id: made once, kept for good. */
  async deviceId() {
    const tx = this.db.transaction("meta", "readwrite");
    const meta = tx.objectStore("meta");
    let id = await done(meta.get("device_id"));
    if (!id) {
      id = `phone-${newUuid()}`;
      meta.put(id, "device_id");
    }
    await finished(tx);
    return id;
  }

  /** Keep an event before anything is sent; `personId` is who made it (sent only under them). */
  async add(event, { label, personId }) {
    const record = {
      event_id: event.event_id,
      seq: nextSeq(),
      state: "queued",
      label,
      person_id: personId,
      created_at: event.occurred_at,
      event,
      reason: null,
      attempts: 0,
    };
    const tx = this.db.transaction("outbox", "readwrite");
    tx.objectStore("outbox").add(record);
    await finished(tx);
    this.#notify();
    return record;
  }

  async get(eventId) {
    return done(this.db.transaction("outbox").objectStore("outbox").get(eventId));
  }

  /** The oldest queued records made by `personId`, at most `limit`. */
  async queued(personId, limit = 100) {
    const index = this.db.transaction("outbox").objectStore("outbox").index("by_state");
    const range = IDBKeyRange.bound(["queued", 0], ["queued", Number.MAX_SAFE_INTEGER]);
    const all = await done(index.getAll(range));
    return all.filter((r) => r.person_id === personId).slice(0, limit);
  }

  /** Count one more try for these records (shown nowhere; kept for diagnosis). */
  async attempted(eventIds) {
    const tx = this.db.transaction("outbox", "readwrite");
    const store = tx.objectStore("outbox");
    for (const id of eventIds) {
      const r = await done(store.get(id));
      if (r && r.state === "queued") store.put({ ...r, attempts: r.attempts + 1 });
    }
    await finished(tx);
  }

  /** Apply the server's receipts; returns how many records were settled. */
  async settle(receipts) {
    const tx = this.db.transaction("outbox", "readwrite");
    const store = tx.objectStore("outbox");
    let settled = 0;
    for (const receipt of receipts) {
      const r = await done(store.get(receipt.event_id));
      if (!r || r.state !== "queued") continue;
      if (receipt.status === "stored" || receipt.status === "duplicate") {
        store.put({ ...r, state: "delivered", event: null, settled_at: isoWithOffset() });
      } else if (receipt.status === "rejected") {
        const reason = String(receipt.reason || "refused by the server");
        store.put({ ...r, state: "rejected", reason, event: null, settled_at: isoWithOffset() });
      } else {
        continue; // an answer this phone does not know: keep the event and try again later
      }
      settled += 1;
    }
    await finished(tx);
    if (settled) {
      await this.#prune();
      this.#notify();
    }
    return settled;
  }

  async #prune() {
    const tx = this.db.transaction("outbox", "readwrite");
    const all = await done(tx.objectStore("outbox").index("by_seq").getAll());
    const settled = all.filter((r) => r.state !== "queued");
    for (const r of settled.slice(0, Math.max(0, settled.length - KEEP_SETTLED))) {
      tx.objectStore("outbox").delete(r.event_id);
    }
    await finished(tx);
  }

  /** The newest records first, queued or settled. */
  async recent(limit = 20) {
    const all = await done(this.db.transaction("outbox").objectStore("outbox").index("by_seq").getAll());
    return all.reverse().slice(0, limit);
  }

  /** How many records are still queued (all people) and rejected. */
  async counts() {
    const all = await done(this.db.transaction("outbox").objectStore("outbox").getAll());
    const counts = { queued: 0, delivered: 0, rejected: 0 };
    for (const r of all) counts[r.state] += 1;
    return counts;
  }
}
