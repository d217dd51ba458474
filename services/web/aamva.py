"""A US (or Canadian) driver's licence or state ID as its PDF417 barcode says it: the AAMVA
DL/ID card design standard's text, as a USB 2D scanner types it into the front desk's field.
Pure; the same rules as static/aamva.js, which reads the barcode in the browser — only the
fields below are ever sent to the server (never the barcode's text), and this module is the
server's statement of those rules (a browser test gives both the same hand-written barcodes).

What is kept: family name (DCS), given name (DAC; older cards DCT or DAA), date of birth (DBB),
the last 4 characters of the ID number (DAQ: the rest is never kept), the expiry (DBA) and
whether the card is a licence (subfile DL) or an ID card (ID). Dates are MMDDCCYY on US cards,
CCYYMMDD on Canadian ones (DCG `CAN`) and on cards of the standard's first version (01)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from lookout.contracts.visitors import IdType

HEADER = re.compile(r"@[\r\n]*\x1e?[\r\n]*ANSI ?(\d{6})(\d{2})")
ELEMENT = re.compile(r"^(D[A-Z]{2})(.*)$")
NAME_SEPARATORS = re.compile(r"[,$]")
WORD_START = re.compile(r"(^|[\s\-'\u2019])(\w)")
SUBFILE_TYPES = {"DL": IdType.DRIVERS_LICENSE, "ID": IdType.STATE_ID}


class NotALicence(ValueError):
    """The text is not an AAMVA DL/ID barcode, or lacks a field; the message names the field,
    never its value."""


@dataclass(frozen=True)
class Licence:
    """What the desk keeps of a scanned card."""

    first_name: str
    last_name: str
    date_of_birth: date
    id_type: IdType
    id_last4: str
    expires: date | None

    def expired(self, today: date) -> bool:
        """A card is valid through its expiry date."""
        return self.expires is not None and self.expires < today


def name_case(text: str) -> str:
    """`O'BRIEN-SMITH` → `O'Brien-Smith`: cards print names in capitals."""
    return WORD_START.sub(lambda m: m.group(1) + m.group(2).upper(), text.strip().lower())


def _date(value: str, field: str, year_first: bool) -> date:
    digits = value.strip()
    if not re.fullmatch(r"\d{8}", digits):
        raise NotALicence(f"{field}: not an 8-digit date")
    if year_first:
        y, m, d = int(digits[:4]), int(digits[4:6]), int(digits[6:])
    else:
        m, d, y = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    try:
        return date(y, m, d)
    except ValueError:
        raise NotALicence(f"{field}: not a date") from None


def _elements(text: str, version: str) -> tuple[str, dict[str, str]]:
    """The subfile's type (DL or ID) and its elements, code → value. Scanners type the
    standard's LF and CR as Enter, so any line break separates elements."""
    lines = [line for line in re.split(r"[\r\n]+", text) if line]
    head = next((i for i, line in enumerate(lines) if "ANSI" in line), None)
    if head is None:
        raise NotALicence("barcode: no ANSI header")
    first = lines[head][lines[head].index("ANSI") + 4 :].lstrip()
    # IIN (6), version (2), jurisdiction version (2, not in version 01), entries (2), then a
    # 10-character designator per subfile: its type, offset and length.
    at = 8 if version == "01" else 10
    try:
        count = int(first[at : at + 2])
    except ValueError:
        raise NotALicence("barcode: header unreadable") from None
    designators = first[at + 2 : at + 2 + 10 * count]
    types = [designators[i : i + 2] for i in range(0, len(designators), 10)]
    kind = next((t for t in types if t in SUBFILE_TYPES), None)
    if kind is None:
        raise NotALicence("barcode: no DL or ID subfile")
    rest = first[at + 2 + 10 * count :]
    body = [rest[2:] if rest.startswith(kind) else rest, *lines[head + 1 :]]
    found: dict[str, str] = {}
    for line in body:
        if line.startswith(kind) and ELEMENT.match(line[2:]):  # a subfile starting on its line
            line = line[2:]
        if (m := ELEMENT.match(line)) is not None:
            found.setdefault(m.group(1), m.group(2).strip())
    return kind, found


def _names(el: dict[str, str]) -> tuple[str, str]:
    last = el.get("DCS", "")
    first = el.get("DAC") or el.get("DCT", "")
    if not last and "DAA" in el:  # version 01: "FAMILY,GIVEN,MIDDLE"
        parts = [p.strip() for p in NAME_SEPARATORS.split(el["DAA"])]
        last, first = parts[0], parts[1] if len(parts) > 1 else ""
    first = NAME_SEPARATORS.split(first)[0].strip()  # DCT may hold "GIVEN,MIDDLE"
    if not last:
        raise NotALicence("DCS: no family name")
    if not first:
        raise NotALicence("DAC: no given name")
    return name_case(first), name_case(last)


def parse(text: str) -> Licence:
    """The card the barcode's text describes, or NotALicence naming what is missing."""
    header = HEADER.search(text)
    if header is None:
        raise NotALicence("barcode: no AAMVA header")
    version = header.group(2)
    kind, el = _elements(text[header.start() :], version)
    first, last = _names(el)
    year_first = version == "01" or el.get("DCG", "").upper() == "CAN"
    if "DBB" not in el:
        raise NotALicence("DBB: no date of birth")
    born = _date(el["DBB"], "DBB", year_first)
    number = re.sub(r"[^A-Za-z0-9]", "", el.get("DAQ", ""))
    if len(number) < 4:
        raise NotALicence("DAQ: no ID number of 4 characters or more")
    expires = _date(el["DBA"], "DBA", year_first) if el.get("DBA") else None
    return Licence(first, last, born, SUBFILE_TYPES[kind], number[-4:].upper(), expires)
