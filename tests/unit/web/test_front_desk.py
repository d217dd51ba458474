"""The front desk's pure parts: a possible match in words, read back from the visitors
service's score (services/visitors/matching.py's rules, written by hand here), and the
`visitors` nudge that a visitor event sends to the desk's streams only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from lookout.contracts.visitors import PossibleMatch, VisitorCheckedIn, VisitorSighted
from services.web.front_desk import _desk_match, match_words
from services.web.live import LiveHub, Push

AT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "last", "dob", "listed", "score", "words"),
    [
        ("Gregory", "Hollander", True, "Gregory Hollander", 0.6,
         "exact name, different date of birth"),
        ("GREGORY", "HOLLANDER", True, "Gregory Hollander", 1.0,
         "exact name, same date of birth, or none on the list"),
        ("Gregory", "Hollander", True, "Gregory Hollander", 0.9,
         "exact name, day and month of birth swapped"),
        ("Renee", "Ostrowski", False, "Renée Ostrowski", 1.0,
         "exact name, no date of birth given"),
        ("Bill", "Thackeray", True, "William Thackeray", 0.6,
         "same name or a nickname, different date of birth"),
        ("Hollander", "Gregory", True, "Gregory Hollander", 0.7 * 0.95 + 0.3,
         "names swapped, same date of birth"),
        ("Gregori", "Hollander", True, "Gregory Hollander", 0.8714,
         "similar name (score 0.87)"),
    ],
)  # fmt: skip
def test_a_match_in_words(
    first: str, last: str, dob: bool, listed: str, score: float, words: str
) -> None:
    assert match_words(first, last, dob, listed, score) == words


@pytest.mark.parametrize(
    ("first", "last", "listed", "check", "words"),
    [
        ("Gregory", "Hollander", "Gregory Hollander", "differs",
         "exact name, different date of birth"),
        ("Gregory", "Hollander", "Gregory Hollander", "same", "exact name, same date of birth"),
        ("Hollander", "Gregory", "Gregory Hollander", "swapped",
         "names swapped, day and month of birth swapped"),
        ("Bill", "Thackeray", "William Thackeray", "missing",
         "similar name, no date of birth to compare"),
    ],
)  # fmt: skip
def test_the_visitors_services_own_date_check_is_said_as_it_judged(
    first: str, last: str, listed: str, check: str, words: str
) -> None:
    # The score would read otherwise (0.42 fits no case): the service's check wins.
    assert match_words(first, last, True, listed, 0.42, check) == words


def test_a_visitor_event_nudges_the_desks_of_its_school_only() -> None:
    hub = LiveHub(["lhs", "mhs"])
    desk = hub.open("lhs", "office-garcia", nudges=("visitors",))
    console = hub.open("lhs", "principal-okafor", nudges=("alerts",))
    other = hub.open("mhs", "office-garcia", nudges=("visitors",))
    checked_in = VisitorCheckedIn.new(
        school_id="lhs", occurred_at=AT, actor={"kind": "front_office", "id": "office-garcia"},
        visit_id=uuid.uuid4(), badge_number="1123-001", visitor_type="parent",
        host_id="counselor-patel", destination_zones=["library"], purpose="Meeting",
        expected_until=AT,
    )  # fmt: skip
    hub.route(checked_in)
    hub.route(checked_in)  # one nudge waiting is enough
    hub.route(VisitorSighted.new(school_id="lhs", occurred_at=AT,
                                 actor={"kind": "sso_device", "id": "phone-rivera"},
                                 badge_number="1123-001", zone_id="gym"))  # fmt: skip
    assert desk.queue.qsize() == 1
    assert desk.queue.get_nowait() == Push("visitors", '{"because": "visitor.checked_in"}')
    assert console.queue.qsize() == 0 and other.queue.qsize() == 0


def test_a_sign_in_its_watchlist_provider_did_not_screen_is_said_so_with_no_likeness() -> None:
    held = PossibleMatch(
        watchlist_entry_id="not-screened",
        score=0.0,
        listed_name="Not screened",
        kind="not_screened",
        note="screening provider did not answer",
    )
    desk = _desk_match(held, "similar name (score 0.00)")
    assert (desk.reason, desk.note, desk.words) == (
        "Not screened, check the visitor by hand",
        "screening provider did not answer",
        None,
    )
