// The concerns an officer can still update or resolve from this phone, and the follow-up
// check-in. The choices are the concerns raised here and not yet resolved, plus those the Today
// screen adds from the server (addConcernChoice); a resolved one leaves them. They are kept in
// the phone's database (the outbox keeps no event once it is delivered): category, severity,
// zone and time only, never a student reference or a note.

import { zoneName } from "./actions.js";

const KEEP = 100; // choices and resolved ids kept; older ones are dropped
const words = (value) => value.replaceAll("_", " ");

let phone = null; // { outbox, ctx } once initConcerns ran
let markReady;
const ready = new Promise((resolve) => {
  markReady = resolve;
});
let writing = Promise.resolve(); // one change at a time: each reads what the last one wrote

const key = () => `concerns:${phone.ctx.school.id}:${phone.ctx.person.id}`;

async function load() {
  const kept = await phone.outbox.getMeta(key());
  return { open: kept?.open ?? [], resolved: kept?.resolved ?? [] };
}

function change(fn) {
  const next = writing.then(async () => {
    const state = await load();
    fn(state);
    state.open = state.open.slice(0, KEEP);
    state.resolved = state.resolved.slice(0, KEEP);
    await phone.outbox.setMeta(key(), state);
  });
  writing = next.catch(() => {}); // a failed change does not block the next one
  return next.then(render);
}

/** Start with this phone's outbox and the page's context; draws the pickers. */
export async function initConcerns({ outbox, ctx }) {
  phone = { outbox, ctx };
  markReady();
  const contact = document.getElementById("contact-form");
  contact?.closest("details")?.addEventListener("toggle", (e) => {
    if (!e.target.open) endFollowUp();
  });
  await render();
}

function choiceOf(c) {
  return {
    concern_id: String(c.concern_id),
    category: String(c.category),
    severity: String(c.severity),
    zone_id: c.zone_id ? String(c.zone_id) : null,
    raised_at: String(c.raised_at),
  };
}

/** Offer a concern in the pickers (the Today screen's open concerns of this officer). */
export async function addConcernChoice(concern) {
  await ready;
  const choice = choiceOf(concern);
  await change((state) => {
    if (state.resolved.some((r) => r.concern_id === choice.concern_id)) return; // resolved here
    const at = state.open.findIndex((c) => c.concern_id === choice.concern_id);
    if (at >= 0) state.open[at] = choice;
    else state.open.push(choice);
    state.open.sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
  });
}

/** What a saved event does to the choices: a raise adds one, an update changes it, a resolve
 * takes it out. */
export async function noteSaved(event) {
  await ready;
  if (event.type === "concern.raised") {
    await addConcernChoice({ ...event, raised_at: event.occurred_at });
  } else if (event.type === "concern.updated") {
    await change((state) => {
      const c = state.open.find((o) => o.concern_id === event.concern_id);
      if (!c) return;
      if (event.severity) c.severity = event.severity;
      if (event.zone_id) c.zone_id = event.zone_id;
    });
  } else if (event.type === "concern.resolved") {
    await change((state) => {
      const c = state.open.find((o) => o.concern_id === event.concern_id);
      state.open = state.open.filter((o) => o.concern_id !== event.concern_id);
      state.resolved.unshift({ ...(c ?? { concern_id: event.concern_id }), resolved_at: event.occurred_at });
    });
  }
}

/** The concerns the pickers offer, newest first. */
export async function concernChoices() {
  await ready;
  return (await load()).open;
}

// When it was raised, short enough for a phone's picker: "10:15 AM" today, "Mon 10:15 AM"
// this week, "Nov 20" before.
function when(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return time;
  if (Math.abs(now - d) < 6 * 86_400_000) return `${d.toLocaleDateString([], { weekday: "short" })} ${time}`;
  return d.toLocaleDateString([], { day: "numeric", month: "short" });
}

/** "Vaping, medium · Cafeteria · 10:42": what the officer recognises a concern by. */
export function choiceText(c, zones) {
  const where = c.zone_id ? ` · ${zoneName(zones, c.zone_id)}` : "";
  return `${words(c.category)[0].toUpperCase()}${words(c.category).slice(1)}, ${c.severity}${where} · ${when(c.raised_at)}`;
}

async function render() {
  const choices = (await load()).open;
  for (const select of document.querySelectorAll("select[data-concern-picker]")) {
    const chosen = select.value;
    const none = document.createElement("option");
    none.value = "";
    none.textContent = choices.length ? "Choose a concern…" : "No open concerns on this phone";
    const options = choices.map((c) => {
      const o = document.createElement("option");
      o.value = c.concern_id;
      o.textContent = choiceText(c, phone.ctx.zones);
      o.dataset.category = c.category;
      return o;
    });
    select.replaceChildren(none, ...options);
    if (choices.some((c) => c.concern_id === chosen)) select.value = chosen;
  }
}

// --- the follow-up check-in: a contact about the concern, on or after its day ---------------

/** The concern a contact form was started for (startFollowUp), or null. */
export function followUpOf(form) {
  return form.dataset.concernId || null;
}

/** Open the contact form for the follow-up check-in of a concern: kind check-in, its zone. */
export async function startFollowUp(concernId, zoneId) {
  await ready;
  const form = document.getElementById("contact-form");
  const details = form.closest("details");
  const known = (await load()).resolved.find((r) => r.concern_id === concernId);
  form.reset();
  details.open = true;
  form.dataset.concernId = concernId;
  form.elements.kind.value = "check_in";
  form.elements.zone_id.value = zoneId ?? "";
  form.querySelector(".followup")?.remove();
  const note = document.getElementById("followup-template").content.firstElementChild.cloneNode(true);
  const about = known?.category ? `${words(known.category)}, ${known.severity}` : "a resolved concern";
  const where = zoneId ? ` · ${zoneName(phone.ctx.zones, zoneId)}` : "";
  note.querySelector(".followup__what").textContent = `${about}${where}`;
  note.querySelector("button").addEventListener("click", () => {
    endFollowUp();
    form.elements.kind.focus();
  });
  form.prepend(note);
  details.scrollIntoView({ block: "start" });
  form.elements.student_refs.focus();
}

/** The contact form is an ordinary contact again. */
export function endFollowUp() {
  const form = document.getElementById("contact-form");
  if (!form) return;
  delete form.dataset.concernId;
  form.querySelector(".followup")?.remove();
}
