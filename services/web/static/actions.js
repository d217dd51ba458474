// What the officer does, as the events of lookout/contracts/patrol.py, with a short label for
// the "Recent" list (never the note or the student references).

import { suiteNow } from "./clock.js";
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
          { kind: values.kind, zone_id: zone, student_refs: values.student_refs, note: values.note ?? "" },
          env,
        ),
        label: `Contact: ${words(values.kind)}${where}`,
      };
    default:
      throw new Error(`unknown action ${kind}`);
  }
}
