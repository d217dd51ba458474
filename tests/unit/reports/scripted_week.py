"""A scripted school week (2026-W48 at Lakeside High) with counts known in advance.

The W48 summary covers Fri 2026-11-20 15:00 to Fri 2026-11-27 15:00, Chicago time (Thursday
and Friday are no-school days: Thanksgiving). W47 (the week before) and two older concerns are
there for the week-over-week changes and the hotspots. Every student reference and note below
is a marker the email must never contain.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lookout.contracts.alerts import (
    AlertAcknowledged,
    AlertEscalated,
    AlertNotified,
    AlertOpened,
    AlertResolved,
)
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckMissed,
    CheckpointScanned,
    CheckWindowClosed,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    FollowUpCompleted,
    FollowUpMissed,
    ObservationLogged,
    PatrolFocusPublished,
)
from lookout.contracts.visitors import (
    ScreeningFlagged,
    VisitorCheckedIn,
    VisitorCheckedOut,
    VisitorOutOfBounds,
    VisitorOverdue,
    VisitorSighted,
    VisitorUnaccounted,
)

TZ = ZoneInfo("America/Chicago")
WEEK = "2026-W48"
SECRET_NOTE = "SECRET-NOTE-ALPHA"
STUDENTS = ["S-900001", "S-900002", "S-900003"]
SSO = {"kind": "sso_device", "id": "phone-1"}
SVC = {"kind": "service", "id": "patrol"}


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=TZ)


FRI20, MON, TUE, WED = (
    date(2026, 11, 20),
    date(2026, 11, 23),
    date(2026, 11, 24),
    date(2026, 11, 25),
)
W47_WED, W46_WED = date(2026, 11, 18), date(2026, 11, 11)


def _ev(model: Any, when: datetime, actor: dict[str, str] = SSO, **fields: Any) -> Event:
    return model.new(school_id="lhs", occurred_at=when, actor=actor, **fields)  # type: ignore[no-any-return]


def _window(zone: str, start: datetime, minutes: int, outcome: str, **kw: Any) -> list[Event]:
    end = start + timedelta(minutes=minutes)
    out = [
        _ev(
            CheckWindowClosed,
            end,
            SVC,
            zone_id=zone,
            window_start=start,
            window_end=end,
            outcome=outcome,
            **kw,
        )
    ]
    if outcome == "missed":
        out.append(_ev(CheckMissed, end, SVC, zone_id=zone, window_start=start, window_end=end))
    return out


def _alert(
    opened: datetime,
    steps: list[tuple[int, list[dict[str, str]]]],
    ack: int | None,
    resolve: int | None,
    *,
    about: Event | None = None,
    source: str = "concern",
) -> list[Event]:
    """An alert about a concern (`about`: its ConcernRaised), or from another source."""
    aid = uuid.uuid4()
    svc = {"kind": "service", "id": "alerts"}
    out: list[Event] = [
        _ev(
            AlertOpened,
            opened,
            svc,
            alert_id=aid,
            dedup_key=f"k-{aid}",
            source=source,
            severity="high",
            source_event_id=about.event_id if about is not None else uuid.uuid4(),
            zone_id=getattr(about, "zone_id", None),
            category=about.category.value if isinstance(about, ConcernRaised) else source,
        )
    ]
    for i, (step, targets) in enumerate(steps):
        out.append(
            _ev(
                AlertEscalated,
                opened + timedelta(minutes=[0, 30, 90][i]),
                svc,
                alert_id=aid,
                step=step,
                repeat=0,
                targets=targets,
            )
        )
        out.append(
            _ev(
                AlertNotified,
                opened + timedelta(minutes=[0, 30, 90][i]),
                svc,
                alert_id=aid,
                person_id="sso-rivera",
                channel="email",
                outcome="delivered",
            )
        )
    if ack is not None:
        out.append(
            _ev(
                AlertAcknowledged,
                opened + timedelta(minutes=ack),
                svc,
                alert_id=aid,
                by_person_id="ap-chen",
            )
        )
    if resolve is not None:
        out.append(
            _ev(
                AlertResolved,
                opened + timedelta(minutes=resolve),
                svc,
                alert_id=aid,
                by_person_id="ap-chen",
                outcome_note=SECRET_NOTE,
            )
        )
    return out


def _concern(when: datetime, category: str, severity: str, zone: str | None) -> tuple[Any, Event]:
    cid = uuid.uuid4()
    return cid, _ev(
        ConcernRaised,
        when,
        concern_id=cid,
        category=category,
        severity=severity,
        zone_id=zone,
        student_refs=STUDENTS[:2],
        note=SECRET_NOTE,
    )


def _resolve(cid: Any, when: datetime, outcome: str) -> Event:
    return _ev(ConcernResolved, when, concern_id=cid, outcome=outcome, note=SECRET_NOTE)


def _contact(when: datetime, kind: str, zone: str | None = None) -> Event:
    return _ev(
        ContactLogged, when, kind=kind, zone_id=zone, student_refs=[STUDENTS[2]], note=SECRET_NOTE
    )


def _visit(when: datetime, vtype: str, signed_out: bool = True) -> tuple[Any, list[Event]]:
    vid = uuid.uuid4()
    fo = {"kind": "front_office", "id": "office-garcia"}
    out = [
        _ev(
            VisitorCheckedIn,
            when,
            fo,
            visit_id=vid,
            badge_number="1123-001",
            visitor_type=vtype,
            host_id="ap-chen",
            destination_zones=["main-office"],
            purpose=SECRET_NOTE,
            expected_until=when + timedelta(hours=1),
        ),
    ]
    if signed_out:
        out.append(
            _ev(
                VisitorCheckedOut,
                when + timedelta(minutes=50),
                fo,
                visit_id=vid,
                badge_number="1123-001",
                method="front_office",
            )
        )
    return vid, out


def scripted_events() -> dict[str, list[Event]]:
    """Events per stream, in publication order."""
    patrol: list[Event] = []
    concerns: list[Event] = []
    visitors: list[Event] = []
    alerts: list[Event] = []

    # W47: 2 checked, 2 missed; one concern (resolved in W48); 2 positive contacts; one alert;
    # 2 guests. W46: a critical concern never resolved.
    patrol += _window("bath-1n-boys", at(W47_WED, "08:35"), 7, "checked")
    patrol += _window("bath-1n-boys", at(W47_WED, "09:32"), 7, "checked")
    patrol += _window("bath-1n-boys", at(W47_WED, "10:29"), 7, "missed")
    patrol += _window("bath-1n-boys", at(W47_WED, "12:26"), 7, "missed")
    _, ev = _concern(at(W46_WED, "12:00"), "weapon", "critical", "parking-student")
    concerns.append(ev)
    c0, ev = _concern(at(W47_WED, "10:00"), "conflict", "low", "hall-2-south")
    concerns.append(ev)
    patrol += [_contact(at(W47_WED, "11:00"), "positive_contact") for _ in range(2)]
    alerts += _alert(at(W47_WED, "10:01"), [(0, [{"kind": "role", "id": "sso"}])], 5, 10)
    for hhmm in ("09:00", "13:00"):
        visitors += _visit(at(W47_WED, hhmm), "guest")[1]

    # W48 windows: bath-1n-boys 2 on time, 1 late, 1 missed; stair-east unannounced 1 of 2;
    # cafeteria 3 on time. Scans are not summarised but are stored.
    patrol += _window("bath-1n-boys", at(MON, "08:35"), 7, "checked", period="pass-1")
    patrol += _window("bath-1n-boys", at(MON, "09:32"), 7, "late", period="pass-2")
    patrol += _window("bath-1n-boys", at(TUE, "08:35"), 7, "missed", period="pass-1")
    patrol += _window("bath-1n-boys", at(TUE, "09:32"), 7, "checked", period="pass-2")
    patrol += _window("stair-east", at(MON, "09:00"), 10, "checked", unannounced=True)
    patrol += _window("stair-east", at(TUE, "10:00"), 10, "missed", unannounced=True)
    for hhmm in ("11:26", "11:41", "11:56"):
        patrol += _window("cafeteria", at(WED, hhmm), 15, "checked", period="lunch-a")
    for hhmm in ("08:36", "09:33", "11:30"):
        patrol.append(
            _ev(
                CheckpointScanned,
                at(MON, hhmm),
                zone_id="bath-1n-boys",
                checkpoint_tag="T-1NB",
                method="nfc",
            )
        )
    for hhmm in ("09:34", "09:36"):
        patrol.append(
            _ev(ObservationLogged, at(TUE, hhmm), zone_id="bath-1n-boys", category="vaping")
        )

    # W48 concerns: 5 raised (3 resolved in the week), C0 from W47 resolved.
    c1, raised1 = _concern(at(MON, "08:38"), "vaping", "high", "bath-1n-boys")
    concerns += [raised1, _resolve(c1, at(MON, "09:00"), "resolved_by_sso")]
    c2, raised2 = _concern(at(TUE, "08:37"), "vaping", "medium", "bath-1n-boys")
    concerns += [
        raised2,
        _ev(ConcernUpdated, at(TUE, "08:50"), concern_id=c2, severity="high", note=SECRET_NOTE),
    ]
    _, raised3 = _concern(at(WED, "11:30"), "conflict", "medium", "cafeteria")
    concerns.append(raised3)
    _, ev = _concern(at(WED, "09:35"), "bullying", "low", "hall-1-north")
    concerns.append(ev)
    c5, ev = _concern(at(MON, "10:00"), "other", "low", None)
    concerns += [ev, _resolve(c5, at(TUE, "10:00"), "parent_contacted")]
    concerns.append(_resolve(c2, at(WED, "10:00"), "referred_to_counselor"))
    concerns.append(_resolve(c0, at(MON, "07:30"), "no_action_needed"))

    # W48 contacts: 4 positive, 2 check-ins, 1 de-escalation, 1 referral.
    for i, kind in enumerate(
        ["positive_contact"] * 4 + ["check_in"] * 2 + ["de_escalation", "referral_to_counselor"]
    ):
        patrol.append(_contact(at(TUE, "12:00") + timedelta(minutes=i), kind, "cafeteria"))

    # W48 alerts: ack 6/95/3 min, resolve 20/120 min; steps reached 1, 3, 1, none;
    # the principal reached by role (A2) and as a person (A3).
    # A1-A3 are about concerns (A3's, still open, was acknowledged by ap-chen); A4 is the SSO's
    # phone going silent, never acknowledged.
    alerts += _alert(at(MON, "08:39"), [(0, [{"kind": "role", "id": "sso"}])], 6, 20, about=raised1)
    alerts += _alert(
        at(TUE, "08:38"),
        [
            (0, [{"kind": "role", "id": "sso"}]),
            (1, [{"kind": "role", "id": "assistant_principal"}]),
            (2, [{"kind": "role", "id": "principal"}, {"kind": "person", "id": "sso-rivera"}]),
        ],
        95,
        120,
        about=raised2,
    )
    alerts += _alert(
        at(WED, "11:31"),
        [(0, [{"kind": "person", "id": "principal-okafor"}])],
        3,
        None,
        about=raised3,
    )
    alerts += _alert(at(WED, "12:00"), [], None, None, source="heartbeat_missed")

    # Follow-ups: C1's missed (still not done at the end), C2's missed then done late.
    patrol.append(
        _ev(
            FollowUpMissed,
            at(TUE, "09:30"),
            SVC,
            concern_id=c1,
            category="vaping",
            severity="high",
            zone_id="bath-1n-boys",
            due_at=at(TUE, "09:00"),
        )
    )
    patrol.append(
        _ev(
            FollowUpMissed,
            at(TUE, "11:00"),
            SVC,
            concern_id=c2,
            category="vaping",
            severity="high",
            zone_id="bath-1n-boys",
            due_at=at(TUE, "10:30"),
        )
    )
    patrol.append(_ev(FollowUpCompleted, at(TUE, "11:30"), concern_id=c2, late=True))

    # W48 visitors: 3 parents, 2 guests, 1 contractor; flags yes + not sure; 1 overdue;
    # 2 out of bounds; sightings are not summarised.
    # The contractor was never signed out: the badge closed by itself at the day's end.
    visits = [_visit(at(MON, "09:00"), t) for t in ["parent"] * 3 + ["guest"] * 2]
    visits.append(_visit(at(MON, "09:00"), "contractor", signed_out=False))
    for _, evs in visits:
        visitors += evs
    visitors.append(
        _ev(
            VisitorUnaccounted,
            at(MON, "16:45"),
            SVC,
            visit_id=visits[5][0],
            badge_number="1123-001",
            expected_until=at(MON, "10:00"),
            checked_out_at=at(MON, "16:45"),
            last_seen_zone="gym",
            last_seen_at=at(MON, "09:40"),
        )
    )
    vid = visits[0][0]
    for decision in ("yes", "not_sure"):
        visitors.append(
            _ev(
                ScreeningFlagged,
                at(MON, "09:01"),
                {"kind": "front_office", "id": "office-garcia"},
                visit_id=vid,
                watchlist_entry_id="W-1",
                score=0.9,
                decision=decision,
                decided_by="office-garcia",
            )
        )
    visitors.append(
        _ev(
            VisitorOverdue,
            at(MON, "10:15"),
            SVC,
            visit_id=vid,
            badge_number="1123-001",
            expected_until=at(MON, "10:00"),
        )
    )
    for hhmm in ("09:20", "09:40"):
        visitors.append(_ev(VisitorSighted, at(MON, hhmm), badge_number="1123-001", zone_id="gym"))
        visitors.append(
            _ev(
                VisitorOutOfBounds,
                at(MON, hhmm),
                SVC,
                visit_id=vid,
                badge_number="1123-001",
                zone_id="gym",
                destination_zones=["main-office"],
            )
        )
    return {"PATROL": patrol, "CONCERNS": concerns, "VISITORS": visitors, "ALERTS": alerts}


def published_focus() -> Event:
    """The patrol service's focus for W49, published at the report moment."""
    return _ev(
        PatrolFocusPublished,
        at(date(2026, 11, 27), "15:00"),
        SVC,
        week="2026-W49",
        items=[
            {
                "zone_id": "bath-1n-boys",
                "period": "pass-1",
                "score": 0.33,
                "concerns": 2,
                "observations": 0,
                "reason": "extra checks: 2 concerns (2 vaping) and 0 observations in the last "
                "4 weeks",
            }
        ],
    )


# The numbers the W48 email must show (HTML data-k keys).
EXPECTED: dict[str, str] = {
    "week": "2026-W48",
    "headline.coverage": "78%",
    "headline.coverage.previous": "50%",
    "headline.coverage.change": "+28 pts",
    "headline.checks_done": "7",
    "headline.checks_done.previous": "2",
    "headline.checks_done.change": "+5",
    "headline.missed": "2",
    "headline.missed.previous": "2",
    "headline.missed.change": "±0",
    "headline.concerns": "5",
    "headline.concerns.previous": "1",
    "headline.concerns.change": "+4",
    "headline.resolved": "4",
    "headline.resolved.previous": "0",
    "headline.resolved.change": "+4",
    "headline.preventive": "7",
    "headline.preventive.previous": "2",
    "headline.preventive.change": "+5",
    "headline.prevention_ratio": "1.4",
    "headline.prevention_ratio.previous": "2",
    "headline.prevention_ratio.change": "-0.6",
    "headline.alerts": "4",
    "headline.alerts.previous": "1",
    "headline.alerts.change": "+3",
    "headline.unacknowledged": "1",
    "headline.unacknowledged.previous": "0",
    "headline.unacknowledged.change": "+1",
    "headline.reached_principal": "2",
    "headline.reached_principal.previous": "0",
    "headline.reached_principal.change": "+2",
    "headline.visitors": "6",
    "headline.visitors.previous": "2",
    "headline.visitors.change": "+4",
    "headline.screening_flags": "2",
    "headline.screening_flags.previous": "0",
    "headline.screening_flags.change": "+2",
    "coverage.bath-1n-boys.planned": "4",
    "coverage.bath-1n-boys.checked": "2",
    "coverage.bath-1n-boys.late": "1",
    "coverage.bath-1n-boys.missed": "1",
    "coverage.bath-1n-boys.coverage": "75%",
    "coverage.bath-1n-boys.unannounced_done": "0",
    "coverage.bath-1n-boys.unannounced_planned": "0",
    "coverage.stair-east.planned": "2",
    "coverage.stair-east.checked": "1",
    "coverage.stair-east.late": "0",
    "coverage.stair-east.missed": "1",
    "coverage.stair-east.coverage": "50%",
    "coverage.stair-east.unannounced_done": "1",
    "coverage.stair-east.unannounced_planned": "2",
    "coverage.cafeteria.planned": "3",
    "coverage.cafeteria.checked": "3",
    "coverage.cafeteria.late": "0",
    "coverage.cafeteria.missed": "0",
    "coverage.cafeteria.coverage": "100%",
    "coverage.cafeteria.unannounced_done": "0",
    "coverage.cafeteria.unannounced_planned": "0",
    "coverage.all.planned": "9",
    "coverage.all.checked": "6",
    "coverage.all.late": "1",
    "coverage.all.missed": "2",
    "coverage.all.coverage": "78%",
    "coverage.all.unannounced_done": "1",
    "coverage.all.unannounced_planned": "2",
    "concerns.raised": "5",
    "concerns.raised_resolved": "3",
    "concerns.raised_open": "2",
    "concerns.open_at_end": "3",
    "concerns.category.vaping": "2",
    "concerns.category.bullying": "1",
    "concerns.category.conflict": "1",
    "concerns.category.other": "1",
    "concerns.severity.high": "2",
    "concerns.severity.medium": "1",
    "concerns.severity.low": "2",
    "concerns.outcome.no_action_needed": "1",
    "concerns.outcome.parent_contacted": "1",
    "concerns.outcome.referred_to_counselor": "1",
    "concerns.outcome.resolved_by_sso": "1",
    "concerns.zone.bath-1n-boys": "2",
    "concerns.zone.hall-1-north": "1",
    "concerns.zone.cafeteria": "1",
    "concerns.zone.no zone": "1",
    "heat.bath-1n-boys.pass-1": "2",
    "heat.hall-1-north.pass-2": "1",
    "heat.cafeteria.lunch-a": "1",
    "contacts.positive_contact": "4",
    "contacts.check_in": "2",
    "contacts.de_escalation": "1",
    "contacts.referral_to_counselor": "1",
    "prevention.preventive": "7",
    "prevention.ratio": "1.4",
    "alerts.opened": "4",
    "alerts.steps.step_1": "2",
    "alerts.steps.step_1.label": "step 1 (SSO, principal)",
    "alerts.steps.step_3": "1",
    "alerts.steps.step_3.label": "step 3 (principal, SSO)",
    "alerts.steps.not_escalated": "1",
    "alerts.steps.not_escalated.label": "not escalated",
    "alerts.ack_words": "3 of the 4 escalated alerts were acknowledged",
    "alerts.principal": "2",
    "alerts.ack_count": "3",
    "alerts.ack_median": "6",
    "alerts.ack_p90": "95",
    "alerts.resolve_count": "2",
    "alerts.resolve_median": "70",
    "alerts.resolve_p90": "120",
    "visitors.type.parent": "3",
    "visitors.type.guest": "2",
    "visitors.type.contractor": "1",
    "visitors.total": "6",
    "visitors.flags.not_sure": "1",
    "visitors.flags.yes": "1",
    "visitors.overdue": "1",
    "visitors.out_of_bounds": "2",
    "hotspot.1.zone": "1st floor north boys' bathroom",
    "hotspot.1.period": "passing time (08:35\u201308:42)",
    "hotspot.1.reason": "2 concerns (2 vaping) and no observations in the last 4 weeks",
    "hotspot.2.zone": "Student parking lot",
    "hotspot.2.period": "lunch B (11:56\u201312:26)",
    "hotspot.2.reason": "1 concern (1 weapon) and no observations in the last 4 weeks",
    "hotspot.3.zone": "Cafeteria",
    "hotspot.3.period": "lunch A (11:26\u201311:56)",
    "hotspot.3.reason": "1 concern (1 conflict) and no observations in the last 4 weeks",
    "hotspot.4.zone": "1st floor north boys' bathroom",
    "hotspot.4.period": "passing time (09:32\u201309:39)",
    "hotspot.4.reason": "no concerns and 2 observations in the last 4 weeks",
    "hotspot.5.zone": "1st floor north hallway",
    "hotspot.5.period": "passing time (09:32\u201309:39)",
    "hotspot.5.reason": "1 concern (1 bullying) and no observations in the last 4 weeks",
    # What needs a decision (the week ends Fri 27 Nov 15:00 in Chicago).
    "dates": "23 \u2013 27 Nov",
    "verdict.coverage": "below the 90% target",
    "verdict.missed": "2 of 9 planned checks missed (22%)",
    "verdict.unacknowledged": "1 of the 4 escalated alerts was never acknowledged",
    "attention.count": "6",
    "attention.1.what": "Weapon concern (critical)",
    "attention.1.where": "Student parking lot",
    "attention.1.when": "open 16 days",
    "attention.1.owner": "Dana Rivera (SSO)",
    "attention.1.link": "Open in the console",
    "attention.2.what": "Conflict concern (medium)",
    "attention.2.where": "Cafeteria",
    "attention.2.when": "open 2 days",
    "attention.2.owner": "Morgan Chen (assistant principal)",
    "attention.3.what": "Bullying concern (low)",
    "attention.3.where": "1st floor north hallway",
    "attention.3.when": "open 2 days",
    "attention.3.owner": "Dana Rivera (SSO)",
    "attention.4.what": "Alert never acknowledged: the SSO's phone went silent (high)",
    "attention.4.where": "not tied to a zone",
    "attention.4.when": "opened Wed 25 Nov 12:00, still open",
    "attention.4.owner": "not escalated to anyone",
    "attention.5.what": "Follow-up missed: vaping concern",
    "attention.5.where": "1st floor north boys' bathroom",
    "attention.5.when": "missed Tue 24 Nov 09:30",
    "attention.5.owner": "Dana Rivera (SSO)",
    "attention.6.what": "Visitor not signed out (badge closed automatically)",
    "attention.6.where": "Gymnasium (last seen)",
    "attention.6.when": "closed Mon 23 Nov 16:45",
    "attention.6.owner": "Luz Garcia (front office)",
}

# The focus lines, by source.
EXPECTED_COMPUTED_FOCUS = {
    "focus.1.zone": "1st floor north boys' bathroom",
    "focus.1.period": "passing time (08:35\u201308:42)",
    "focus.1.action": "More patrols: extra checks in the planned windows",
    "focus.1.reason": "2 concerns (2 vaping) and no observations in the last 4 weeks",
    "focus.2.zone": "Student parking lot",
    "focus.2.period": "lunch B (11:56\u201312:26)",
    "focus.2.action": "Review what happened and the response, with the SSO",
    "focus.2.reason": "1 concern (1 weapon) and no observations in the last 4 weeks",
    "focus.source": "computed from this summary's data",
}
EXPECTED_PUBLISHED_FOCUS = {
    "focus.1.zone": "1st floor north boys' bathroom",
    "focus.1.period": "passing time (08:35\u201308:42)",
    "focus.1.action": "More patrols: extra checks in the planned windows",
    "focus.1.reason": "2 concerns (2 vaping) and no observations in the last 4 weeks",
    "focus.source": "the patrol service's published plan",
}


def parse_html(html: str) -> dict[str, str]:
    """Every `data-k` element's text."""
    from html.parser import HTMLParser

    found: dict[str, str] = {}

    class P(HTMLParser):
        key: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.key = dict(attrs).get("data-k")
            self.text = ""

        def handle_data(self, data: str) -> None:
            if self.key is not None:
                self.text += data

        def handle_endtag(self, tag: str) -> None:
            if self.key is not None:
                assert self.key not in found, f"duplicate key {self.key}"
                found[self.key] = self.text.strip()
                self.key = None

    P().feed(html)
    return found


def parse_text(text: str) -> dict[str, str]:
    """`Label: value` lines of the plain-text part."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        label, sep, value = line.strip().partition(": ")
        if sep and label not in out:
            out[label] = value
    return out
