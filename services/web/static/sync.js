// Sends the outbox to the server in batches and settles each event by its receipt.
// stored/duplicate -> delivered; rejected -> kept with its reason, never retried; a network
// failure, a timeout or a 5xx -> stays queued and is tried again with backoff, and at once when
// the phone says it is online again.

const ENDPOINT = "/api/v1/events";
const BATCH = 100; // the server's bound per request
const TIMEOUT_MS = 15000; // a weak signal must not hold the queue forever
const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 60000;

/** The CSRF token the page was rendered with. */
export function csrfFromPage(doc = document) {
  return doc.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** A fresh CSRF token: the page again from the network (a page kept offline may hold an old one). */
async function freshCsrf(fetchFn) {
  const res = await fetchFn("/app", { cache: "no-store", credentials: "same-origin" });
  if (!res.ok || res.redirected) return null;
  const html = await res.text();
  const doc = new DOMParser().parseFromString(html, "text/html");
  return csrfFromPage(doc) || null;
}

async function problemOf(res) {
  try {
    const body = await res.json();
    const where = body.errors?.[0]?.loc ?? body.field;
    return [body.detail || body.title, where].filter(Boolean).join(": ") || `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

export class Sync {
  /**
   * @param {object} o
   * @param {import("./outbox.js").Outbox} o.outbox
   * @param {string} o.personId whose queued events this page may send
   * @param {string} o.deviceId
   */
  constructor({ outbox, personId, deviceId, fetchFn, csrf, minDelay, maxDelay, endpoint }) {
    this.outbox = outbox;
    this.personId = personId;
    this.deviceId = deviceId;
    this.fetch = fetchFn ?? ((...a) => globalThis.fetch(...a));
    this.csrf = csrf ?? csrfFromPage();
    this.minDelay = minDelay ?? MIN_DELAY_MS;
    this.maxDelay = maxDelay ?? MAX_DELAY_MS;
    this.endpoint = endpoint ?? ENDPOINT;
    this.failures = 0;
    this.timer = null;
    this.running = null;
    this.again = false;
    this.status = "idle"; // idle | sending | waiting | signed-out
    this.listeners = new Set();
  }

  onStatus(fn) {
    this.listeners.add(fn);
  }

  #setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    for (const fn of this.listeners) fn(status);
  }

  /** Send now, when the outbox changes and when the phone comes back online. */
  start() {
    this.outbox.onChange(() => this.kick());
    globalThis.addEventListener?.("online", () => {
      this.failures = 0;
      this.kick();
    });
    globalThis.document?.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.kick();
    });
    this.kick();
    return this;
  }

  /** Flush soon; a flush under way goes round once more. */
  kick() {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    clearTimeout(this.timer);
    this.timer = null;
    this.running = this.#run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async #run() {
    do {
      this.again = false;
      // One tab at a time sends (duplicates would be harmless, but wasteful).
      if (globalThis.navigator?.locks) {
        await navigator.locks.request("lookout-sync", () => this.flush());
      } else {
        await this.flush();
      }
    } while (this.again && !this.timer);
  }

  #retryLater(status) {
    this.failures += 1;
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** (this.failures - 1));
    const delay = base / 2 + (Math.random() * base) / 2;
    this.#setStatus(status);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, delay);
  }

  /** Send every queued event of this person; returns when the queue is empty or sending failed. */
  async flush() {
    let single = false; // after a whole batch was refused: one event per request, to find it
    let refreshedCsrf = false;
    for (;;) {
      const batch = await this.outbox.queued(this.personId, single ? 1 : BATCH);
      if (batch.length === 0) {
        this.failures = 0;
        this.#setStatus("idle");
        return;
      }
      if (globalThis.navigator && navigator.onLine === false) {
        this.#setStatus("waiting"); // the `online` event sends them
        return;
      }
      this.#setStatus("sending");
      await this.outbox.attempted(batch.map((r) => r.event_id));
      let res;
      const abort = new AbortController();
      const timeout = setTimeout(() => abort.abort(), TIMEOUT_MS);
      try {
        res = await this.fetch(this.endpoint, {
          method: "POST",
          credentials: "same-origin",
          cache: "no-store",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": this.csrf },
          body: JSON.stringify({ device_id: this.deviceId, events: batch.map((r) => r.event) }),
          signal: abort.signal,
        });
      } catch {
        this.#retryLater("waiting");
        return;
      } finally {
        clearTimeout(timeout);
      }
      if (res.ok) {
        let receipts = [];
        try {
          const body = await res.json();
          // One receipt per event, by position: a receipt of an event whose id the server
          // could not read still settles the record it answers.
          receipts = (Array.isArray(body.results) ? body.results : []).map((r) => ({
            ...r,
            event_id: r.event_id ?? batch[r.index]?.event_id,
          }));
        } catch {
          receipts = [];
        }
        const settled = await this.outbox.settle(receipts);
        if (settled === 0) {
          this.#retryLater("waiting"); // an answer without our receipts: keep them, try later
          return;
        }
        this.failures = 0;
        continue;
      }
      if (res.status === 403 && !refreshedCsrf) {
        refreshedCsrf = true;
        try {
          const token = await freshCsrf(this.fetch);
          if (token) this.csrf = token;
        } catch {
          /* offline again: the retry below finds out */
        }
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        this.#retryLater("signed-out"); // kept on the phone until the officer signs in again
        return;
      }
      if ([400, 413, 422].includes(res.status)) {
        if (batch.length > 1) {
          single = true;
          continue;
        }
        const reason = await problemOf(res);
        await this.outbox.settle([{ event_id: batch[0].event_id, status: "rejected", reason }]);
        continue;
      }
      this.#retryLater("waiting"); // 408, 429, 5xx, anything else: the server may come back
      return;
    }
  }
}
