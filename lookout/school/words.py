"""Plain words for what people read (the weekly email, the console): categories, outcomes,
zones, bell periods, people and escalation steps as a principal reads them, never as ids."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from lookout.school.config import Period, PeriodKind, Person, SchoolConfig

DASH = "\N{EN DASH}"

CATEGORY = {
    # concern categories
    "vaping": "vaping",
    "conflict": "conflict",
    "bullying": "bullying",
    "emotional_distress": "emotional distress",
    "self_harm_risk": "self-harm risk",
    "weapon": "weapon",
    "intruder": "intruder",
    "medical": "medical event",
    "hazard": "hazard",
    "other": "other",
    # observation categories
    "loitering": "loitering",
    "unauthorized_area": "student in an unauthorized area",
    "property_damage": "property damage",
    # alert sources that are not concerns
    "concern": "concern",
    "check_missed": "missed patrol check",
    "heartbeat_missed": "the SSO's phone went silent",
    "screening_flagged": "visitor screening flag",
    "visitor_overdue": "visitor overdue",
    "visitor_out_of_bounds": "visitor out of bounds",
    "visitor_unaccounted": "visitor not signed out",
    "follow_up_missed": "follow-up missed",
    "sensor_unchecked": "sensor alert not checked in time",
    # sensor readings
    "vape": "vape",
    "thc": "THC",
    "loud_sound": "loud sound",
    "tamper": "sensor tampered with",
}
OUTCOME = {
    "resolved_by_sso": "resolved by the SSO",
    "referred_to_counselor": "referred to a counselor",
    "referred_to_admin": "referred to an administrator",
    "parent_contacted": "parent contacted",
    "no_action_needed": "no action needed",
    "unknown": "outcome not recorded",
}
CONTACT = {
    "positive_contact": "positive contacts",
    "check_in": "check-ins",
    "de_escalation": "de-escalations",
    "referral_to_counselor": "referrals to a counselor",
}
SCREENING = {"yes": "confirmed match", "not_sure": "possible match (not sure)"}
ROLE = {
    "sso": "SSO",
    "assistant_principal": "assistant principal",
    "principal": "principal",
    "counselor": "counselor",
    "district_safety": "district safety",
    "front_office": "front office",
    "admin": "administrator",
}
PERIOD_KIND = {
    PeriodKind.BEFORE_SCHOOL: "before school",
    PeriodKind.CLASS: "class",
    PeriodKind.PASSING: "passing time",
    PeriodKind.LUNCH: "lunch",
    PeriodKind.AFTER_SCHOOL: "after school",
}


def category(key: str | None) -> str:
    if not key:
        return "other"
    return CATEGORY.get(key, key.replace("_", " "))


def outcome(key: str) -> str:
    return OUTCOME.get(key, key.replace("_", " "))


def contact(key: str) -> str:
    return CONTACT.get(key, key.replace("_", " "))


def screening(key: str) -> str:
    return SCREENING.get(key, key.replace("_", " "))


def zone(school: SchoolConfig, zone_id: str | None) -> str:
    if zone_id is None:
        return "no zone given"
    return next((z.name for z in school.zones if z.id == zone_id), zone_id)


def _hhmm(p: Period) -> str:
    return f"{p.start:%H:%M}{DASH}{p.end:%H:%M}"


def period_short(p: Period) -> str:
    """A bell period in a word or two: `period 6`, `passing time`, `lunch A`, `before school`."""
    digits = re.search(r"(\d+)$", p.name)
    letter = re.search(r"[-_ ]([a-z])$", p.name)
    if p.kind == PeriodKind.CLASS:
        return f"period {digits.group(1)}" if digits else p.name.replace("-", " ")
    if p.kind == PeriodKind.LUNCH:
        return f"lunch {letter.group(1).upper()}" if letter else "lunch"
    return PERIOD_KIND[p.kind]


def period(school: SchoolConfig, name: str | None) -> str:
    """`passing time (14:20-14:27)`, `period 6 (13:30-14:20)` (an en dash between the times):
    what the bell schedule calls it."""
    if name is None:
        return "outside the bell schedule"
    p = next((p for p in school.bell_schedule.periods if p.name == name), None)
    if p is None:
        return name
    return f"{period_short(p)} ({_hhmm(p)})"


def person(p: Person) -> str:
    roles = ", ".join(ROLE.get(r.value, r.value) for r in p.roles)
    return f"{p.name} ({roles})"


def person_by_id(school: SchoolConfig, person_id: str) -> str:
    p = next((p for p in school.people if p.id == person_id), None)
    return person(p) if p is not None else "someone not in the school file"


def people_with_role(school: SchoolConfig, role: str) -> str:
    found = [p.name for p in school.people if any(r.value == role for r in p.roles)]
    what = ROLE.get(role, role)
    return f"{' and '.join(found)} ({what})" if found else f"the {what}"


def targets(school: SchoolConfig, tokens: Iterable[str]) -> str:
    """An escalation step's targets as roles: `principal, SSO` (a person by their role)."""
    out: list[str] = []
    for token in tokens:
        kind, _, key = token.partition(":")
        if kind == "person":
            p = next((p for p in school.people if p.id == key), None)
            names = [ROLE.get(r.value, r.value) for r in p.roles] if p else ["someone"]
        else:
            names = [ROLE.get(key, key.replace("_", " "))]
        out += [n for n in names if n not in out]
    return ", ".join(out)


def step(index: int, what: str) -> str:
    """`step 3 (principal)`: the escalation step as people count it (1-based)."""
    return f"step {index + 1} ({what})" if what else f"step {index + 1}"


def age(delta: timedelta) -> str:
    """`16 days`, `5 hours`, `40 minutes`: how long something has waited, rounded down."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes >= 2 * 24 * 60:
        return f"{minutes // (24 * 60)} days"
    if minutes >= 24 * 60:
        return "1 day"
    if minutes >= 120:
        return f"{minutes // 60} hours"
    if minutes >= 60:
        return "1 hour"
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def day_and_time(moment: datetime, school: SchoolConfig) -> str:
    """`Wed 25 Nov 12:00` in school time."""
    local = moment.astimezone(school.tz)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def moment_at_school(moment: datetime, school: SchoolConfig | None) -> str:
    """`Mon 23 Nov 10:00 CST`: a time on an alert's timeline, in the school's zone (as the
    emails and the CLI say it); in UTC, said so, when the school is not known."""
    if school is None:
        utc = moment.astimezone(UTC)
        return f"{utc:%a} {utc.day} {utc:%b %H:%M} UTC"
    return f"{day_and_time(moment, school)} {moment.astimezone(school.tz):%Z}"


def date_range(first: date, last: date) -> str:
    """`30 Nov - 4 Dec`, `7 - 11 Dec`, `28 Dec 2026 - 1 Jan 2027` (with an en dash)."""
    if first.year != last.year:
        return f"{first.day} {first:%b %Y} {DASH} {last.day} {last:%b %Y}"
    if first.month != last.month:
        return f"{first.day} {first:%b} {DASH} {last.day} {last:%b}"
    return f"{first.day} {DASH} {last.day} {last:%b}"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"
