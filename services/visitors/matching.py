"""Watchlist matching, pure: normalised names, nicknames, transposed names, date of birth.

A visitor is compared with each watchlist entry and gets a score in [0, 1]; from the school's
threshold on, the sign-in is held for a staff member to decide. The score is explainable:
- each name part scores 1.0 when the normalised names are equal (case, accents and punctuation
  ignored) or are nicknames of one another (Bill ↔ William), else their difflib ratio;
- the name score is the mean of the first- and last-name scores, trying the visitor's first and
  last names both ways round (a transposed name costs a little: * 0.95);
- a date of birth on both sides moves the score: equal → 0.7 * name + 0.3; day and month
  swapped → 0.7 * name + 0.2; different → 0.6 * name (a different birthday is strong evidence
  of a different person, but a name alone still shows); missing on either side → unchanged.

Scanning 10,000 entries with difflib would take most of a second, so `WatchlistIndex` first
finds the entries whose name parts share enough character bigrams with the visitor's (and
the exact nickname forms), and scores only those; a property test checks it agrees with the
plain scan (`score_all`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher

TRANSPOSED_PENALTY = 0.95

# Common English given-name nicknames → formal name. Both directions are used: a nickname and
# its formal name share a canonical form, and so do two nicknames of one name (Bill, Will).
NICKNAMES: dict[str, tuple[str, ...]] = {
    "william": ("bill", "billy", "will", "willy", "liam"),
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "richard": ("rick", "ricky", "dick", "rich", "richie"),
    "james": ("jim", "jimmy", "jamie"),
    "john": ("jack", "johnny", "jon"),
    "jonathan": ("jon", "jonny"),
    "michael": ("mike", "mikey", "mick"),
    "thomas": ("tom", "tommy"),
    "joseph": ("joe", "joey"),
    "charles": ("charlie", "chuck", "chas"),
    "christopher": ("chris", "kit"),
    "daniel": ("dan", "danny"),
    "matthew": ("matt", "matty"),
    "anthony": ("tony",),
    "andrew": ("andy", "drew"),
    "edward": ("ed", "eddie", "ted", "ned"),
    "benjamin": ("ben", "benny"),
    "samuel": ("sam", "sammy"),
    "alexander": ("alex", "al", "sasha"),
    "nicholas": ("nick", "nicky"),
    "steven": ("steve", "stevie"),
    "stephen": ("steve", "stevie"),
    "gregory": ("greg",),
    "timothy": ("tim", "timmy"),
    "patrick": ("pat", "paddy"),
    "peter": ("pete",),
    "francis": ("frank", "fran"),
    "henry": ("hank", "harry"),
    "lawrence": ("larry",),
    "raymond": ("ray",),
    "ronald": ("ron", "ronnie"),
    "donald": ("don", "donnie"),
    "kenneth": ("ken", "kenny"),
    "gerald": ("jerry", "gerry"),
    "dmitri": ("dima",),
    "elizabeth": ("liz", "lizzie", "beth", "betty", "eliza", "libby"),
    "margaret": ("maggie", "meg", "peggy", "marge"),
    "katherine": ("kate", "katie", "kathy", "kat"),
    "catherine": ("cathy", "cat", "kate"),
    "patricia": ("pat", "patty", "trish", "tricia"),
    "jennifer": ("jen", "jenny"),
    "rebecca": ("becky", "becca"),
    "susan": ("sue", "susie"),
    "deborah": ("deb", "debbie"),
    "victoria": ("vicky", "tori"),
    "christina": ("tina", "chris"),
    "jessica": ("jess", "jessie"),
    "alexandra": ("alex", "sandra", "sasha"),
    "abigail": ("abby",),
    "samantha": ("sam", "sammy"),
    "kimberly": ("kim",),
    "pamela": ("pam",),
    "dorothy": ("dot", "dottie"),
    "theresa": ("terry", "tess"),
    "josephine": ("jo", "josie"),
    "isabella": ("bella", "izzy"),
    "jose": ("pepe",),
    "francisco": ("paco", "pancho"),
    "guillermo": ("memo",),
    "alejandro": ("alex", "alejo"),
}


def _canonical_table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for formal, nicks in NICKNAMES.items():
        for name in (formal, *nicks):
            table.setdefault(name, set()).add(formal)
    return {name: frozenset(forms) for name, forms in table.items()}


_CANONICAL = _canonical_table()
_APOSTROPHES = re.compile("['\u2019`\u00b4]")  # apostrophe, right quote, backtick, acute
_NOT_LETTERS = re.compile(r"[^a-z0-9]+")


def normalise(name: str) -> str:
    """Lowercase ASCII letters and single spaces: accents dropped (Renée → renee), apostrophes
    removed (O'Brien → obrien), hyphens and other punctuation turned into spaces."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("ß", "ss").replace("ø", "o").replace("ł", "l").replace("æ", "ae")
    plain = _APOSTROPHES.sub("", plain)
    return " ".join(_NOT_LETTERS.sub(" ", plain).split())


def forms(first: str) -> frozenset[str]:
    """A normalised given name and the formal names it may be short for."""
    return frozenset({first}) | _CANONICAL.get(first, frozenset())


def similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def first_name_score(a: str, b: str) -> float:
    """1.0 for the same name or nicknames of one name, else how alike the spellings are."""
    if forms(a) & forms(b):
        return 1.0
    # Compound given names ("Mary Ann"): the best pair of parts, a little below a full match.
    parts = max(
        (similarity(x, y) for x in a.split() for y in b.split() if len(x) > 1 and len(y) > 1),
        default=0.0,
    )
    return max(similarity(a, b), 0.9 * parts if " " in a + b else 0.0)


def last_name_score(a: str, b: str) -> float:
    """1.0 for the same name; one part of a compound surname (Garcia ↔ Garcia Lopez) is 0.9."""
    if a == b:
        return 1.0
    pa, pb = set(a.split()), set(b.split())
    if (len(pa) > 1 or len(pb) > 1) and (pa <= pb or pb <= pa):
        return 0.9
    return similarity(a, b)


@dataclass(frozen=True)
class Person:
    """A name (and date of birth when known) to compare; names are normalised on creation."""

    first: str
    last: str
    dob: date | None = None

    @classmethod
    def of(cls, first: str, last: str, dob: date | None = None) -> Person:
        return cls(normalise(first), normalise(last), dob)


def name_score(visitor: Person, listed: Person) -> float:
    straight = (
        first_name_score(visitor.first, listed.first) + last_name_score(visitor.last, listed.last)
    ) / 2
    swapped = (
        first_name_score(visitor.last, listed.first) + last_name_score(visitor.first, listed.last)
    ) / 2
    return max(straight, TRANSPOSED_PENALTY * swapped)


def dob_adjusted(score: float, a: date | None, b: date | None) -> float:
    if a is None or b is None:
        return score
    if a == b:
        return 0.7 * score + 0.3
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return 0.7 * score + 0.2
    return 0.6 * score


def match_score(visitor: Person, listed: Person) -> float:
    """The visitor against one watchlist entry, in [0, 1], rounded to 3 decimals."""
    return round(dob_adjusted(name_score(visitor, listed), visitor.dob, listed.dob), 3)


# --- the index ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """One watchlist entry as the matcher sees it."""

    entry_id: str
    person: Person


@dataclass(frozen=True)
class Scored:
    entry_id: str
    score: float


def score_all(visitor: Person, entries: Iterable[Listed], threshold: float) -> list[Scored]:
    """The plain scan: every entry scored; those at or above the threshold, best first."""
    hits = [Scored(e.entry_id, match_score(visitor, e.person)) for e in entries]
    return sorted((h for h in hits if h.score >= threshold), key=lambda h: (-h.score, h.entry_id))


def _bigrams(token: str) -> frozenset[str]:
    padded = f"^{token}$"
    return frozenset(padded[i : i + 2] for i in range(len(padded) - 1))


def part_floor(threshold: float) -> float:
    """The least score each name part needs for an entry to reach `threshold`: the most
    generous case is an equal date of birth (0.7 * name + 0.3), and the name score is a mean
    of two parts, so each part needs at least 2 * name - 1."""
    name_floor = min(threshold, (threshold - 0.3) / 0.7)
    return 2 * name_floor - 1


# Name parts whose bigrams are less alike than this (Dice coefficient) are not compared with
# difflib. Below a part floor of _INDEX_FLOOR, bigrams say too little, and every entry is scored.
_DICE_FLOOR = 0.2
_INDEX_FLOOR = 0.4


def _first_parts(person: Person) -> set[str]:
    words = {person.first, *person.first.split()}
    return {form for w in words for form in forms(w) if form}


def _last_parts(person: Person) -> set[str]:
    return {w for w in {person.last, *person.last.split()} if w}


class _PartIndex:
    """Name parts (of one role: given or family name) → entries, and bigram → parts."""

    def __init__(self) -> None:
        self.entries: dict[str, set[int]] = {}
        self.by_bigram: dict[str, set[str]] = {}
        self.sizes: dict[str, int] = {}

    def add(self, part: str, entry: int) -> None:
        if part not in self.entries:
            grams = _bigrams(part)
            self.sizes[part] = len(grams)
            for gram in grams:
                self.by_bigram.setdefault(gram, set()).add(part)
        self.entries.setdefault(part, set()).add(entry)

    def near(self, tokens: Iterable[str]) -> set[int]:
        """Entries with a part sharing enough bigrams with one of `tokens`."""
        found: set[int] = set()
        for token in tokens:
            grams = _bigrams(token)
            shared: Counter[str] = Counter()
            for gram in grams:
                shared.update(self.by_bigram.get(gram, ()))
            for part, n in shared.items():
                if 2 * n / (len(grams) + self.sizes[part]) >= _DICE_FLOOR:
                    found |= self.entries[part]
        return found


@dataclass
class WatchlistIndex:
    """Entries indexed by the bigrams of their given and family names, so a sign-in scores
    only the entries whose given *and* family names are both near the visitor's (either way
    round) — a handful out of thousands."""

    entries: Sequence[Listed]
    _first: _PartIndex = field(default_factory=_PartIndex, init=False)
    _last: _PartIndex = field(default_factory=_PartIndex, init=False)

    def __post_init__(self) -> None:
        for i, entry in enumerate(self.entries):
            for part in _first_parts(entry.person):
                self._first.add(part, i)
            for part in _last_parts(entry.person):
                self._last.add(part, i)

    def candidates(self, visitor: Person) -> list[Listed]:
        given, family = _first_parts(visitor), _last_parts(visitor)
        # The swapped orientation compares the visitor's family name with a listed given name.
        swapped_given = {f for w in family for f in forms(w)}
        straight = self._first.near(given) & self._last.near(family)
        swapped = self._first.near(swapped_given) & self._last.near(given)
        return [self.entries[i] for i in sorted(straight | swapped)]

    def screen(self, visitor: Person, threshold: float) -> list[Scored]:
        """Entries scoring at or above the threshold, best first (as `score_all` would)."""
        if part_floor(threshold) < _INDEX_FLOOR:
            return score_all(visitor, self.entries, threshold)
        return score_all(visitor, self.candidates(visitor), threshold)
