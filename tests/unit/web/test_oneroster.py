"""OneRoster 1.1 / 1.2 CSV bundles read into a school's roster (services/web/oneroster.py):
who is a student of the school and by which reference, what a delta removes, the staff's
emails, and every bad row reported by file, line and column without its value."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from services.web.oneroster import (
    BundleError,
    Options,
    Staff,
    StaffMatch,
    Student,
    match_staff,
    read_bundle,
)
from tests.oneroster_bundles import LHS_ORGS, staff, student, write_bundle

SCHOOL = re.compile(r"S-[0-9]{1,12}")
BY_SOURCED_ID = Options(
    reference_column="sourcedId", org=None, reference_ok=lambda r: bool(SCHOOL.fullmatch(r))
)
BY_IDENTIFIER = Options(
    reference_column="identifier", org=None, reference_ok=lambda r: bool(SCHOOL.fullmatch(r))
)


def test_a_bulk_1_1_bundle_gives_the_school_s_students_and_staff(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "b.zip",
        users=[
            student("S-100001", "Avery", "Quinn", "09"),
            staff("T-1", "D.Rivera@Lakeside.example.org"),
            student("S-100002", "José", "Núñez", "10,11"),
            {**student("S-200001", "Other", "School"), "orgSourcedIds": "org-elsewhere"},
            {
                "sourcedId": "G-1",
                "role": "guardian",
                "orgSourcedIds": "org-lhs",
                "givenName": "G",
                "familyName": "H",
            },
            staff("A-1", "", role="administrator"),
            student("S-100003", "Blake", "Young", ""),
        ],
    )
    roster, problems = read_bundle(bundle, BY_SOURCED_ID)
    assert problems == []
    assert roster is not None
    assert (roster.version, roster.mode, roster.org, roster.removed) == (
        "1.1",
        "bulk",
        "org-lhs",
        [],
    )
    assert roster.students == [
        Student("S-100001", "S-100001", "Avery", "Quinn", "09"),
        Student("S-100002", "S-100002", "José", "Núñez", "10"),
        Student("S-100003", "S-100003", "Blake", "Young", None),
    ]
    assert roster.staff == [Staff(3, "d.rivera@lakeside.example.org"), Staff(7, None)]


def test_a_1_2_bundle_takes_roles_from_roles_csv_and_the_school_s_identifier(
    tmp_path: Path,
) -> None:
    users = [
        {
            "sourcedId": "u-1",
            "givenName": "Avery",
            "familyName": "Quinn",
            "identifier": "S-7001",
            "grades": "12",
        },
        {
            "sourcedId": "u-2",
            "givenName": "Dana",
            "familyName": "Rivera",
            "email": "d.rivera@lakeside.example.org",
        },
        {
            "sourcedId": "u-3",
            "givenName": "Kim",
            "familyName": "Lee",
            "identifier": "S-7003",
            "grades": "09",
        },
        {
            "sourcedId": "u-4",
            "givenName": "Enrolled",
            "familyName": "Only",
            "identifier": "S-7004",
            "grades": "10",
        },
    ]
    roles = [
        {
            "sourcedId": "r-1",
            "userSourcedId": "u-1",
            "roleType": "primary",
            "role": "student",
            "orgSourcedId": "org-lhs",
        },
        {
            "sourcedId": "r-2",
            "userSourcedId": "u-2",
            "roleType": "primary",
            "role": "teacher",
            "orgSourcedId": "org-lhs",
        },
        {
            "sourcedId": "r-3",
            "userSourcedId": "u-3",
            "roleType": "primary",
            "role": "student",
            "orgSourcedId": "org-other",
        },
    ]
    enrollments = [
        {
            "sourcedId": "e-1",
            "classSourcedId": "c-1",
            "schoolSourcedId": "org-lhs",
            "userSourcedId": "u-4",
            "role": "student",
        },
    ]
    bundle = write_bundle(
        tmp_path / "b.zip", version="1.2", users=users, roles=roles, enrollments=enrollments
    )
    roster, problems = read_bundle(bundle, BY_IDENTIFIER)
    assert problems == []
    assert roster is not None and roster.version == "1.2"
    assert roster.students == [
        Student("S-7001", "u-1", "Avery", "Quinn", "12"),
        Student("S-7004", "u-4", "Enrolled", "Only", "10"),
    ]
    assert roster.staff == [Staff(3, "d.rivera@lakeside.example.org")]


def test_a_delta_adds_and_removes_and_needs_a_status(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "d.zip",
        mode="delta",
        users=[
            student("S-100004", "New", "Student", status="active"),
            {"sourcedId": "S-100001", "status": "tobedeleted"},
        ],
    )
    roster, problems = read_bundle(bundle, BY_SOURCED_ID)
    assert problems == [] and roster is not None
    assert roster.mode == "delta"
    assert roster.students == [Student("S-100004", "S-100004", "New", "Student", "09")]
    assert roster.removed == ["S-100001"]

    no_status = write_bundle(
        tmp_path / "e.zip", mode="delta", users=[student("S-100004", "New", "Student")]
    )
    roster, problems = read_bundle(no_status, BY_SOURCED_ID)
    assert roster is None
    assert [str(p) for p in problems] == [
        "users.csv line 2, column status: empty in a delta file (active or tobedeleted)"
    ]


def test_bad_rows_are_reported_by_line_and_column_never_by_value(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "bad.zip",
        users=[
            student("S-100001", "Avery", "Quinn"),
            student("Avery Quinn", "Avery", "Quinn"),  # a name where the reference goes
            student("S-100003", "", "Rowe"),
            student("S-100004", "Casey", "Rowe", "Year 9"),
            student("S-100001", "Avery", "Again"),
            student("S-100006", "Jordan", "Smith", status="maybe"),
            student("X-100007", "Jordan", "Jones"),  # the contracts' shape, not the school's
        ],
    )
    roster, problems = read_bundle(bundle, BY_SOURCED_ID)
    assert roster is None
    shown = [str(p) for p in problems]
    assert shown == [
        "users.csv line 3, column sourcedId: not a student reference of this school",
        "users.csv line 4, column givenName: empty",
        "users.csv line 5, column grades: not a CEDS grade level (09, 10, KG…)",
        "users.csv line 6, column sourcedId: also on an earlier line",
        "users.csv line 7, column status: not active or tobedeleted",
        "users.csv line 8, column sourcedId: not a student reference of this school",
    ]
    for name in ("Avery", "Quinn", "Rowe", "Year 9", "Again", "Jordan", "maybe", "X-100007"):
        assert all(name not in line for line in shown)


def test_a_missing_column_and_a_short_row(tmp_path: Path) -> None:
    short = "sourcedId,status,givenName,familyName,role,orgSourcedIds\r\nS-1001,,Avery,Quinn\r\n"
    bundle = write_bundle(tmp_path / "b.zip", users=[], raw={"users": short})
    roster, problems = read_bundle(bundle, BY_IDENTIFIER)
    assert roster is None
    assert [str(p) for p in problems] == [
        "users.csv line 1, column identifier: missing from the header"
    ]
    roster, problems = read_bundle(bundle, BY_SOURCED_ID)
    assert [str(p) for p in problems] == ["users.csv line 2: 4 cells, the header has 6"]


def test_the_school_s_org_is_the_only_school_or_the_school_file_s(tmp_path: Path) -> None:
    two = [*LHS_ORGS, {"sourcedId": "org-mhs", "name": "Middle", "type": "school"}]
    bundle = write_bundle(
        tmp_path / "b.zip", users=[student("S-100001", "Avery", "Quinn")], orgs=two
    )
    roster, problems = read_bundle(bundle, BY_SOURCED_ID)
    assert roster is None
    assert [str(p) for p in problems] == [
        "orgs.csv, column type: 2 orgs of type school: "
        "name the school's in the school file (roster.org)"
    ]
    chosen = Options(
        reference_column="sourcedId", org="org-mhs", reference_ok=BY_SOURCED_ID.reference_ok
    )
    roster, problems = read_bundle(bundle, chosen)
    assert problems == [] and roster is not None
    assert (roster.org, roster.students) == ("org-mhs", [])  # Avery is at org-lhs
    unknown = Options(
        reference_column="sourcedId", org="org-nope", reference_ok=BY_SOURCED_ID.reference_ok
    )
    assert [str(p) for p in read_bundle(bundle, unknown)[1]] == [
        "orgs.csv, column sourcedId: no org is the school file's roster.org"
    ]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"users.csv": "x"}, "manifest.csv: not in the bundle (is it a OneRoster CSV bundle?)"),
        (
            {"manifest.csv": "propertyName,value\r\noneroster.version,1.0\r\nfile.users,bulk\r\n"},
            "manifest.csv: oneroster.version is not 1.1 or 1.2",
        ),
        (
            {
                "manifest.csv": "propertyName,value\r\n"
                "oneroster.version,1.1\r\nfile.users,absent\r\n"
            },
            "manifest.csv: file.users is absent; there is no one to import",
        ),
    ],
)
def test_what_is_no_bundle_at_all(tmp_path: Path, files: dict[str, str], message: str) -> None:
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        for name, text in files.items():
            bundle.writestr(name, text)
    with pytest.raises(BundleError) as caught:
        read_bundle(path, BY_SOURCED_ID)
    assert str(caught.value) == message


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("sourcedId\r\n")
    with pytest.raises(BundleError, match=r"^BUNDLE: not a readable zip file$"):
        read_bundle(path, BY_SOURCED_ID)


def test_staff_are_matched_to_the_school_file_s_people_by_email() -> None:
    found = [Staff(3, "d.rivera@lakeside.example.org"), Staff(5, None), Staff(6, "x@example.org")]
    people = [
        ("sso-rivera", "d.rivera@Lakeside.example.org"),
        ("ap-chen", "m.chen@lakeside.example.org"),
        ("kiosk", None),
    ]
    assert match_staff(found, people) == StaffMatch(
        matched=["sso-rivera"], unmatched_lines=[5, 6], people_not_found=["ap-chen"]
    )
