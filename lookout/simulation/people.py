"""Who the simulated week is about: opaque student references, fictional visitors, and the
watchlist names the simulator needs to stage one match. Students never get names.

The visitor name lists are fictional and chosen far from the example watchlist;
`tests/unit/simulation/test_plan.py` screens every simulated name with the visitors service's
own matcher to keep it that way.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lookout.kernel.settings import ConfigurationError
from lookout.school.config import SchoolConfig

STUDENT_PREFIX = "S-"
FIRST_STUDENT = 1001


def student_refs(count: int) -> tuple[str, ...]:
    """`count` opaque references, `S-1001`, `S-1002`, … (what a school's SIS would issue)."""
    return tuple(f"{STUDENT_PREFIX}{FIRST_STUDENT + i}" for i in range(count))


FIRST_NAMES = (
    "Aisha", "Andre", "Bianca", "Carmen", "Connor", "Daria", "Devon", "Elena", "Emeka",
    "Farah", "Fiona", "Gabriel", "Hana", "Hiro", "Ines", "Isaac", "Jada", "Jonah", "Keiko",
    "Kofi", "Leon", "Lucia", "Marcus", "Maya", "Nadia", "Nikhil", "Olivia", "Omar", "Priya",
    "Quinn", "Rosa", "Samir", "Tasha", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abernathy", "Adeyemi", "Bergstrom", "Brennan", "Calloway", "Chowdhury", "Delgado",
    "Dunmore", "Eriksen", "Fontaine", "Gutierrez", "Haddad", "Ibarra", "Jablonski", "Kim",
    "Lindqvist", "Mbeki", "Nakamura", "Novak", "Okoye", "Quintero", "Rahman", "Sato",
    "Tanaka", "Ueda", "Varga", "Whitfield", "Xu", "Yilmaz", "Zamora",
)  # fmt: skip

PURPOSES = {
    "parent": (
        "Parent-teacher conference",
        "IEP meeting",
        "Dropping off medication",
        "Early pick-up paperwork",
        "Meeting with the counselor",
    ),
    "guest": ("Guest speaker", "College admissions visit", "District walkthrough", "Job fair"),
    "volunteer": ("Library volunteer", "Lunch volunteer", "Tutoring volunteer"),
    "contractor": ("HVAC repair", "Fire extinguisher inspection", "Gym floor repair", "IT cabling"),
    "substitute": ("Substitute teaching",),
}

# Notes the SSO types: about places and what was done, never names.
VAPING_NOTES = (
    "Strong vape smell on entry; students left as I arrived.",
    "Vape cloud in the stall area; device confiscated.",
    "Sweet vapour smell, no one present.",
    "Students gathered at the sinks, vape smell.",
)
CONFLICT_NOTES = (
    "Raised voices at a lunch table, separated the students.",
    "Pushing in the lunch line; talked both students down.",
)
DISTRESS_NOTES = ("Student crying alone, walked with them to a quiet spot.",)
OBSERVATION_NOTES = {
    "vaping": ("Lingering vape smell after passing period.", "Vape cartridge found by the sink."),
    "loitering": ("Students hanging out without passes.",),
    "hazard": ("Spilled drink near the tables, custodian called.",),
    "property_damage": ("Fresh marker on the stall door.",),
}
RESOLUTION_NOTES = {
    "resolved_by_sso": "Talked with the students; resolved on the spot.",
    "parent_contacted": "Parents contacted by the assistant principal.",
    "referred_to_admin": "Referred to the assistant principal.",
    "referred_to_counselor": "Referred to the counselor; check back tomorrow.",
}


@dataclass(frozen=True)
class ListedPerson:
    """What the simulator needs of a watchlist entry to stage a visitor who matches it."""

    entry_id: str
    first_name: str
    last_name: str
    date_of_birth: date | None


def read_watchlist(path: Path) -> tuple[ListedPerson, ...]:
    """The names of a school's watchlist CSV (the visitors service's format). Errors are one
    line naming the file and line, never the values."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the watchlist ({exc.strerror})") from None
    people: list[ListedPerson] = []
    for line, row in enumerate(rows, start=2):
        try:
            born = row.get("date_of_birth") or ""
            people.append(
                ListedPerson(
                    entry_id=row["entry_id"].strip(),
                    first_name=row["first_name"].strip(),
                    last_name=row["last_name"].strip(),
                    date_of_birth=date.fromisoformat(born.strip()) if born.strip() else None,
                )
            )
        except (KeyError, AttributeError, ValueError):
            raise ConfigurationError(f"{path}: line {line} is not a watchlist entry") from None
    return tuple(p for p in people if p.entry_id and p.first_name and p.last_name)


def watchlist_path(school: SchoolConfig, school_file: Path | None) -> Path | None:
    """The school's watchlist CSV, relative to its YAML file (as the visitors service reads it)."""
    if not school.watchlist.csv_path:
        return None
    path = Path(school.watchlist.csv_path)
    if not path.is_absolute() and school_file is not None:
        path = school_file.parent / path
    return path
