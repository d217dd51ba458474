// A US (or Canadian) driver's licence or state ID as its PDF417 barcode says it, read in the
// browser from what a USB 2D scanner types into the desk's field: the same rules as
// services/web/aamva.py (a browser test gives both the same barcodes). Only the fields below
// leave this page; the barcode's text is never sent or kept.

const HEADER = /@[\r\n]*\x1e?[\r\n]*ANSI ?(\d{6})(\d{2})/;
const ELEMENT = /^(D[A-Z]{2})(.*)$/;
const NAME_SEPARATORS = /[,$]/;
const SUBFILE_TYPES = { DL: "drivers_license", ID: "state_id" };

function notALicence(message) {
  return Object.assign(new Error(message), { name: "NotALicence" });
}

/** `O'BRIEN-SMITH` → `O'Brien-Smith`: cards print names in capitals. */
export function nameCase(text) {
  return String(text)
    .trim()
    .toLowerCase()
    .replace(/(^|[\s\-'\u2019])(\p{L}|\p{N}|_)/gu, (_, before, letter) => before + letter.toUpperCase());
}

function isoDate(y, m, d) {
  const when = new Date(Date.UTC(y, m - 1, d));
  if (when.getUTCFullYear() !== y || when.getUTCMonth() !== m - 1 || when.getUTCDate() !== d || y < 1) {
    return null;
  }
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function readDate(value, field, yearFirst) {
  const digits = String(value).trim();
  if (!/^\d{8}$/.test(digits)) throw notALicence(`${field}: not an 8-digit date`);
  const [y, m, d] = yearFirst
    ? [+digits.slice(0, 4), +digits.slice(4, 6), +digits.slice(6)]
    : [+digits.slice(4), +digits.slice(0, 2), +digits.slice(2, 4)];
  const iso = isoDate(y, m, d);
  if (!iso) throw notALicence(`${field}: not a date`);
  return iso;
}

function elements(text, version) {
  const lines = text.split(/[\r\n]+/).filter(Boolean);
  const head = lines.findIndex((line) => line.includes("ANSI"));
  if (head < 0) throw notALicence("barcode: no ANSI header");
  const first = lines[head].slice(lines[head].indexOf("ANSI") + 4).trimStart();
  const at = version === "01" ? 8 : 10;
  const countText = first.slice(at, at + 2);
  if (!/^\d{2}$/.test(countText)) throw notALicence("barcode: header unreadable");
  const count = +countText;
  const designators = first.slice(at + 2, at + 2 + 10 * count);
  const types = [];
  for (let i = 0; i < designators.length; i += 10) types.push(designators.slice(i, i + 2));
  const kind = types.find((t) => t in SUBFILE_TYPES);
  if (!kind) throw notALicence("barcode: no DL or ID subfile");
  const rest = first.slice(at + 2 + 10 * count);
  const body = [rest.startsWith(kind) ? rest.slice(2) : rest, ...lines.slice(head + 1)];
  const found = {};
  for (let line of body) {
    if (line.startsWith(kind) && ELEMENT.test(line.slice(2))) line = line.slice(2);
    const m = line.match(ELEMENT);
    if (m && !(m[1] in found)) found[m[1]] = m[2].trim();
  }
  return { kind, el: found };
}

function names(el) {
  let last = el.DCS ?? "";
  let first = el.DAC || el.DCT || "";
  if (!last && "DAA" in el) {
    const parts = el.DAA.split(NAME_SEPARATORS).map((p) => p.trim());
    last = parts[0];
    first = parts.length > 1 ? parts[1] : "";
  }
  first = first.split(NAME_SEPARATORS)[0].trim();
  if (!last) throw notALicence("DCS: no family name");
  if (!first) throw notALicence("DAC: no given name");
  return [nameCase(first), nameCase(last)];
}

/**
 * The card the barcode's text describes: `{ first_name, last_name, date_of_birth, id_type,
 * id_last4, expires }` (dates `YYYY-MM-DD`, expires null when the card has none); throws an
 * error naming the field, never its value.
 */
export function parseLicence(text) {
  const source = String(text ?? "");
  const header = source.match(HEADER);
  if (!header) throw notALicence("barcode: no AAMVA header");
  const version = header[2];
  const { kind, el } = elements(source.slice(header.index), version);
  const [first, last] = names(el);
  const yearFirst = version === "01" || (el.DCG ?? "").toUpperCase() === "CAN";
  if (!("DBB" in el)) throw notALicence("DBB: no date of birth");
  const born = readDate(el.DBB, "DBB", yearFirst);
  const number = (el.DAQ ?? "").replace(/[^A-Za-z0-9]/g, "");
  if (number.length < 4) throw notALicence("DAQ: no ID number of 4 characters or more");
  const expires = el.DBA ? readDate(el.DBA, "DBA", yearFirst) : null;
  return {
    first_name: first,
    last_name: last,
    date_of_birth: born,
    id_type: SUBFILE_TYPES[kind],
    id_last4: number.slice(-4).toUpperCase(),
    expires,
  };
}

/** Whether a card is past its expiry on `today` (`YYYY-MM-DD`): valid through the date. */
export function expired(card, today) {
  return Boolean(card.expires) && card.expires < today;
}

/** Whether typed text looks like the start of a licence barcode (not a person typing). */
export function looksLikeBarcode(text) {
  return /^\s*@/.test(String(text ?? "")) || String(text ?? "").includes("ANSI ");
}
