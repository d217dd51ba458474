// A visitor's badge: what its QR code says and what a typed badge number may be. A badge
// printed at the front desk carries a token the web signed (`LB1.<payload>.<mac>`,
// services/web/badges.py), which only the server can check (POST /api/v1/badges/check): a
// forged, expired or another school's badge says so on the phone. A code that is a plain badge
// number (older badges) is still read as one.

import { csrfFromPage } from "./sync.js";

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

const TOKEN = /^LB1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;

/** The signed badge token a QR code carries, or null when it carries none. */
export function badgeToken(text) {
  const value = String(text ?? "").trim();
  return TOKEN.test(value) ? value : null;
}

const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });

/** What the server's verdict on a badge means to the officer, or null for a valid badge. */
export function badgeProblem(check) {
  switch (check.status) {
    case "valid":
      return null;
    case "expired":
      return `EXPIRED badge ${check.badge_number}: it was valid until ${TIME.format(new Date(check.valid_until))}. Keep the visitor with you and call the office.`;
    case "other_school":
      return "This badge is another school's. Keep the visitor with you and call the office.";
    case "forged":
      return "FORGED badge: it was not issued by this school's front desk. Keep the visitor with you and call the office.";
    default:
      return "that code is not a visitor's badge";
  }
}

/**
 * The server's verdict on a scanned badge token: `{ status, badge_number, valid_until }`.
 * Throws when it cannot be asked (no signal): a badge cannot be checked offline.
 */
export async function checkBadge(token, fetchFn = fetch) {
  const res = await fetchFn("/api/v1/badges/check", {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: {
      Accept: "application/json",
      "Content-Type": "application/json",
      "X-CSRF-Token": csrfFromPage(),
    },
    body: JSON.stringify({ badge: token }),
  });
  if (!res.ok) throw new Error(`the badge could not be checked (HTTP ${res.status})`);
  return res.json();
}

function fieldError(field, message) {
  return Object.assign(new Error(message), { field });
}
