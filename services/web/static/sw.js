// The phone app's service worker: keeps the app shell (the Today page, the CSS, the modules,
// the icon) so the app opens without signal. API calls are never cached or answered here: they
// go to the network, and the outbox keeps what could not be sent. It also shows the console's
// Web Push notifications (one per escalation step) and acknowledges from them.

const VERSION = "lookout-shell-v10";
const ASSETS = [
  "/static/app.css",
  "/static/app.js",
  "/static/tag.js",
  "/static/page.js",
  "/static/actions.js",
  "/static/badge.js",
  "/static/concerns.js",
  "/static/roster_find.js",
  "/static/scanner.js",
  "/static/clock.js",
  "/static/outbox.js",
  "/static/sync.js",
  "/static/signout.js",
  "/static/today.js",
  "/static/alert_words.js",
  "/static/push.js",
  "/static/desk.css",
  "/static/desk_roster.js",
  "/static/desk_drill.js",
  "/static/kept_copy.js",
  "/static/icon.svg",
  "/static/icon-maskable.svg",
  "/static/manifest.webmanifest",
];
const SHELL = "/app";
// The front desk's evacuation pages: each kept as its own last copy (network first), so the
// list can be opened and printed when the network is gone (their data is kept by the pages).
const DESK_PAGES = ["/desk/roster", "/desk/drill"];
const NAVIGATION_TIMEOUT_MS = 4000; // a weak signal: open the kept page rather than wait

async function keepShell(cache) {
  // The desk's pages answer only the front office (others get a 404, which is not kept).
  for (const path of [SHELL, ...DESK_PAGES]) {
    try {
      const res = await fetch(path, { credentials: "same-origin", cache: "no-store" });
      if (res.ok && !res.redirected) await cache.put(path, res);
    } catch {
      /* offline or signed out: the next visit of the page keeps it */
    }
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(VERSION);
      await cache.addAll(ASSETS);
      await keepShell(cache);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== VERSION) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

// Pages: the network first (fresh data, a fresh CSRF token); without it the kept Today page,
// which also records a checkpoint URL's scan by itself.
async function page(request) {
  const cache = await caches.open(VERSION);
  const path = new URL(request.url).pathname;
  const keptAs = DESK_PAGES.includes(path) ? path : SHELL;
  try {
    const res = await withTimeout(fetch(request), NAVIGATION_TIMEOUT_MS);
    if (path === keptAs && res.ok && !res.redirected) await cache.put(keptAs, res.clone());
    return res;
  } catch {
    const kept = await cache.match(keptAs);
    if (kept) return kept;
    return new Response("Lookout needs a signal the first time it opens.", {
      status: 503,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }
}

// Static files: the kept copy at once, refreshed in the background.
async function asset(request, event) {
  const cache = await caches.open(VERSION);
  const kept = await cache.match(request, { ignoreSearch: true });
  const fresh = fetch(request)
    .then(async (res) => {
      if (res.ok) await cache.put(request, res.clone());
      return res;
    })
    .catch(() => null);
  if (kept) {
    event.waitUntil(fresh);
    return kept;
  }
  return (await fresh) ?? Response.error();
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // never cached, never answered here
  const kept = url.pathname === SHELL || DESK_PAGES.includes(url.pathname);
  if (request.mode === "navigate" && (kept || url.pathname.startsWith("/t/"))) {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(asset(request, event));
  }
});

// --- Web Push: an escalation step's notification and its Acknowledge action ----------------------
// The alerts service sends {alert_id, title, body, ack_url, url, tag}: ack_url is the alert
// email's signed acknowledge link (/ack/<token>, for this person and this alert, for a day), url
// where the console shows the alert. Only this site's paths are followed, whatever a push says.

const ACK = "acknowledge";

function ownPath(value, prefix) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, self.location.origin);
    return url.origin === self.location.origin && url.pathname.startsWith(prefix)
      ? url.pathname + url.search + url.hash
      : null;
  } catch {
    return null;
  }
}

/** What a push's payload becomes: the notification's title and options. */
function alertNotification(payload) {
  const ackUrl = ownPath(payload.ack_url, "/ack/");
  const url = ownPath(payload.url, "/") ?? "/app";
  const tag = typeof payload.tag === "string" && payload.tag ? payload.tag : undefined;
  return {
    // A push whose payload cannot be read still says something needs the person.
    title: typeof payload.title === "string" && payload.title ? payload.title : "Lookout alert",
    options: {
      body: typeof payload.body === "string" ? payload.body : "Open Lookout to see the alert.",
      tag, // the next step of the same alert replaces this one…
      renotify: Boolean(tag), // …and still rings
      requireInteraction: true, // stays until the person acts: it is an alert
      icon: "/static/icon.svg",
      badge: "/static/icon.svg",
      actions: ackUrl ? [{ action: ACK, title: "Acknowledge" }] : [],
      data: { alert_id: payload.alert_id ?? null, ack_url: ackUrl, url, tag: tag ?? null },
    },
  };
}

self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = {};
  }
  const { title, options } = alertNotification(payload ?? {});
  event.waitUntil(self.registration.showNotification(title, options));
});

async function focusOrOpen(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const target = new URL(url, self.location.origin).href;
  const same = windows.find((w) => w.url === target) ?? windows[0];
  if (same) {
    if (same.url !== target && "navigate" in same) await same.navigate(target).catch(() => null);
    return same.focus();
  }
  return self.clients.openWindow(url);
}

/** Acknowledge from the notification: the same POST as the email link's confirm page (no
 * session needed, the signed link is the proof; the Origin is this site's, as the page's form
 * sends it), then say how it went in the notification's place. */
async function acknowledgeFromNotification(data) {
  let res = null;
  try {
    res = await fetch(data.ack_url, {
      method: "POST",
      credentials: "omit",
      headers: { Accept: "application/json" }, // a refusal answers problem+json, not a page
    });
  } catch {
    res = null;
  }
  const options = { tag: data.tag ?? undefined, icon: "/static/icon.svg", data };
  if (res?.ok) {
    return self.registration.showNotification("Alert acknowledged", {
      ...options,
      body: "You acknowledged it: the escalation stops.",
    });
  }
  if (res?.status === 409) {
    return self.registration.showNotification("Alert already resolved", {
      ...options,
      body: "Nothing left to acknowledge.",
    });
  }
  // Not acknowledged (no signal, an expired link…): the alert is still the person's to handle.
  await self.registration.showNotification("Not acknowledged", {
    ...options,
    body: "Lookout could not acknowledge it. Open the console to acknowledge.",
    requireInteraction: true,
  });
  return focusOrOpen(data.url ?? "/app");
}

/** A tap on the notification (`action` ""), or on its Acknowledge button. */
function onNotificationClick(notification, action) {
  const data = notification.data ?? {};
  notification.close();
  if (action === ACK && data.ack_url) return acknowledgeFromNotification(data);
  return focusOrOpen(data.url ?? "/app");
}

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(onNotificationClick(event.notification, event.action));
});
