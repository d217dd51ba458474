"""OneRoster CSV bundles written by the tests (zipfile in tmp_path): the columns of the 1.1 and
1.2 specifications, rows given as dicts, every other cell empty."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

USERS_11 = [
    "sourcedId",
    "status",
    "dateLastModified",
    "enabledUser",
    "orgSourcedIds",
    "role",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
]
USERS_12 = [
    "sourcedId",
    "status",
    "dateLastModified",
    "enabledUser",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
    "userMasterIdentifier",
    "resourceSourcedIds",
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
    "primaryOrgSourcedId",
    "pronouns",
]
ORGS = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"]
ENROLLMENTS = [
    "sourcedId",
    "status",
    "dateLastModified",
    "classSourcedId",
    "schoolSourcedId",
    "userSourcedId",
    "role",
    "primary",
    "beginDate",
    "endDate",
]
ROLES = [
    "sourcedId",
    "status",
    "dateLastModified",
    "userSourcedId",
    "roleType",
    "role",
    "beginDate",
    "endDate",
    "orgSourcedId",
    "userProfileSourcedId",
]

LHS_ORGS = [
    {"sourcedId": "org-district", "name": "Lakeside USD", "type": "district"},
    {
        "sourcedId": "org-lhs",
        "name": "Lakeside High",
        "type": "school",
        "parentSourcedId": "org-district",
    },
]


def table(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in header})
    return out.getvalue()


def student(sid: str, given: str, family: str, grade: str = "09", **more: str) -> dict[str, str]:
    return {
        "sourcedId": sid,
        "enabledUser": "true",
        "orgSourcedIds": "org-lhs",
        "role": "student",
        "givenName": given,
        "familyName": family,
        "grades": grade,
        **more,
    }


def staff(sid: str, email: str, role: str = "teacher", **more: str) -> dict[str, str]:
    return {
        "sourcedId": sid,
        "enabledUser": "true",
        "orgSourcedIds": "org-lhs",
        "role": role,
        "givenName": "Staff",
        "familyName": sid,
        "email": email,
        **more,
    }


def write_bundle(
    path: Path,
    *,
    version: str = "1.1",
    mode: str = "bulk",
    users: list[dict[str, str]],
    orgs: list[dict[str, str]] | None = None,
    enrollments: list[dict[str, str]] | None = None,
    roles: list[dict[str, str]] | None = None,
    raw: dict[str, str] | None = None,
) -> Path:
    """A bundle at `path`: manifest.csv saying which files are there (bulk or delta)."""
    files = {
        "users": table(USERS_11 if version == "1.1" else USERS_12, users),
        "orgs": table(ORGS, LHS_ORGS if orgs is None else orgs),
    }
    if enrollments is not None:
        files["enrollments"] = table(ENROLLMENTS, enrollments)
    if roles is not None:
        files["roles"] = table(ROLES, roles)
    files.update(raw or {})
    manifest = [
        {"propertyName": "manifest.version", "value": "1.0"},
        {"propertyName": "oneroster.version", "value": version},
    ] + [
        {"propertyName": f"file.{name}", "value": mode if name in files else "absent"}
        for name in ("academicSessions", "classes", "enrollments", "orgs", "roles", "users")
    ]
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("manifest.csv", table(["propertyName", "value"], manifest))
        for name, text in files.items():
            bundle.writestr(f"{name}.csv", text)
    return path
