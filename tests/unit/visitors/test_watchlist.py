"""The CSV watchlist provider: file checks, re-reading an edited file, path resolution."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from lookout.kernel.settings import EXAMPLE_SCHOOL
from services.visitors.matching import Listed, Person, score_all
from services.visitors.watchlist import CsvWatchlist, WatchlistError, read_csv, resolve_path

HEADER = "entry_id,first_name,last_name,date_of_birth,kind,note\n"


def write(path: Path, rows: str) -> Path:
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_the_shipped_example_loads() -> None:
    entries = read_csv(resolve_path("lhs-watchlist.csv", EXAMPLE_SCHOOL))
    assert [(e.entry_id, e.kind, e.date_of_birth) for e in entries] == [
        ("WL-001", "custody_restriction", date(1979, 3, 14)),
        ("WL-002", "trespass_order", None),
        ("WL-003", "banned", date(1985, 11, 2)),
        ("WL-004", "custody_restriction", date(1990, 7, 21)),
        ("WL-005", "trespass_order", date(1972, 1, 30)),
    ]


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ("W1,Ann,Lee,1980-13-01,banned,\n", "line 2: date_of_birth: not a YYYY-MM-DD date"),
        ("W1,Ann,Lee,,banished,\n", "line 2: kind: one of custody_restriction, trespass_order"),
        ("W1,Ann,Lee,,banned,\nW1,Bo,Li,,banned,\n", "line 3: entry_id: 'W1' appears twice"),
        ("W1,,Lee,,banned,\n", "line 2: first_name: empty"),
        ("W 1,Ann,Lee,,banned,\n", "line 2: entry_id: letters, digits, - and _ only (1-64)"),
    ],
)
def test_bad_rows_name_line_and_column(tmp_path: Path, rows: str, error: str) -> None:
    path = write(tmp_path / "w.csv", rows)
    with pytest.raises(WatchlistError) as exc:
        read_csv(path)
    assert str(exc.value).startswith(f"{path}: {error}")
    assert "1980-13-01" not in str(exc.value)


def test_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("entry_id,first_name,last_name\n", encoding="utf-8")
    with pytest.raises(WatchlistError, match="line 1: missing column\\(s\\) date_of_birth, kind"):
        read_csv(path)


def test_an_edited_file_is_reread_and_a_broken_edit_keeps_the_last_good_list(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "w.csv", "W1,Ann,Lee,,banned,\n")
    provider = CsvWatchlist(path)
    assert [m.entry.entry_id for m in provider.match("Ann", "Lee", None, 0.85)] == ["W1"]

    write(path, "W2,Bo,Li,,banned,\n")
    os.utime(path, ns=(1, 10**18))  # a different modification time, as an editor would leave
    assert provider.match("Ann", "Lee", None, 0.85) == []
    assert [m.entry.entry_id for m in provider.match("Bo", "Li", None, 0.85)] == ["W2"]

    write(path, "W3,Cy,Ng,,nonsense,\n")
    os.utime(path, ns=(1, 2 * 10**18))
    assert [m.entry.entry_id for m in provider.match("Bo", "Li", None, 0.85)] == ["W2"]


def test_relative_paths_are_relative_to_the_school_file(tmp_path: Path) -> None:
    assert resolve_path("w.csv", tmp_path / "school.yaml") == tmp_path / "w.csv"
    assert resolve_path("/etc/w.csv", tmp_path / "school.yaml") == Path("/etc/w.csv")


def test_the_provider_finds_what_a_full_scan_of_the_file_finds(tmp_path: Path) -> None:
    """Accents, nicknames, transposed and compound names, apostrophes and dates of birth in the
    file, screened through the provider's index, against every row scored one by one."""
    rows = [
        ("W01", "Gregory", "Hollander", "1979-03-14"),
        ("W02", "Greg", "Holander", ""),
        ("W03", "Hollander", "Gregory", "1979-03-14"),
        ("W04", "José", "García López", "1985-11-02"),
        ("W05", "Jose", "Garcia", "1985-02-11"),
        ("W06", "Renée", "O'Brien", ""),
        ("W07", "Bill", "Smith-Jones", "1990-07-21"),
        ("W08", "William", "Smith", "1990-07-22"),
        ("W09", "Liz", "Ng", ""),
        ("W10", "Mary Ann", "Castellanos", "1972-01-30"),
        ("W11", "Maryann", "Castelanos", ""),
        ("W12", "Dmitri", "Ostrowski", ""),
    ]
    path = write(tmp_path / "w.csv", "".join(f"{i},{f},{n},{d},banned,\n" for i, f, n, d in rows))
    provider = CsvWatchlist(path)
    listed = [
        Listed(i, Person.of(f, n, date.fromisoformat(d) if d else None)) for i, f, n, d in rows
    ]
    visitors = [
        ("gregory", "HOLLANDER", None),
        ("Hollander", "Greg", date(1979, 3, 14)),
        ("Jose", "Garcia", date(1985, 11, 2)),
        ("José", "Lopez", None),
        ("Renee", "OBrien", None),
        ("Will", "Smith Jones", date(1990, 7, 21)),
        ("Elizabeth", "Ng", None),
        ("Mary", "Castellanos", date(1972, 1, 30)),
        ("Dima", "Ostrowsky", None),
        ("Ann", "Lee", None),
    ]
    found = 0
    for first, last, dob in visitors:
        for threshold in (0.5, 0.7, 0.85, 0.95, 1.0):
            expected = score_all(Person.of(first, last, dob), listed, threshold)
            got = provider.match(first, last, dob, threshold)
            assert [(m.entry.entry_id, m.score) for m in got] == [
                (h.entry_id, h.score) for h in expected
            ]
            found += len(got)
    assert found > 40  # the cases do match, often
