// The front desk: sign a visitor in (a licence's barcode, typed by a USB scanner into the scan
// field, read here by aamva.js; or the form filled by hand), answer a held sign-in's possible
// watchlist matches side by side, print the badge, sign a visitor out by badge QR or number.
// Only the form's fields are sent (POST /api/v1/visitors/sign-in): never the barcode's text,
// which is cleared from the page once read.

import { expired, looksLikeBarcode, parseLicence } from "./aamva.js";
import { readContext } from "./page.js";
import { initSignOut } from "./signout.js";
import { csrfFromPage } from "./sync.js";

const FETCH_TIMEOUT_MS = 10000;
const SCAN_IDLE_MS = 200; // a scanner types a barcode in well under this between keys

const ctx = readContext();
const desk = JSON.parse(document.getElementById("desk-context").textContent);
const $ = (id) => document.getElementById(id);
const form = $("signin-form");
const scan = $("licence-scan");

let requestId = null; // one sign-in's id, kept for its retries
let card = null; // what the last barcode said (names and dates only)
let held = null; // the held visit being decided: { visit, visitor }

// --- words ---------------------------------------------------------------------------------

const ID_WORDS = {
  drivers_license: "Driver's licence",
  state_id: "State ID",
  passport: "Passport",
  military_id: "Military ID",
  other: "ID",
};

/** `1979-03-14` → `03/14/1979`, as a US clerk reads dates. */
export function usDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-");
  return `${m}/${d}/${y}`;
}

const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });

// --- talking to the server -----------------------------------------------------------------

async function call(path, body) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    return await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      signal: abort.signal,
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRF-Token": csrfFromPage(),
      },
      body: JSON.stringify(body),
    });
  } finally {
    clearTimeout(timer);
  }
}

async function problemText(res) {
  try {
    const body = await res.json();
    return body.detail ? `${body.title}: ${body.detail}` : body.title;
  } catch {
    return `HTTP ${res.status}`;
  }
}

function signedOut(res) {
  if (res.status !== 401) return false;
  window.location.assign(`/signin?next=${encodeURIComponent(location.pathname)}`);
  return true;
}

// --- the barcode ---------------------------------------------------------------------------

function setField(name, value) {
  const field = form.elements[name];
  if (field) {
    field.value = value ?? "";
    field.removeAttribute("aria-invalid");
  }
}

function showExpiry(found) {
  const warning = $("id-expired");
  if (found && expired(found, desk.today)) {
    warning.textContent = `This ID expired on ${usDate(found.expires)}. Ask for another ID, or sign in with it if the school allows.`;
    warning.hidden = false;
  } else {
    warning.hidden = true;
    warning.textContent = "";
  }
}

function readScan() {
  const text = scan.value;
  if (!text.trim()) return;
  const state = $("licence-state");
  if (!looksLikeBarcode(text)) {
    state.textContent = "That is not a licence barcode: fill in the form by hand.";
    scan.value = "";
    return;
  }
  try {
    card = parseLicence(text);
  } catch (err) {
    state.textContent = `Could not read the barcode (${err.message}). Scan again, or fill in the form by hand.`;
    scan.value = "";
    return;
  }
  scan.value = ""; // the barcode's text goes no further than this page, and not for long
  setField("first_name", card.first_name);
  setField("last_name", card.last_name);
  setField("date_of_birth", card.date_of_birth);
  setField("id_type", card.id_type);
  setField("id_last4", card.id_last4);
  setField("id_expires", card.expires ?? "");
  requestId = null;
  state.textContent = `Read: ${card.first_name} ${card.last_name}, ${ID_WORDS[card.id_type].toLowerCase()} ending ${card.id_last4}.`;
  showExpiry(card);
  const next = [...form.querySelectorAll("[required]")].find((f) => !f.value);
  (next ?? form.querySelector("button[type=submit]")).focus();
}

let idle = null;
scan.addEventListener("input", () => {
  clearTimeout(idle);
  idle = setTimeout(readScan, SCAN_IDLE_MS);
});
scan.addEventListener("keydown", (e) => {
  // A scanner's Enter inside the barcode is a line break; a person's Enter on an empty field
  // moves on to the form.
  if (e.key === "Enter" && !scan.value.trim()) {
    e.preventDefault();
    form.elements.first_name.focus();
  }
});

// --- signing in ----------------------------------------------------------------------------

function fieldError(field, message) {
  return Object.assign(new Error(message), { field });
}

function formBody() {
  const v = Object.fromEntries(new FormData(form));
  const need = [
    ["first_name", "type the first name"],
    ["last_name", "type the last name"],
    ["id_last4", "type the last 4 characters of the ID number"],
    ["host_id", "choose whom they visit"],
    ["destination_zone", "choose where they go"],
    ["purpose", "say what the visit is for"],
  ];
  for (const [name, message] of need) {
    if (!String(v[name] ?? "").trim()) throw fieldError(name, message);
  }
  if (!/^[A-Za-z0-9]{4}$/.test(v.id_last4.trim())) {
    throw fieldError("id_last4", "the last 4 of the ID are 4 letters or digits");
  }
  requestId ??= crypto.randomUUID();
  return {
    request_id: requestId,
    first_name: v.first_name.trim(),
    last_name: v.last_name.trim(),
    date_of_birth: v.date_of_birth || null,
    visitor_type: v.visitor_type,
    id_type: v.id_type,
    id_last4: v.id_last4.trim().toUpperCase(),
    id_expires: v.id_expires || null,
    purpose: v.purpose.trim(),
    host_id: v.host_id,
    destination_zones: [v.destination_zone],
    expected_minutes: Number(v.expected_minutes),
  };
}

function formError(target, err) {
  const error = target.querySelector(".form__error");
  error.textContent = err.message;
  error.hidden = false;
  const field = err.field ? target.elements[err.field] : null;
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

function clearErrors(target) {
  target.querySelector(".form__error").hidden = true;
  for (const f of target.querySelectorAll("[aria-invalid]")) f.removeAttribute("aria-invalid");
}

form.addEventListener("input", () => {
  requestId = null; // a changed form is another sign-in
});

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearErrors(form);
  let body;
  try {
    body = formBody();
  } catch (err) {
    formError(form, err);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const res = await call("/api/v1/visitors/sign-in", body);
    if (signedOut(res)) return;
    if (!res.ok) throw new Error(await problemText(res));
    const visit = await res.json();
    const visitor = {
      name: `${body.first_name} ${body.last_name}`,
      dob: body.date_of_birth,
      id: `${ID_WORDS[body.id_type]} ending ${body.id_last4}`,
    };
    requestId = null;
    form.reset();
    card = null;
    showExpiry(null);
    $("licence-state").textContent = "";
    if (visit.status === "pending_screening") {
      showScreening(visit, visitor);
      loadHeld();
    } else {
      showOutcome(visit, visitor);
    }
  } catch (err) {
    formError(form, new Error(`Not signed in: ${err.message || "no answer"}. Try again.`));
  } finally {
    button.disabled = false;
  }
});

// --- the outcome ---------------------------------------------------------------------------

function showOutcome(visit, visitor) {
  $("screening").hidden = true;
  held = null;
  const box = $("outcome");
  const title = $("outcome-title");
  const text = $("outcome-text");
  const print = $("outcome-print");
  box.dataset.status = visit.status;
  if (visit.status === "on_site" && visit.badge) {
    const until = TIME.format(new Date(visit.badge.valid_until));
    title.textContent = `${visitor.name} admitted: badge ${visit.badge.number}`;
    text.textContent = `Going to ${visit.destination_names.join(", ")}. The badge is valid until ${until}.`;
    print.href = visit.badge.print_url;
    print.hidden = false;
  } else if (visit.status === "denied") {
    title.textContent = `${visitor.name}: entry denied`;
    text.textContent = "The visitor was confirmed as a watchlist match. Do not admit them; the SSO and the principal are alerted.";
    print.hidden = true;
  } else {
    title.textContent = `${visitor.name}: ${visit.status.replaceAll("_", " ")}`;
    text.textContent = "";
    print.hidden = true;
  }
  if (visit.id_expired) text.textContent += " Their ID has expired.";
  box.hidden = false;
  box.focus();
}

// --- screening -----------------------------------------------------------------------------

const ANSWER_WORDS = { yes: "Yes, it is them", no: "No, not them", not_sure: "Not sure" };

function showScreening(visit, visitor) {
  held = { visit, visitor };
  $("outcome").hidden = true;
  const list = $("screening-list");
  const template = $("match-template");
  const n = visit.possible_matches.length;
  list.replaceChildren(
    ...visit.possible_matches.map((m, i) => {
      const li = template.content.firstElementChild.cloneNode(true);
      li.dataset.entry = m.watchlist_entry_id;
      const title = `Possible match ${i + 1} of ${n}`;
      li.querySelector(".match__title").textContent = title;
      li.querySelector(".match__visitor").textContent = visitor.name;
      li.querySelector(".match__visitor-dob").textContent = visitor.dob ? usDate(visitor.dob) : "Not given";
      li.querySelector(".match__visitor-id").textContent = visitor.id;
      li.querySelector(".match__listed").textContent = m.listed_name;
      li.querySelector(".match__listed-dob").textContent = m.listed_date_of_birth
        ? usDate(m.listed_date_of_birth)
        : "Not on the list";
      li.querySelector(".match__reason").textContent = m.note ? `${m.reason}: ${m.note}` : m.reason;
      li.querySelector(".match__words").textContent = m.words ? `Match: ${m.words}.` : "";
      const legend = li.querySelector("legend");
      legend.id = `match-${i}-legend`;
      for (const button of li.querySelectorAll("[data-answer]")) {
        button.setAttribute("aria-describedby", legend.id);
        button.addEventListener("click", () => answer(m.watchlist_entry_id, button.dataset.answer, li));
      }
      markAnswer(li, m.answer);
      return li;
    }),
  );
  $("screening-error").hidden = true;
  const section = $("screening");
  section.hidden = false;
  section.focus();
}

function markAnswer(li, answer) {
  const answered = li.querySelector(".match__answered");
  answered.hidden = !answer;
  answered.textContent = answer ? `Answered: ${ANSWER_WORDS[answer]}.` : "";
  li.dataset.answer = answer ?? "";
}

async function answer(entry, value, li) {
  if (!held) return;
  const error = $("screening-error");
  error.hidden = true;
  const buttons = li.querySelectorAll("[data-answer]");
  for (const b of buttons) b.disabled = true;
  try {
    const res = await call(`/api/v1/visitors/${held.visit.visit_id}/screen`, {
      watchlist_entry_id: entry,
      answer: value,
    });
    if (signedOut(res)) return;
    if (!res.ok) throw new Error(await problemText(res));
    const visit = await res.json();
    if (visit.status !== "pending_screening") {
      showOutcome(visit, held.visitor);
      loadHeld();
      return;
    }
    for (const m of visit.possible_matches) {
      const item = [...$("screening-list").children].find((x) => x.dataset.entry === m.watchlist_entry_id);
      if (item) markAnswer(item, m.answer);
    }
    held.visit = { ...held.visit, status: visit.status };
  } catch (err) {
    error.textContent = `Not answered: ${err.message || "no answer"}. Try again.`;
    error.hidden = false;
    loadHeld(); // decided at another desk meanwhile? the list says so
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

// --- held sign-ins: reopened here from another tab or after a reload --------------------

const HELD_POLL_MS = 30000;
let heldBusy = false;

function heldVisitor(v) {
  return { name: v.name, dob: v.date_of_birth, id: ID_WORDS[v.id_type] };
}

function renderHeld(answer) {
  const visits = answer.visits;
  $("held").dataset.count = String(visits.length);
  $("held-note").hidden = visits.length > 0;
  $("held-list").replaceChildren(
    ...visits.map((v) => {
      const li = document.createElement("li");
      li.className = "held__item";
      li.dataset.visit = v.visit_id;
      const text = document.createElement("span");
      const n = v.possible_matches.length;
      text.textContent = `${v.name}, signed in at ${TIME.format(new Date(v.since))} to see ${v.host_name}: ${n} possible ${n === 1 ? "match" : "matches"}`;
      const open = document.createElement("button");
      open.type = "button";
      open.className = "btn";
      open.textContent = "Decide";
      open.setAttribute("aria-label", `Decide about ${v.name}`);
      open.addEventListener("click", () =>
        showScreening({ visit_id: v.visit_id, status: "pending_screening", possible_matches: v.possible_matches }, heldVisitor(v)),
      );
      li.append(text, open);
      return li;
    }),
  );
}

async function loadHeld() {
  if (heldBusy) return;
  heldBusy = true;
  const error = $("held-error");
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    const res = await fetch("/api/v1/visitors/held", {
      credentials: "same-origin",
      cache: "no-store",
      signal: abort.signal,
      headers: { Accept: "application/json" },
    });
    if (signedOut(res)) return;
    if (!res.ok) throw new Error(await problemText(res));
    renderHeld(await res.json());
    error.hidden = true;
  } catch (err) {
    error.textContent = `The held sign-ins could not be loaded (${err.message || "no answer"}); trying again.`;
    error.hidden = false;
  } finally {
    clearTimeout(timer);
    heldBusy = false;
  }
}

// --- signing out ---------------------------------------------------------------------------

const signout = $("signout-form");
signout.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearErrors(signout);
  const done = $("signout-done");
  done.hidden = true;
  const badge = signout.elements.badge.value.trim();
  if (!badge) {
    formError(signout, fieldError("badge", "scan the badge or type its number"));
    return;
  }
  try {
    const res = await call("/api/v1/visitors/sign-out", { badge });
    if (signedOut(res)) return;
    if (res.status === 404) throw fieldError("badge", "no visitor has this badge today");
    if (res.status === 422) throw fieldError("badge", "this badge is not one of this school's: it may be forged");
    if (res.status === 409) throw fieldError("badge", "this visitor is held for screening or was denied: never on site");
    if (!res.ok) throw new Error(await problemText(res));
    const visit = await res.json();
    const at = visit.checked_out_at ? TIME.format(new Date(visit.checked_out_at)) : "";
    signout.reset();
    done.textContent = `Badge ${visit.badge_number} signed out${at ? ` at ${at}` : ""}.`;
    done.hidden = false;
    signout.elements.badge.focus();
  } catch (err) {
    if (!err.field) err.message = `Not signed out: ${err.message || "no answer"}. Try again.`;
    formError(signout, err);
  }
});

initSignOut();
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") loadHeld();
});
setInterval(loadHeld, HELD_POLL_MS);
loadHeld().finally(() => {
  document.body.dataset.ready = ctx.school.id;
});
