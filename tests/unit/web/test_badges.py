"""A badge's QR token (services/web/badges.py): signed with the deployment's secret, it names
the school, the badge, the visit and the expiry; a forged, changed, expired or another school's
token says so, and the secret comes from the environment or a file kept in the data dir."""

from __future__ import annotations

import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from lookout.kernel.settings import ConfigurationError, Settings
from services.web.badges import (
    BadgeClaims,
    BadgeStatus,
    Verdict,
    _b64,
    badge_secret,
    is_token,
    sign,
    verify,
)

SECRET = b"0123456789abcdef0123456789abcdef"
VISIT = uuid.UUID("6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5")
UNTIL = datetime(2026, 11, 23, 22, 45, tzinfo=UTC)  # 16:45 at Lakeside
CLAIMS = BadgeClaims("lhs", "1123-001", VISIT, UNTIL)
BEFORE = UNTIL - timedelta(hours=6)


def test_a_token_is_what_its_qr_carries_and_verifies() -> None:
    token = sign(SECRET, CLAIMS)
    # By hand: LB1 . base64url("lhs|1123-001|6f1c…d4e5|1795473900") . a 43-character MAC
    assert token.startswith(
        "LB1.bGhzfDExMjMtMDAxfDZmMWMyZDNlNGE1YjRjNmQ4ZTdmOTBhMWIyYzNkNGU1fDE3OTU0NzM5MDA."
    )
    assert len(token.split(".")[2]) == 43
    assert is_token(token) and not is_token("1123-001")
    assert verify(SECRET, token, school_id="lhs", now=BEFORE) == Verdict(BadgeStatus.VALID, CLAIMS)


def test_a_forged_or_changed_token_is_forged() -> None:
    token = sign(SECRET, CLAIMS)
    forged = sign(b"another deployment's secret 0123", CLAIMS)
    assert verify(SECRET, forged, school_id="lhs", now=BEFORE) == Verdict(BadgeStatus.FORGED)
    # Another badge number with the old MAC: the payload changed, the signature no longer fits.
    _, _, mac = token.split(".")
    changed = "LB1." + _b64(f"lhs|1123-099|{VISIT.hex}|1795473900".encode()) + "." + mac
    assert verify(SECRET, changed, school_id="lhs", now=BEFORE).status is BadgeStatus.FORGED
    assert verify(SECRET, token[:-1] + "A", school_id="lhs", now=BEFORE).status is (
        BadgeStatus.FORGED
    )
    assert verify(SECRET, "LB1.é.x", school_id="lhs", now=BEFORE).status is BadgeStatus.FORGED
    for text in ("1123-001", "", "LB1.onlytwo", "LB2.a.b", "https://example.org/b/1123-001"):
        assert verify(SECRET, text, school_id="lhs", now=BEFORE) == Verdict(BadgeStatus.NOT_A_BADGE)


def test_an_expired_token_is_expired_from_its_expiry_on() -> None:
    token = sign(SECRET, CLAIMS)
    second_before = UNTIL - timedelta(seconds=1)
    assert verify(SECRET, token, school_id="lhs", now=second_before).status is BadgeStatus.VALID
    assert verify(SECRET, token, school_id="lhs", now=UNTIL) == Verdict(BadgeStatus.EXPIRED, CLAIMS)


def test_another_schools_badge_is_not_this_schools() -> None:
    token = sign(SECRET, CLAIMS)
    assert verify(SECRET, token, school_id="mhs", now=BEFORE) == Verdict(
        BadgeStatus.OTHER_SCHOOL, CLAIMS
    )


def test_the_secret_from_the_environment_or_kept_in_the_data_dir(tmp_path: Path) -> None:
    explicit = "x" * 32
    assert badge_secret(Settings(data_dir=tmp_path, web_badge_secret=SecretStr(explicit))) == (
        explicit.encode()
    )
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        badge_secret(Settings(data_dir=tmp_path, web_badge_secret=SecretStr("short")))
    first = badge_secret(Settings(data_dir=tmp_path))
    assert len(first) == 64
    path = tmp_path / "web-badge.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert badge_secret(Settings(data_dir=tmp_path)) == first  # a restart keeps it
    assert badge_secret(Settings(data_dir=tmp_path / "other")) != first  # another install
