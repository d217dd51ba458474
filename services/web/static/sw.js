// The phone app's service worker: keeps the app shell (the Today page, the CSS, the modules,
// the icon) so the app opens without signal. API calls are never cached or answered here: they
// go to the network, and the outbox keeps what could not be sent.

const VERSION = "lookout-shell-v3";
const ASSETS = [
  "/static/app.css",
  "/static/app.js",
  "/static/tag.js",
  "/static/page.js",
  "/static/actions.js",
  "/static/badge.js",
  "/static/concerns.js",
  "/static/scanner.js",
  "/static/clock.js",
  "/static/outbox.js",
  "/static/sync.js",
  "/static/signout.js",
  "/static/today.js",
  "/static/icon.svg",
  "/static/icon-maskable.svg",
  "/static/manifest.webmanifest",
];
const SHELL = "/app";
const NAVIGATION_TIMEOUT_MS = 4000; // a weak signal: open the kept page rather than wait

async function keepShell(cache) {
  try {
    const res = await fetch(SHELL, { credentials: "same-origin", cache: "no-store" });
    if (res.ok && !res.redirected) await cache.put(SHELL, res);
  } catch {
    /* offline or signed out: the next visit of /app keeps it */
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
  try {
    const res = await withTimeout(fetch(request), NAVIGATION_TIMEOUT_MS);
    const path = new URL(request.url).pathname;
    if (path === SHELL && res.ok && !res.redirected) await cache.put(SHELL, res.clone());
    return res;
  } catch {
    const kept = await cache.match(SHELL);
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
  if (request.mode === "navigate" && (url.pathname === SHELL || url.pathname.startsWith("/t/"))) {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(asset(request, event));
  }
});
