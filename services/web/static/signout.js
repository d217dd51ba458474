// Signing out at the end of a shift (or handing the phone back). The session ends on the
// server; whatever is still saved on the phone stays queued for this officer's next sign-in —
// signing out never drops it, and says so before it happens.

import { openOutbox } from "./outbox.js";
import { csrfFromPage } from "./sync.js";
import { dropKeptCopies } from "./kept_copy.js";

export function queuedWarning(queued) {
  const one = queued === 1;
  return (
    `${one ? "1 action" : `${queued} actions`} saved on this phone ${one ? "is" : "are"} not ` +
    `delivered yet. ${one ? "It stays" : "They stay"} on this phone and ${one ? "is" : "are"} ` +
    "sent when you sign in again. Sign out?"
  );
}

function say(doc, text) {
  const banner = doc.getElementById("banner");
  if (banner) {
    banner.textContent = text;
    banner.hidden = false;
  } else {
    window.alert(text);
  }
}

const KEPT_PAGES = ["/app", "/desk/roster", "/desk/drill"]; // as sw.js keeps them

// What other modules must finish while the session still holds (push.js forgets this
// browser's push subscription on the server), each bounded so that signing out never hangs.
const beforeTasks = [];
const BEFORE_SIGN_OUT_MS = 3000;

/** Run `task` (async) before the sign-out is sent; a task that fails or is slow is let go. */
export function beforeSignOut(task) {
  beforeTasks.push(task);
}

async function runBeforeSignOut() {
  const late = new Promise((resolve) => setTimeout(resolve, BEFORE_SIGN_OUT_MS));
  await Promise.race([Promise.allSettled(beforeTasks.map((task) => task())), late]);
}

export function initSignOut(doc = document) {
  const button = doc.getElementById("sign-out");
  if (!button) return;
  button.hidden = false; // a button that needs this module shows only once it is here
  button.addEventListener("click", async () => {
    const { queued } = await (await openOutbox()).counts();
    if (queued > 0 && !window.confirm(queuedWarning(queued))) return;
    await runBeforeSignOut();
    let res;
    try {
      res = await fetch("/signout", {
        method: "POST",
        headers: { "X-CSRF-Token": csrfFromPage(doc) },
        credentials: "same-origin",
        redirect: "manual",
      });
    } catch {
      say(doc, "No signal: you are still signed in. Sign out again when there is signal.");
      return;
    }
    // 303 to the sign-in page (opaque under redirect: manual), or 401: it had already ended.
    if (res.type !== "opaqueredirect" && res.status !== 401) {
      say(doc, `Could not sign out (HTTP ${res.status}): reload the page and sign out again.`);
      return;
    }
    // The kept pages (Today: this officer's name and session token; the desk's lists) and the
    // desk's last answers (visitors' names): not for the next person at this screen.
    if ("caches" in window) {
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const page of KEPT_PAGES) await cache.delete(page);
      }
    }
    dropKeptCopies();
    window.location.assign("/signin");
  });
}
