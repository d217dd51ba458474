// The Today screen: the queue state, scans (pick list, NFC, camera), the badge check, the log
// forms (observation, concern raised, updated, resolved, contact and its follow-up) and the
// recent actions.

import { buildAction, fieldError, parseStudentRefs, zoneOfTag } from "./actions.js";
import { badgeFromQr, badgeProblem, badgeToken, checkBadge } from "./badge.js";
import { endFollowUp, followUpOf, initConcerns, noteSaved } from "./concerns.js";
import { cameraSupported, checkpointFromUrl, nfcSupported, readNfc, readQr } from "./scanner.js";
import { readContext, startPhone, stateText, timeText } from "./page.js";
import "./today.js"; // the Today card, its live updates and the heartbeats
import "./push.js"; // alerts as this phone's notifications (escalation steps page the SSO)

const ctx = readContext();
const { outbox, deviceId, sync } = await startPhone(ctx);
const $ = (sel) => document.querySelector(sel);

async function save(kind, values) {
  const { event, label } = buildAction(kind, values, { ctx, deviceId });
  const record = await outbox.add(event, { label, personId: ctx.person.id });
  // An update's zone is the concern's, not necessarily where the officer is.
  if (values.zone_id && kind !== "concern.updated") await rememberZone(values.zone_id);
  await noteSaved(event);
  return record;
}

// The zone of the last scan is where the officer is: the forms start there.
async function rememberZone(zoneId) {
  await outbox.setMeta(`last_zone:${ctx.school.id}`, zoneId);
  for (const select of document.querySelectorAll("select[data-zone-default]")) {
    if (!select.closest("details")?.open) select.value = zoneId;
  }
}

function showBanner(text) {
  const banner = $("#banner");
  banner.textContent = text;
  banner.hidden = false;
}

async function renderQueue() {
  const counts = await outbox.counts();
  const line = $("#queue-state");
  const n = counts.queued;
  if (n === 0) {
    line.textContent = "all delivered ✓";
    line.dataset.state = "delivered";
  } else if (sync.status === "signed-out") {
    line.textContent = `${n} saved on phone, sign in again to send`;
    line.dataset.state = "signed-out";
  } else if (sync.status === "sending") {
    line.textContent = `${n} saved on phone, sending…`;
    line.dataset.state = "sending";
  } else {
    line.textContent = `${n} saved on phone, waiting for signal`;
    line.dataset.state = "waiting";
  }
}

async function renderRecent() {
  const records = await outbox.recent(20);
  const list = $("#recent");
  list.replaceChildren(
    ...records.map((r) => {
      const li = document.createElement("li");
      li.className = "recent__item";
      li.dataset.eventId = r.event_id;
      li.dataset.state = r.state;
      const label = document.createElement("span");
      label.className = "recent__label";
      label.textContent = r.label;
      const meta = document.createElement("span");
      meta.className = "recent__meta";
      const time = document.createElement("time");
      time.dateTime = r.created_at;
      time.textContent = timeText(r.created_at);
      const state = document.createElement("span");
      state.className = `state state--${r.state}`;
      state.textContent = stateText(r);
      meta.append(time, " ", state);
      li.append(label, meta);
      return li;
    }),
  );
  $("#recent-empty").hidden = records.length > 0;
}

let pending = null;
function render() {
  // Changes come in bursts (a batch of receipts): draw once per frame.
  pending ??= requestAnimationFrame(async () => {
    pending = null;
    await Promise.all([renderQueue(), renderRecent()]);
  });
}

outbox.onChange(render);
sync.onStatus(render);

$("#scan-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const select = $("#scan-tag");
  const option = select.selectedOptions[0];
  if (!option?.value) {
    select.focus();
    return;
  }
  const { value: tag, dataset } = option;
  select.value = ""; // at once: the next pick must not be undone by this one's save
  $("#scan-error").hidden = true;
  await save("checkpoint.scanned", { tag, zone_id: dataset.zone, method: "manual" });
  showBanner(`Scan of ${tag} saved.`);
});

function showError(form, err, error = form.querySelector(".form__error")) {
  error.textContent = err.message;
  error.hidden = false;
  const field = err.field ? form.querySelector(`[name="${err.field}"]`) : null;
  field?.setAttribute("aria-invalid", "true");
}

for (const form of document.querySelectorAll("form[data-type]")) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = form.querySelector(".form__error");
    const data = Object.fromEntries(new FormData(form));
    if (form.dataset.type === "contact.logged" && followUpOf(form)) data.concern_id = followUpOf(form);
    const picked = form.querySelector("select[data-concern-picker]")?.selectedOptions[0];
    if (picked?.dataset.category) data.category = picked.dataset.category; // for its label only
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
    let record;
    try {
      if ("student_refs" in data) {
        try {
          data.student_refs = parseStudentRefs(data.student_refs, ctx.school.student_reference_pattern);
        } catch (err) {
          throw fieldError("student_refs", err.message);
        }
        if (form.dataset.type === "contact.logged" && data.student_refs.length === 0) {
          throw fieldError("student_refs", "a contact needs at least one student reference");
        }
      }
      record = await save(form.dataset.type, data);
    } catch (err) {
      showError(form, err, error);
      return;
    }
    error.hidden = true;
    form.reset();
    if (form.dataset.type === "contact.logged") endFollowUp();
    const zone = await outbox.getMeta(`last_zone:${ctx.school.id}`);
    for (const select of form.querySelectorAll("select[data-zone-default]")) select.value = zone ?? "";
    const details = form.closest("details");
    if (details) details.open = false;
    showBanner(`${record.label} saved.`);
    (details?.querySelector("summary") ?? form.elements[0]).focus();
  });
}

// Reading a checkpoint's tag or a badge's QR inside the app, where the browser can.
function offer(where, templateId, supported, onClick) {
  if (!supported) return;
  const button = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
  button.addEventListener("click", onClick);
  $(where).append(button);
}

async function scanCheckpoint(read, method) {
  const error = $("#scan-error");
  try {
    const text = await read();
    if (text === null) return; // cancelled
    const found = checkpointFromUrl(text, { schoolId: ctx.school.id, zones: ctx.zones });
    if (found.error) throw new Error(found.error);
    error.hidden = true;
    await save("checkpoint.scanned", { tag: found.tag, zone_id: found.zone_id, method });
    showBanner(`Scan of ${found.tag} saved.`);
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
}

offer("#scan-readers", "scan-nfc-template", nfcSupported(), () =>
  scanCheckpoint(() => readNfc({ title: "Tap NFC tag" }), "nfc"),
);
offer("#scan-readers", "scan-qr-template", cameraSupported(), () =>
  scanCheckpoint(() => readQr({ title: "Scan the checkpoint's QR" }), "qr"),
);
// A badge's QR: a signed token is checked by the server first (a forged or expired badge is
// said so, and no sighting is recorded); a plain badge number is taken as it is.
async function scannedBadge(text) {
  const token = badgeToken(text);
  if (!token) {
    const badge = badgeFromQr(text);
    if (!badge) throw fieldError("badge_number", "that code is not a visitor's badge");
    return badge;
  }
  let check;
  try {
    check = await checkBadge(token);
  } catch {
    throw fieldError("badge_number", "the badge cannot be checked without signal: type its number");
  }
  const problem = badgeProblem(check);
  if (problem) throw fieldError("badge_number", problem);
  return check.badge_number;
}

offer("#badge-readers", "badge-qr-template", cameraSupported(), async () => {
  const form = $("#badge-form");
  try {
    const text = await readQr({ title: "Scan the visitor's badge" });
    if (text === null) return; // cancelled
    const badge = await scannedBadge(text);
    form.elements.badge_number.value = badge;
    form.requestSubmit(); // recorded where the officer is: the zone picked
  } catch (err) {
    showError(form, err);
  }
});

await initConcerns({ outbox, ctx });

// Forms open at the zone of the last scan.
const lastZone = await outbox.getMeta(`last_zone:${ctx.school.id}`);
if (lastZone) {
  for (const select of document.querySelectorAll("select[data-zone-default]")) select.value = lastZone;
}

// A checkpoint URL opened without signal: the service worker answered with this page, so the
// scan is recorded here, as scan.html would have done.
const tagPath = location.pathname.match(/^\/t\/([^/]+)\/([^/]+)\/?$/);
if (tagPath && decodeURIComponent(tagPath[1]) === ctx.school.id) {
  const tag = decodeURIComponent(tagPath[2]);
  const zone_id = zoneOfTag(ctx.zones, tag);
  const method = new URLSearchParams(location.search).get("m") === "nfc" ? "nfc" : "qr";
  if (zone_id && !history.state?.recorded) {
    const record = await save("checkpoint.scanned", { tag, zone_id, method });
    history.replaceState({ recorded: record.event_id }, "", "/app");
    showBanner(`Scan of ${tag} saved.`);
  } else if (!zone_id) {
    showBanner(`${tag} is not a checkpoint of ${ctx.school.name}.`);
  }
}

render();
sync.start();
