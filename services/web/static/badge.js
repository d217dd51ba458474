// A visitor's badge: what its QR code says and what a typed badge number may be. For now the
// code carries the badge number itself; a signed badge token comes later, and only
// badgeFromQr changes then.

const BADGE_NUMBER = /^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$/; // a Token, as long as the visitors store keeps

/** The badge number a typed entry names; throws naming the field when it is none. */
export function badgeNumber(text) {
  const value = String(text ?? "").trim();
  if (!value) throw fieldError("badge_number", "type the badge number");
  if (!BADGE_NUMBER.test(value)) {
    throw fieldError("badge_number", "a badge number is letters, digits and dashes, like 1123-001");
  }
  return value;
}

/** The badge number a badge's QR code carries, or null when the code is not a badge's. */
export function badgeFromQr(text) {
  const value = String(text ?? "").trim();
  return BADGE_NUMBER.test(value) ? value : null;
}

function fieldError(field, message) {
  return Object.assign(new Error(message), { field });
}
