"""Watchlist matching: names that should and should not match, and properties of the score."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.visitors.matching import (
    Listed,
    Person,
    WatchlistIndex,
    match_score,
    normalise,
    part_floor,
    score_all,
)

THRESHOLD = 0.85


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  JOSÉ   García ", "jose garcia"),
        ("Renée", "renee"),
        ("O'Brien", "obrien"),
        ("O\u2019Brien", "obrien"),
        ("Smith-Jones", "smith jones"),
        ("Straße", "strasse"),
        ("Øyvind Łukasz", "oyvind lukasz"),
    ],
)
def test_normalise(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


LISTED = Person.of("Gregory", "Hollander", date(1979, 3, 14))


@pytest.mark.parametrize(
    ("first", "last", "dob", "score"),
    [
        ("Gregory", "Hollander", None, 1.0),  # same name, DOB unknown
        ("GREGORY", "hollander", None, 1.0),  # case
        ("Greg", "Hollander", None, 1.0),  # nickname
        ("Gregory", "Hollander", date(1979, 3, 14), 1.0),  # same DOB
        ("Hollander", "Gregory", None, 0.95),  # transposed
        ("Hollander", "Greg", date(1979, 3, 14), 0.965),  # transposed nickname, same DOB
        ("Gregory", "Holander", None, 0.971),  # one letter dropped
        ("Gregroy", "Hollander", None, 0.929),  # two letters swapped
        ("Gregory", "Holland", None, 0.938),  # a shorter surname: held for a person to judge
    ],
)
def test_should_match(first: str, last: str, dob: date | None, score: float) -> None:
    assert match_score(Person.of(first, last, dob), LISTED) == score
    assert score >= THRESHOLD


@pytest.mark.parametrize(
    ("first", "last", "dob", "score"),
    [
        ("Gregory", "Hollander", date(1985, 6, 1), 0.6),  # same name, another person's DOB
        ("Grace", "Hollander", None, 0.75),  # another given name
        ("Gary", "Hollis", None, 0.539),
        ("Maria", "Lopez", None, 0.226),
        ("Hollander", "Hollander", None, 0.625),
    ],
)
def test_other_people_score_below_the_threshold(
    first: str, last: str, dob: date | None, score: float
) -> None:
    assert match_score(Person.of(first, last, dob), LISTED) == score
    assert score < THRESHOLD


@pytest.mark.parametrize(
    ("visitor", "listed"),
    [
        (Person.of("Ann", "Lee"), Person.of("Dan", "Lee")),
        (Person.of("Jane", "Smith"), Person.of("John", "Smith")),
        (
            Person.of("Maria", "Garcia", date(1990, 1, 2)),
            Person.of("Maria", "Garcia", date(1971, 5, 9)),
        ),
        (Person.of("William", "Thackeray"), Person.of("Wilma", "Tucker")),
        (Person.of("Sam", "Lee"), Person.of("Samantha", "Morales")),
    ],
)
def test_should_not_match(visitor: Person, listed: Person) -> None:
    assert match_score(visitor, listed) < THRESHOLD


@pytest.mark.parametrize(
    ("visitor", "listed"),
    [
        (Person.of("Bill", "Thackeray"), Person.of("William", "Thackeray")),
        (Person.of("Liz", "Ng"), Person.of("Elizabeth", "Ng")),
        (Person.of("Beth", "Ng"), Person.of("Liz", "Ng")),  # two nicknames of one name
        (Person.of("Maria", "Garcia Lopez"), Person.of("María", "García")),  # compound surname
        (Person.of("Renee", "Ostrowski"), Person.of("Renée", "OSTROWSKI")),
        (Person.of("Dmitri", "Castellanos", date(1985, 2, 11)),
         Person.of("Dmitri", "Castellanos", date(1985, 11, 2))),  # day and month swapped
    ],
)  # fmt: skip
def test_nicknames_accents_and_compounds_match(visitor: Person, listed: Person) -> None:
    assert match_score(visitor, listed) >= THRESHOLD


def test_part_floor() -> None:
    assert part_floor(0.85) == pytest.approx(2 * (0.55 / 0.7) - 1)
    assert part_floor(1.0) == pytest.approx(1.0)


# --- properties ---------------------------------------------------------------------------------

names = st.text(alphabet="abcdeilnorst", min_size=2, max_size=8)
nick = st.sampled_from(["bill", "william", "will", "liz", "elizabeth", "beth", "greg", "gregory"])
given_names = st.one_of(names, nick)
dobs = st.one_of(st.none(), st.sampled_from([date(1980, 1, 2), date(1980, 2, 1), date(1991, 7, 7)]))
people = st.builds(Person.of, given_names, names, dobs)


@settings(max_examples=200, deadline=None)
@given(st.lists(people, min_size=1, max_size=40), people, st.floats(0.6, 1.0))
def test_index_finds_what_a_full_scan_finds(
    listed: list[Person], visitor: Person, threshold: float
) -> None:
    entries = [Listed(f"E{i}", p) for i, p in enumerate(listed)]
    assert WatchlistIndex(entries).screen(visitor, threshold) == score_all(
        visitor, entries, threshold
    )


@settings(max_examples=200, deadline=None)
@given(people, people)
def test_score_ignores_case_and_accents_and_stays_in_range(a: Person, b: Person) -> None:
    score = match_score(a, b)
    assert 0.0 <= score <= 1.0
    shouted = Person.of(a.first.upper().replace("e", "é"), a.last.title(), a.dob)
    assert match_score(shouted, b) == score


@settings(max_examples=200, deadline=None)
@given(people)
def test_a_person_matches_themselves_and_their_transposition(p: Person) -> None:
    assert match_score(p, p) == 1.0
    swapped = match_score(Person(p.last, p.first, p.dob), p)
    assert swapped >= (0.7 * 0.95 + 0.3 if p.dob else 0.95) - 1e-9
