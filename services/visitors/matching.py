"""Watchlist matching, pure: normalised names, nicknames, transposed names, date of birth.

A visitor is compared with each watchlist entry and gets a name score and a score in [0, 1].
The sign-in is held for a staff member to decide when either reaches the school's threshold:
a strong name match is held whatever the date of birth says (a wrong or swapped date is what
someone evading the list would give, and a typing slip is common), and a weaker name with the
same date of birth is held too. The date moves a held match between review bands and the
words the clerk reads ("date of birth differs"), never below the hold. The score is explainable:
- each name part scores 1.0 when the normalised names are equal (case, accents and punctuation
  ignored) or are nicknames of one another (Bill ↔ William), else their difflib ratio;
- the name score is the mean of the first- and last-name scores, trying the visitor's first and
  last names both ways round (a transposed name costs a little: * 0.95);
- a date of birth on both sides moves the score: equal → 0.7 * name + 0.3; day and month
  swapped → 0.7 * name + 0.2; different → 0.6 * name (evidence of a different person, shown
  to the clerk, but no reason to let a listed name through unasked); missing on either side →
  unchanged.

Scoring all 10,000 entries of a large list with difflib takes tens of milliseconds, so
`WatchlistIndex` scores exactly only the entries that an upper bound of the score (cheap, and
proved sound below) cannot rule out. The hits are the same as the plain scan's (`score_all`)
for every visitor and threshold; property tests check it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from enum import StrEnum

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


class DateOfBirthCheck(StrEnum):
    """What the dates of birth say about a possible match."""

    SAME = "same"
    SWAPPED = "swapped"
    DIFFERS = "differs"
    MISSING = "missing"

    @property
    def words(self) -> str:
        """As the clerk reads it next to the match."""
        return _CHECK_WORDS[self]


_CHECK_WORDS = {
    DateOfBirthCheck.SAME: "same date of birth",
    DateOfBirthCheck.SWAPPED: "day and month swapped",
    DateOfBirthCheck.DIFFERS: "date of birth differs",
    DateOfBirthCheck.MISSING: "no date of birth to compare",
}


class ReviewBand(StrEnum):
    """How a held match is presented for review; every band is held for a decision."""

    LIKELY = "likely"  # the same date of birth
    POSSIBLE = "possible"  # no date to compare, or day and month swapped (a slip)
    CHECK_ID = "check_id"  # the dates differ: compare the ID with the listed person


_BANDS = {
    DateOfBirthCheck.SAME: ReviewBand.LIKELY,
    DateOfBirthCheck.SWAPPED: ReviewBand.POSSIBLE,
    DateOfBirthCheck.MISSING: ReviewBand.POSSIBLE,
    DateOfBirthCheck.DIFFERS: ReviewBand.CHECK_ID,
}


def check_dates(a: date | None, b: date | None) -> DateOfBirthCheck:
    if a is None or b is None:
        return DateOfBirthCheck.MISSING
    if a == b:
        return DateOfBirthCheck.SAME
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return DateOfBirthCheck.SWAPPED
    return DateOfBirthCheck.DIFFERS


def dob_adjusted(score: float, a: date | None, b: date | None) -> float:
    check = check_dates(a, b)
    if check is DateOfBirthCheck.SAME:
        return 0.7 * score + 0.3
    if check is DateOfBirthCheck.SWAPPED:
        return 0.7 * score + 0.2
    if check is DateOfBirthCheck.DIFFERS:
        return 0.6 * score
    return score


def hold_score(name: float, a: date | None, b: date | None) -> float:
    """What the hold compares with the threshold: the name alone, or the name with the date
    of birth when the date adds to it; a date never takes a strong name below the hold."""
    return max(name, dob_adjusted(name, a, b))


def match_score(visitor: Person, listed: Person) -> float:
    """The visitor against one watchlist entry, names and dates together, in [0, 1], rounded
    to 3 decimals (what the clerk sees)."""
    return round(dob_adjusted(name_score(visitor, listed), visitor.dob, listed.dob), 3)


# --- the index ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """One watchlist entry as the matcher sees it."""

    entry_id: str
    person: Person


@dataclass(frozen=True)
class Scored:
    """A held match: `score` is names and dates together, `name_score` the names alone (both
    rounded to 3 places), `date_of_birth` what the dates say."""

    entry_id: str
    score: float
    name_score: float
    date_of_birth: DateOfBirthCheck

    @property
    def band(self) -> ReviewBand:
        return _BANDS[self.date_of_birth]

    def held(self, threshold: float) -> bool:
        return max(self.score, self.name_score) >= threshold


def scored(entry: Listed, visitor: Person) -> Scored:
    name = name_score(visitor, entry.person)
    return Scored(
        entry.entry_id,
        round(dob_adjusted(name, visitor.dob, entry.person.dob), 3),
        round(name, 3),
        check_dates(visitor.dob, entry.person.dob),
    )


def score_all(visitor: Person, entries: Iterable[Listed], threshold: float) -> list[Scored]:
    """The plain scan: every entry scored; those held at the threshold, best score first."""
    hits = [scored(e, visitor) for e in entries]
    return sorted((h for h in hits if h.held(threshold)), key=lambda h: (-h.score, h.entry_id))


# --- screening: the result of `score_all`, without scoring every entry -------------------------
#
# Why skipping an entry is safe. An entry is held when round(n, 3) or round(dob_adjusted(n), 3)
# reaches the threshold, n being name_score, that is when round(hold_score(n), 3) does
# (rounding is monotone and hold_score is the larger of the two). name_score is
# max((F + L) / 2, 0.95 * (F' + L') / 2) with F, F' `first_name_score`s and L, L'
# `last_name_score`s. Every step after the four part scores (+, / 2, * 0.95, max, each
# date-of-birth case: n, 0.7 * n + 0.3, 0.7 * n + 0.2, 0.6 * n, and hold_score's max with n) is
# monotone, and so is IEEE rounding, so the same steps fed upper bounds of the part scores give
# an upper bound of the unrounded hold score, in floats too. The part bounds (`_first_bound`,
# `_last_bound`) are the part score functions with each difflib ratio replaced by
# 2 * LCS / (len(a) + len(b)), LCS being the longest common subsequence: ratio() is
# 2 * M / (len(a) + len(b)) where M is the total size of difflib's matching blocks, and the
# blocks are disjoint and in the same order in both strings, so together they spell a common
# subsequence and M <= LCS. A rounded hold score >= threshold means an unrounded one
# >= threshold - 0.0005 (rounding to 3 places moves a value by at most half of 0.001; float
# error is ~1e-16). An entry is skipped only when an upper bound of its unrounded hold score is
# below threshold - _SLACK, lower still, so every entry `score_all` keeps is scored here too, by
# `scored` itself, and kept. Entries sharing a given name are skipped as a group first, with the
# family-name score bounded by 1 and the most generous date-of-birth case (equal dates:
# 0.7 * n + 0.3 >= n >= 0.7 * n + 0.2 >= 0.6 * n for n in [0, 1], so it bounds hold_score too,
# up to float error far inside the slack). How many entries are skipped depends on the list;
# which entries are found does not.

_SLACK = 0.001


class _Probe:
    """One of the visitor's names, ready for bounds: each character's positions as a bit mask."""

    __slots__ = ("forms", "masks", "text", "word_set", "words")

    def __init__(self, text: str) -> None:
        self.text = text
        self.masks = _masks(text)
        self.forms = forms(text)
        self.word_set = frozenset(text.split())
        self.words = [(w, _masks(w)) for w in text.split() if len(w) > 1]


def _masks(text: str) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, c in enumerate(text):
        masks[c] = masks.get(c, 0) | (1 << i)
    return masks


def _lcs_length(text: str, masks: dict[str, int], other: str) -> int:
    """The longest common subsequence of `text` (given its `_masks`) and `other`, bit-parallel
    (Allison and Dix 1986; Hyyrö 2004): a zero bit in v marks an LCS step."""
    full = (1 << len(text)) - 1
    v = full
    for c in other:
        u = v & masks.get(c, 0)
        v = ((v + u) | (v - u)) & full
    return len(text) - v.bit_count()


def _similarity_bound(text: str, masks: dict[str, int], other: str) -> float:
    """>= similarity(text, other): as `similarity`, with the LCS for difflib's matches."""
    if text == other:
        return 1.0
    if not text or not other:
        return 0.0
    return 2.0 * _lcs_length(text, masks, other) / (len(text) + len(other))


@dataclass(frozen=True)
class _Given:
    """A listed given name with what `first_name_score` looks at, computed once at load."""

    text: str
    forms: frozenset[str]
    words: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> _Given:
        return cls(text, forms(text), tuple(w for w in text.split() if len(w) > 1))


@dataclass(frozen=True)
class _Family:
    """A listed family name with what `last_name_score` looks at, computed once at load."""

    text: str
    word_set: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Family:
        return cls(text, frozenset(text.split()))


def _first_bound(visitor: _Probe, listed: _Given) -> float:
    """>= first_name_score(visitor.text, listed.text), step for step."""
    if visitor.forms & listed.forms:
        return 1.0
    score = _similarity_bound(visitor.text, visitor.masks, listed.text)
    if " " in visitor.text + listed.text:
        parts = max(
            (_similarity_bound(x, m, y) for x, m in visitor.words for y in listed.words),
            default=0.0,
        )
        score = max(score, 0.9 * parts)
    return score


def _last_bound(visitor: _Probe, listed: _Family) -> float:
    """>= last_name_score(visitor.text, listed.text), step for step."""
    if visitor.text == listed.text:
        return 1.0
    pa, pb = visitor.word_set, listed.word_set
    if (len(pa) > 1 or len(pb) > 1) and (pa <= pb or pb <= pa):
        return 0.9
    return _similarity_bound(visitor.text, visitor.masks, listed.text)


@dataclass
class WatchlistIndex:
    """Entries grouped by given name, with every name's parts prepared at load, so a sign-in
    scores exactly only the entries an upper bound cannot rule out (see above) and gets the
    same hits as `score_all`."""

    entries: Sequence[Listed]
    _groups: list[tuple[_Given, list[tuple[int, _Family, date | None]]]] = field(
        default_factory=list, init=False
    )

    def __post_init__(self) -> None:
        groups: dict[str, tuple[_Given, list[tuple[int, _Family, date | None]]]] = {}
        families: dict[str, _Family] = {}
        for i, entry in enumerate(self.entries):
            person = entry.person
            if person.first not in groups:
                groups[person.first] = (_Given.of(person.first), [])
            family = families.get(person.last)
            if family is None:
                family = families[person.last] = _Family.of(person.last)
            groups[person.first][1].append((i, family, person.dob))
        self._groups = list(groups.values())

    def candidates(self, visitor: Person, threshold: float) -> list[Listed]:
        """The entries whose score an upper bound cannot keep below the threshold (a superset
        of the hits), in list order."""
        floor = threshold - _SLACK
        dob = visitor.dob
        given, family = _Probe(visitor.first), _Probe(visitor.last)
        # Straight: given vs listed given, family vs listed family. Swapped: family vs listed
        # given, given vs listed family. Family-name bounds are shared across groups.
        straight_last: dict[str, float] = {}
        swapped_last: dict[str, float] = {}
        found: list[int] = []
        for listed_given, members in self._groups:
            fs = _first_bound(given, listed_given)
            fw = _first_bound(family, listed_given)
            if (
                dob_adjusted(max((fs + 1.0) / 2, TRANSPOSED_PENALTY * ((fw + 1.0) / 2)), dob, dob)
                < floor
            ):
                continue
            # The group may hold a hit: the exact given-name scores are tighter bounds.
            fs = first_name_score(visitor.first, listed_given.text)
            fw = first_name_score(visitor.last, listed_given.text)
            straight = dob_adjusted((fs + 1.0) / 2, dob, dob) >= floor
            swapped = dob_adjusted(TRANSPOSED_PENALTY * ((fw + 1.0) / 2), dob, dob) >= floor
            if not (straight or swapped):
                continue
            for i, listed_family, listed_dob in members:
                name = 0.0
                if straight:
                    ls = straight_last.get(listed_family.text)
                    if ls is None:
                        ls = straight_last[listed_family.text] = _last_bound(family, listed_family)
                    name = (fs + ls) / 2
                if swapped:
                    lw = swapped_last.get(listed_family.text)
                    if lw is None:
                        lw = swapped_last[listed_family.text] = _last_bound(given, listed_family)
                    name = max(name, TRANSPOSED_PENALTY * ((fw + lw) / 2))
                if hold_score(name, dob, listed_dob) >= floor:
                    found.append(i)
        return [self.entries[i] for i in sorted(found)]

    def screen(self, visitor: Person, threshold: float) -> list[Scored]:
        """Entries held at the threshold, best score first: the same list as
        `score_all(visitor, entries, threshold)`."""
        return score_all(visitor, self.candidates(visitor, threshold), threshold)
