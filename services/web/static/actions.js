// What the officer does, as the events of lookout/contracts/patrol.py, with a short label for
// the "Recent" list (never the note or the student references).

import { suiteNow } from "./clock.js";
import { badgeNumber } from "./badge.js";
import { makeEvent, newUuid } from "./outbox.js";

const STUDENT_REF = /^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$/;

/** Typed references, split on commas and spaces; throws naming the first that is not a ref. */
export function parseStudentRefs(text, schoolPattern = "") {
  const refs = [...new Set(text.split(/[\s,;]+/).filter(Boolean))];
  let school = null;
  try {
    school = schoolPattern ? new RegExp(`^(?:${schoolPattern})$`) : null;
  } catch {
    school = null; // a pattern JavaScript cannot read: the server still checks it
  }
  for (const ref of refs) {
    if (!STUDENT_REF.test(ref) || !/\d/.test(ref) || (school && !school.test(ref))) {
      throw new Error(`"${ref}" is not a student reference (like S-104233)`);
    }
  }
  if (refs.length > 20) throw new Error("at most 20 students per entry");
  return refs;
}

export function zoneName(zones, zoneId) {
  return zones.find((z) => z.id === zoneId)?.name ?? zoneId;
}

export function zoneOfTag(zones, tag) {
  return zones.find((z) => z.checkpoints.includes(tag))?.id ?? null;
}

const words = (value) => value.replaceAll("_", " ");

/** Build the event and its label for one action of the officer. */
export function buildAction(kind, values, { ctx, deviceId }) {
  const env = { schoolId: ctx.school.id, deviceId, now: suiteNow() }; // occurred_at: the suite's time
  const zone = values.zone_id || null;
  const where = zone ? ` · ${zoneName(ctx.zones, zone)}` : "";
  switch (kind) {
    case "checkpoint.scanned":
      return {
        event: makeEvent(kind, { zone_id: zone, checkpoint_tag: values.tag, method: values.method }, env),
        label: `Scan ${values.tag}${where}`,
      };
    case "observation.logged":
      if (!zone) throw fieldError("zone_id", "choose the zone");
      return {
        event: makeEvent(kind, { zone_id: zone, category: values.category, note: values.note ?? "" }, env),
        label: `Observation: ${words(values.category)}${where}`,
      };
    case "concern.raised":
      return {
        event: makeEvent(
          kind,
          {
            concern_id: newUuid(),
            category: values.category,
            severity: values.severity,
            zone_id: zone,
            student_refs: values.student_refs ?? [],
            note: values.note ?? "",
          },
          env,
        ),
        label: `Concern: ${words(values.category)}, ${values.severity}${where}`,
      };
    case "contact.logged":
      return {
        event: makeEvent(
          kind,
          {
            kind: values.kind,
            zone_id: zone,
            student_refs: values.student_refs,
            note: values.note ?? "",
            ...(values.concern_id ? { concern_id: values.concern_id } : {}),
          },
          env,
        ),
        label: `Contact: ${words(values.kind)}${values.concern_id ? " (follow-up)" : ""}${where}`,
      };
    case "concern.updated":
      return {
        event: makeEvent(kind, concernUpdate(values, zone), env),
        label: `Concern updated${about(values)}${values.severity ? `, now ${values.severity}` : ""}${where}`,
      };
    case "concern.resolved": {
      const id = concernId(values);
      if (!values.outcome) throw fieldError("outcome", "choose the outcome");
      const days = followUpDays(values.follow_up_in_school_days);
      return {
        event: makeEvent(
          kind,
          {
            concern_id: id,
            outcome: values.outcome,
            note: values.note ?? "",
            ...(days ? { follow_up_in_school_days: days } : {}),
          },
          env,
        ),
        label:
          `Concern resolved${about(values)}: ${words(values.outcome)}` +
          (days ? `, follow-up in ${days} school day${days === 1 ? "" : "s"}` : ""),
      };
    }
    case "visitor.sighted": {
      const badge = badgeNumber(values.badge_number);
      if (!zone) throw fieldError("zone_id", "choose the zone");
      return {
        event: makeEvent(kind, { badge_number: badge, zone_id: zone }, env),
        label: `Badge ${badge} seen${where}`,
      };
    }
    default:
      throw new Error(`unknown action ${kind}`);
  }
}

/** An error about one field of a form: `field` names it (never its value). */
export function fieldError(field, message) {
  return Object.assign(new Error(message), { field });
}

/** "in N school days" as typed: empty for none, else a whole number from 1 to 20. */
export function followUpDays(text) {
  const value = String(text ?? "").trim();
  if (!value) return null;
  const days = /^\d{1,2}$/.test(value) ? Number(value) : NaN;
  if (!(days >= 1 && days <= 20)) {
    throw fieldError("follow_up_in_school_days", "a follow-up is 1 to 20 school days away");
  }
  return days;
}

function concernId(values) {
  if (!values.concern_id) throw fieldError("concern_id", "choose the concern");
  return values.concern_id;
}

const about = (values) => (values.category ? ` (${words(values.category)})` : "");

// What the officer changed: an empty field is left as it was.
function concernUpdate(values, zone) {
  const update = { concern_id: concernId(values) };
  if (values.severity) update.severity = values.severity;
  if (zone) update.zone_id = zone;
  if (values.student_refs?.length) update.student_refs = values.student_refs;
  update.note = values.note ?? "";
  if (Object.keys(update).length === 2 && !update.note) {
    throw fieldError("severity", "change the severity, zone or students, or add a note");
  }
  return update;
}
