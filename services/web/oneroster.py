"""A OneRoster 1.1 / 1.2 CSV bundle read as pure functions: the school's students (reference,
names, grade), the references a delta removes, and its staff's emails.

Problems are reported by file, line and column, never with the cell's value (a student's name
is an education record); a bundle with any problem is not imported at all.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

VERSIONS = frozenset({"1.1", "1.2"})
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # a district's users.csv is a few MiB; more is not a roster
MAX_NAME = 100
# The shape of a reference in the event contracts (lookout/contracts/envelope.py: StudentRef).
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,31}")
# CEDS entry grade levels, as OneRoster's `grades` column carries them, youngest first.
GRADE_ORDER = (
    "IT",
    "PR",
    "PK",
    "TK",
    "KG",
    *(f"{n:02d}" for n in range(1, 14)),
    "PS",
    "UG",
    "Other",
)
GRADES = frozenset(GRADE_ORDER)
STAFF_ROLES = frozenset(
    {
        "administrator",
        "aide",
        "districtAdministrator",
        "principal",
        "proctor",
        "siteAdministrator",
        "systemAdministrator",
        "teacher",
    }
)
ACTIVE, REMOVED = "active", "tobedeleted"

Mode = Literal["bulk", "delta"]


class BundleError(Exception):
    """The bundle cannot be read at all (not a zip, no manifest, no users): one line."""


@dataclass(frozen=True)
class Problem:
    """One bad cell, row or file: where, and what is wrong (never the value)."""

    file: str
    line: int | None
    column: str | None
    what: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.what}"


@dataclass(frozen=True)
class Student:
    reference: str
    sourced_id: str
    given_name: str
    family_name: str
    grade: str | None


@dataclass(frozen=True)
class Staff:
    line: int
    email: str | None  # lower-cased


@dataclass
class Roster:
    """What a bundle says about one school."""

    version: str
    mode: Mode
    org: str
    students: list[Student] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # sourcedIds of `tobedeleted` users
    staff: list[Staff] = field(default_factory=list)


@dataclass(frozen=True)
class Options:
    """The school file's choices (roster section) and its reference rule."""

    reference_column: Literal["sourcedId", "identifier"]
    org: str | None
    reference_ok: Callable[[str], bool]  # the school's student_reference_pattern


@dataclass
class _Table:
    name: str
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]


def read_bundle(path: Path, options: Options) -> tuple[Roster | None, list[Problem]]:
    """The roster the bundle at `path` gives the school, or None with the problems found."""
    try:
        with zipfile.ZipFile(path) as bundle:
            files = _files(bundle)
    except (zipfile.BadZipFile, OSError):
        raise BundleError("BUNDLE: not a readable zip file") from None
    return read_files(files, options)


def _files(bundle: zipfile.ZipFile) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for info in bundle.infolist():
        name = info.filename
        if info.is_dir() or "/" in name or not name.endswith(".csv"):
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            raise BundleError(f"{name}: over {MAX_MEMBER_BYTES // 2**20} MiB")
        files[name] = bundle.read(info)
    return files


def read_files(files: dict[str, bytes], options: Options) -> tuple[Roster | None, list[Problem]]:
    """The same as read_bundle, from the bundle's CSV files by name."""
    problems: list[Problem] = []
    manifest = _manifest(files, problems)
    version = manifest.get("oneroster.version", "")
    if version not in VERSIONS:
        raise BundleError("manifest.csv: oneroster.version is not 1.1 or 1.2")
    modes: dict[str, str] = {}
    for key, value in manifest.items():
        if not key.startswith("file."):
            continue
        if value not in ("bulk", "delta", "absent"):
            problems.append(
                Problem("manifest.csv", None, "value", f"{key}: not bulk, delta or absent")
            )
            continue
        modes[key[len("file.") :]] = value
        if value != "absent" and f"{key[len('file.') :]}.csv" not in files:
            problems.append(
                Problem("manifest.csv", None, "value", f"{key}: its file is not in the bundle")
            )
    users_mode = modes.get("users", "absent")
    if users_mode == "absent":
        raise BundleError("manifest.csv: file.users is absent; there is no one to import")
    mode: Mode = "bulk" if users_mode == "bulk" else "delta"

    def table(name: str, required: list[str]) -> _Table | None:
        if modes.get(name, "absent") == "absent" or f"{name}.csv" not in files:
            return None
        return _table(f"{name}.csv", files[f"{name}.csv"], required, problems)

    status_rule = _status_rule(mode)
    orgs = table("orgs", ["sourcedId", "type"])
    org = _org(orgs, options.org, problems)
    reference = options.reference_column
    user_columns = ["sourcedId", "status", "givenName", "familyName", reference]
    if version == "1.1":
        user_columns += ["role", "orgSourcedIds"]
    users = table("users", user_columns)
    roles = table("roles", ["userSourcedId", "orgSourcedId", "role"]) if version == "1.2" else None
    enrollments = table("enrollments", ["userSourcedId", "schoolSourcedId", "role"])
    if users is None or org is None or problems:
        return None, problems

    at_org = _roles_at_org(org, roles, enrollments)
    roster = Roster(version=version, mode=mode, org=org)
    seen_refs: set[str] = set()
    seen_ids: set[str] = set()
    for line, row in users.rows:
        sourced_id = row["sourcedId"].strip()
        status = row["status"].strip()
        if not sourced_id:
            problems.append(Problem(users.name, line, "sourcedId", "empty"))
            continue
        if sourced_id in seen_ids:
            problems.append(Problem(users.name, line, "sourcedId", "also on an earlier line"))
            continue
        seen_ids.add(sourced_id)
        if (why := status_rule(status)) is not None:
            problems.append(Problem(users.name, line, "status", why))
            continue
        if status == REMOVED:
            roster.removed.append(sourced_id)
            continue
        role = _role(version, org, row, at_org.get(sourced_id))
        if role in STAFF_ROLES:
            email = row.get("email", "").strip().lower()
            roster.staff.append(Staff(line=line, email=email or None))
        elif role == "student":
            student = _student(users.name, line, row, sourced_id, options, problems)
            if student is None:
                continue
            if student.reference in seen_refs:
                problems.append(Problem(users.name, line, reference, "also on an earlier line"))
                continue
            seen_refs.add(student.reference)
            roster.students.append(student)
    return (None if problems else roster), problems


def _manifest(files: dict[str, bytes], problems: list[Problem]) -> dict[str, str]:
    if "manifest.csv" not in files:
        raise BundleError("manifest.csv: not in the bundle (is it a OneRoster CSV bundle?)")
    manifest = _table("manifest.csv", files["manifest.csv"], ["propertyName", "value"], problems)
    if manifest is None:
        raise BundleError(str(problems[-1]) if problems else "manifest.csv: unreadable")
    return {row["propertyName"].strip(): row["value"].strip() for _, row in manifest.rows}


def _table(name: str, data: bytes, required: list[str], problems: list[Problem]) -> _Table | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(Problem(name, None, None, "not UTF-8 text"))
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in dict.fromkeys(required) if c not in header]
        for column in missing:
            problems.append(Problem(name, 1, column, "missing from the header"))
        if missing:
            return None
        rows: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(
                    Problem(name, line, None, f"{len(cells)} cells, the header has {len(header)}")
                )
                continue
            rows.append((line, dict(zip(header, cells, strict=True))))
    except csv.Error:
        problems.append(Problem(name, reader.line_num, None, "not readable as CSV"))
        return None
    return _Table(name, header, rows)


def _status_rule(mode: Mode) -> Callable[[str], str | None]:
    def rule(status: str) -> str | None:
        if status in (ACTIVE, REMOVED):
            return None
        if status == "" and mode == "bulk":
            return None
        if status == "":
            return "empty in a delta file (active or tobedeleted)"
        return "not active or tobedeleted"

    return rule


def _org(orgs: _Table | None, chosen: str | None, problems: list[Problem]) -> str | None:
    if chosen is not None:
        if orgs is not None and not any(r["sourcedId"].strip() == chosen for _, r in orgs.rows):
            problems.append(
                Problem("orgs.csv", None, "sourcedId", "no org is the school file's roster.org")
            )
            return None
        return chosen
    if orgs is None:
        problems.append(
            Problem(
                "orgs.csv",
                None,
                None,
                "not in the bundle: name the school's org in the school file (roster.org)",
            )
        )
        return None
    schools = [
        r["sourcedId"].strip()
        for _, r in orgs.rows
        if r["type"].strip() == "school" and r.get("status", "").strip() != REMOVED
    ]
    if len(schools) != 1:
        problems.append(
            Problem(
                "orgs.csv",
                None,
                "type",
                f"{len(schools)} orgs of type school: name the school's in the school file "
                "(roster.org)",
            )
        )
        return None
    return schools[0]


def _roles_at_org(org: str, roles: _Table | None, enrollments: _Table | None) -> dict[str, str]:
    """Each user's role at the school, by roles.csv (1.2) or by an enrollment there."""
    found: dict[str, str] = {}
    for table, org_column in ((enrollments, "schoolSourcedId"), (roles, "orgSourcedId")):
        for _, row in table.rows if table is not None else []:
            if row[org_column].strip() == org and row.get("status", "").strip() != REMOVED:
                found[row["userSourcedId"].strip()] = row["role"].strip()
    return found


def _role(version: str, org: str, row: dict[str, str], at_org: str | None) -> str | None:
    if version == "1.1":
        orgs = {o.strip() for o in row["orgSourcedIds"].split(",")}
        if org in orgs:
            return row["role"].strip()
    return at_org


def _student(
    file: str,
    line: int,
    row: dict[str, str],
    sourced_id: str,
    options: Options,
    problems: list[Problem],
) -> Student | None:
    before = len(problems)
    column = options.reference_column
    reference = sourced_id if column == "sourcedId" else row[column].strip()
    if not reference:
        problems.append(Problem(file, line, column, "empty"))
    elif not (
        REFERENCE.fullmatch(reference)
        and any(c.isdigit() for c in reference)
        and options.reference_ok(reference)
    ):
        problems.append(
            Problem(
                file,
                line,
                column,
                "not a student reference of this school",
            )
        )
    names = {}
    for name_column in ("givenName", "familyName"):
        value = " ".join(row[name_column].split())
        if not value:
            problems.append(Problem(file, line, name_column, "empty"))
        elif len(value) > MAX_NAME or not value.isprintable():
            problems.append(
                Problem(file, line, name_column, f"over {MAX_NAME} characters or not printable")
            )
        names[name_column] = value
    grades = [g.strip() for g in row.get("grades", "").split(",") if g.strip()]
    if any(g not in GRADES for g in grades):
        problems.append(Problem(file, line, "grades", "not a CEDS grade level (09, 10, KG…)"))
    if len(problems) > before:
        return None
    return Student(
        reference=reference,
        sourced_id=sourced_id,
        given_name=names["givenName"],
        family_name=names["familyName"],
        grade=grades[0] if grades else None,
    )


@dataclass(frozen=True)
class StaffMatch:
    matched: list[str]  # person ids of the school file, in its order
    unmatched_lines: list[int]  # users.csv lines of staff no person of the school file has
    people_not_found: list[str]  # person ids with an email no staff row of the bundle has


def match_staff(staff: list[Staff], people: list[tuple[str, str | None]]) -> StaffMatch:
    """The bundle's staff matched to the school file's people (id, email) by email."""
    by_email = {email.lower(): pid for pid, email in people if email}
    emails = {s.email for s in staff if s.email}
    matched = [pid for pid, email in people if email and email.lower() in emails]
    unmatched = [s.line for s in staff if s.email is None or s.email not in by_email]
    not_found = [pid for pid, email in people if email and email.lower() not in emails]
    return StaffMatch(matched=matched, unmatched_lines=unmatched, people_not_found=not_found)
