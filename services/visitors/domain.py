"""Visitor rules, pure: what a sign-in must name, when a visit is overdue or closed for the
day, what a screening answer does to a visit, and whether a sighting is out of bounds.

Refusals name the field and ids (they go back to the front office as one line), never the
visitor's name, ID digits or date of birth.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from lookout.contracts.visitors import ScreeningAnswer, SignIn, VisitorType, VisitStatus
from lookout.school.config import SchoolConfig


def refuse_sign_in(school: SchoolConfig, request: SignIn) -> str | None:
    """None when the school knows the host, the zones and the staff member; else the reason."""
    people = {p.id for p in school.people}
    if request.host_id not in people:
        return "host_id: not a person of this school"
    for zone in request.destination_zones:
        if zone not in school.zone_ids:
            return "destination_zones: not a zone of this school"
    if len(set(request.destination_zones)) != len(request.destination_zones):
        return "destination_zones: a zone is listed twice"
    return refuse_staff(school, "signed_in_by", request.signed_in_by)


def refuse_staff(school: SchoolConfig, field: str, person_id: str) -> str | None:
    if person_id not in {p.id for p in school.people}:
        return f"{field}: not a person of this school"
    return None


def badge_number(day: date, seq: int) -> str:
    """Printed on the badge: month, day and the day's sequence (`1123-007`)."""
    return f"{day:%m%d}-{seq:03d}"


def day_end(school: SchoolConfig, moment: datetime) -> datetime:
    """When visits still open at `moment` are checked out automatically (UTC): the last bell
    period's end plus the margin on a school day; on a no-school day, or once that time has
    passed, local midnight — a badge never outlives the day it was issued."""
    local = moment.astimezone(school.tz)
    day = local.date()
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=school.tz)
    hours = school.school_hours(day)
    if hours is not None:
        close = hours[1] + timedelta(minutes=school.visitors.auto_checkout_margin_minutes)
        if local < close:
            return min(close, midnight).astimezone(UTC)
    return midnight.astimezone(UTC)


@dataclass(frozen=True)
class Admission:
    """Timers of an admitted visit."""

    expected_until: datetime
    overdue_at: datetime  # at the end-of-day checkout at the latest
    auto_checkout_at: datetime


def admit(school: SchoolConfig, at: datetime, expected_minutes: int) -> Admission:
    """The overdue deadline is the expected departure plus the grace, or the end-of-day checkout
    when that comes first: a visitor still on site when the badge expires is overdue then, and
    is reported before the checkout closes the visit (nobody saw them leave)."""
    expected = at + timedelta(minutes=expected_minutes)
    overdue = expected + timedelta(minutes=school.visitors.overdue_grace_minutes)
    checkout = day_end(school, at)
    return Admission(expected, min(overdue, checkout), checkout)


def screening_status(answers: Mapping[str, ScreeningAnswer | None]) -> VisitStatus:
    """A held visit after the latest answer for each possible match: any Yes denies entry;
    No for every match admits; otherwise (unanswered or Not sure) it stays pending."""
    latest = list(answers.values())
    if ScreeningAnswer.YES in latest:
        return VisitStatus.DENIED
    if latest and all(a is ScreeningAnswer.NO for a in latest):
        return VisitStatus.ON_SITE
    return VisitStatus.PENDING_SCREENING


def flags(answer: ScreeningAnswer) -> bool:
    """Yes and Not sure publish `screening flagged` (the alerts service escalates it)."""
    return answer in (ScreeningAnswer.YES, ScreeningAnswer.NOT_SURE)


@dataclass(frozen=True)
class VisitWindow:
    """What a sighting needs to know of the visit behind a badge."""

    checked_in_at: datetime
    checked_out_at: datetime | None
    destination_zones: tuple[str, ...]


def out_of_bounds(
    school: SchoolConfig, visit: VisitWindow, zone_id: str, seen_at: datetime
) -> bool:
    """Seen outside the destination zones (and the zones every visitor may be in), or seen
    while the badge was not valid: before check-in or after check-out."""
    if seen_at < visit.checked_in_at or (
        visit.checked_out_at is not None and seen_at >= visit.checked_out_at
    ):
        return True
    return zone_id not in allowed_zones(school, visit.destination_zones)


def allowed_zones(school: SchoolConfig, destinations: Iterable[str]) -> set[str]:
    return set(destinations) | set(school.visitors.always_allowed_zones)


def purge_at(school: SchoolConfig, closed_at: datetime) -> datetime:
    return closed_at + timedelta(days=school.visitors.retention_days)


def seconds_to_account(started_at: datetime, last_accounted_at: datetime) -> int:
    """A drill's time to full accountability: from its start to the last visitor accounted
    for, in whole seconds (never negative: a clock stepped back reads as 0)."""
    return max(0, int((last_accounted_at - started_at).total_seconds()))


def visit_listing(row: Any, hosts: Mapping[str, str]) -> dict[str, Any]:
    """What every list of visits at the desk shows of one (the roster, the end-of-day list, a
    drill): badge, name (empty once the visitor's details were purged), type, host, where they
    may go and where the SSO last saw them."""
    return {
        "visit_id": uuid.UUID(row.visit_id),
        "badge_number": row.badge_number,
        "name": f"{row.first_name} {row.last_name}" if row.first_name is not None else "",
        "visitor_type": VisitorType(row.visitor_type),
        "host_id": row.host_id,
        "host_name": hosts.get(row.host_id, row.host_id),
        "destination_zones": list(row.destination_zones),
        "last_seen_zone": row.last_seen_zone,
        "last_seen_at": row.last_seen_at,
    }
