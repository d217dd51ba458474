// "Notify me on this device": Web Push for the people alerts page (the console's roles). The
// browser asks for permission only when the button is tapped; the subscription is made with this
// deployment's key (GET /api/v1/push/key) and handed to the server (POST /api/v1/push/
// subscriptions), which keeps it with the alerts service for the signed-in person. The service
// worker (sw.js) shows each escalation step's notification and its Acknowledge action.
//
// States, said in words beside the button: on, off, blocked by the browser, not supported.
// Signing out stops this browser's notifications too: a shared computer must not keep paging
// the person who left.

import { beforeSignOut } from "./signout.js";
import { csrfFromPage } from "./sync.js";

const OWNER_KEY = "lookout-push-person"; // whose subscription this browser holds
// The browser registers with its push service (Google's, Mozilla's, Apple's) to subscribe;
// unreachable, Chromium waits for ever. Say so rather than leave the button busy.
const SUBSCRIBE_TIMEOUT_MS = 30000;

const panel = document.getElementById("push");
const action = document.getElementById("push-action");
const button = document.getElementById("push-toggle");
const status = document.getElementById("push-status");
const note = document.getElementById("push-note");

const WORDS = {
  checking: ["Checking this device…", null],
  on: ["On: alerts that reach you also show on this device.", "Stop notifications on this device"],
  off: ["Off on this device.", "Notify me on this device"],
  blocked: [
    "Blocked by this browser. Allow notifications for this site in the browser's settings, then reload.",
    null,
  ],
  unsupported: [
    "This browser cannot show Lookout's notifications (it needs a secure connection and Web Push). Email and text still reach you.",
    null,
  ],
  busy: ["Working…", null],
};

let subscription = null; // this browser's, when it is the signed-in person's
let personId = "";

function show(state, message = "") {
  panel.dataset.state = state;
  const [text, label] = WORDS[state];
  status.textContent = text;
  note.textContent = message;
  note.hidden = !message;
  action.hidden = label === null && state !== "busy";
  button.disabled = state === "busy";
  if (label) button.textContent = label;
}

function supported() {
  return (
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window
  );
}

/** The VAPID key as `applicationServerKey` takes it (base64url → bytes). */
export function keyBytes(base64url) {
  const base64 = base64url.replaceAll("-", "+").replaceAll("_", "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: {
      Accept: "application/json",
      ...(body ? { "Content-Type": "application/json", "X-CSRF-Token": csrfFromPage() } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

async function turnOn() {
  const permission = await Notification.requestPermission();
  if (permission === "denied") return show("blocked");
  if (permission !== "granted") return show("off", "Notifications were not allowed.");
  show("busy");
  const registration = await navigator.serviceWorker.ready;
  const held = await registration.pushManager.getSubscription();
  if (held) await held.unsubscribe(); // someone else's, signed in here before
  const { application_server_key: key } = await api("GET", "/api/v1/push/key");
  const made = await Promise.race([
    registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }),
    new Promise((_, reject) => {
      setTimeout(() => reject(new Error("push service unreachable")), SUBSCRIBE_TIMEOUT_MS);
    }),
  ]);
  try {
    await api("POST", "/api/v1/push/subscriptions", made.toJSON());
  } catch (err) {
    await made.unsubscribe(); // not kept by the server: this browser would wait for nothing
    throw err;
  }
  subscription = made;
  localStorage.setItem(OWNER_KEY, personId);
  show("on");
}

async function turnOff() {
  show("busy");
  const { endpoint } = subscription;
  await api("DELETE", "/api/v1/push/subscriptions", { endpoint });
  await subscription.unsubscribe();
  subscription = null;
  localStorage.removeItem(OWNER_KEY);
  show("off");
}

async function toggle() {
  const wasOn = subscription !== null;
  try {
    await (wasOn ? turnOff() : turnOn());
  } catch {
    show(
      wasOn ? "on" : "off",
      wasOn
        ? "Could not stop notifications: check the connection and try again."
        : "Could not turn notifications on: check the connection and try again.",
    );
  }
}

// Signing out: forget this browser's subscription on the server, while the session still
// holds (signout.js waits for it before it sends the sign-out), and in the browser.
async function forgetOnSignOut() {
  if (!subscription) return;
  const held = subscription;
  subscription = null;
  localStorage.removeItem(OWNER_KEY);
  try {
    await fetch("/api/v1/push/subscriptions", {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfFromPage() },
      body: JSON.stringify({ endpoint: held.endpoint }),
    });
  } finally {
    await held.unsubscribe().catch(() => {});
  }
}

async function start() {
  if (!panel) return;
  personId = JSON.parse(document.getElementById("lookout-context").textContent).person.id;
  panel.hidden = false;
  if (!supported()) return show("unsupported");
  show("checking");
  beforeSignOut(forgetOnSignOut);
  button.addEventListener("click", toggle);
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    const registration = await navigator.serviceWorker.ready;
    const held = await registration.pushManager.getSubscription();
    subscription = held && localStorage.getItem(OWNER_KEY) === personId ? held : null;
  } catch {
    return show("unsupported");
  }
  if (Notification.permission === "denied") return show("blocked");
  show(subscription ? "on" : "off");
}

start();
