"""An alert email's acknowledge link (lookout/kernel/action_links.py): what a valid token says,
and that a forged one, one with any field changed, an expired one (at its expiry exactly) and
one signed with another deployment's secret say nothing."""

from __future__ import annotations

import base64
import os
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from lookout.kernel.action_links import (
    ACK_LINK_LIFETIME,
    AckLinkClaims,
    AckLinks,
    alert_link_secret,
    sign_ack_link,
    verify_ack_link,
)
from lookout.kernel.settings import ConfigurationError, Settings

SECRET = b"0123456789abcdef0123456789abcdef-lhs"
OTHER = b"0123456789abcdef0123456789abcdef-mhs"
ALERT = uuid.UUID("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
EXPIRES = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
CLAIMS = AckLinkClaims("lhs", ALERT, "principal-okafor", EXPIRES)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_a_valid_token_names_the_school_alert_person_and_expiry() -> None:
    token = sign_ack_link(SECRET, CLAIMS)
    payload = b64("lhs|aaaaaaaabbbb4ccc8dddeeeeeeeeeeee|principal-okafor|1795528800")
    assert token.startswith(f"LA1.{payload}.")
    assert len(token) == 4 + len(payload) + 1 + 43  # the MAC: 32 bytes, base64url unpadded
    assert all(c.isalnum() or c in "-_." for c in token)  # URL-safe as it is
    assert verify_ack_link(SECRET, token, now=EXPIRES - timedelta(seconds=1)) == CLAIMS


def test_it_expires_at_its_expiry_exactly() -> None:
    token = sign_ack_link(SECRET, CLAIMS)
    assert verify_ack_link(SECRET, token, now=EXPIRES - timedelta(microseconds=1)) == CLAIMS
    assert verify_ack_link(SECRET, token, now=EXPIRES) is None
    assert verify_ack_link(SECRET, token, now=EXPIRES + timedelta(days=1)) is None


def test_another_deployments_secret_is_no() -> None:
    token = sign_ack_link(OTHER, CLAIMS)
    assert verify_ack_link(SECRET, token, now=EXPIRES - timedelta(hours=1)) is None


@pytest.mark.parametrize(
    "fields",
    [
        "mhs|aaaaaaaabbbb4ccc8dddeeeeeeeeeeee|principal-okafor|1795528800",  # school
        "lhs|aaaaaaaabbbb4ccc8dddeeeeeeeeeeef|principal-okafor|1795528800",  # alert
        "lhs|aaaaaaaabbbb4ccc8dddeeeeeeeeeeee|ap-chen|1795528800",  # person
        "lhs|aaaaaaaabbbb4ccc8dddeeeeeeeeeeee|principal-okafor|1795615200",  # a day longer
    ],
)
def test_a_token_with_a_field_changed_is_no(fields: str) -> None:
    mac = sign_ack_link(SECRET, CLAIMS).split(".")[2]
    assert verify_ack_link(SECRET, f"LA1.{b64(fields)}.{mac}", now=EXPIRES - timedelta(1)) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "LA1",
        "LA1..",
        "LB1." + b64("lhs|aaaaaaaabbbb4ccc8dddeeeeeeeeeeee|principal-okafor|1795528800") + ".x",
        "LA1." + b64("lhs|aaaaaaaabbbb4ccc8dddeeeeeeeeeeee|principal-okafor|1795528800") + ".é",
        "LA1.a.b.c",
        "LA1." + "A" * 300 + ".x",
    ],
)
def test_forged_and_malformed_tokens_are_no(token: str) -> None:
    assert verify_ack_link(SECRET, token, now=EXPIRES - timedelta(hours=1)) is None


def test_a_field_with_the_separator_is_refused_when_signing() -> None:
    with pytest.raises(ValueError, match=r"'\|' in a field"):
        sign_ack_link(SECRET, AckLinkClaims("lhs", ALERT, "a|b", EXPIRES))


def test_links_are_the_web_base_and_last_a_day() -> None:
    now = EXPIRES - ACK_LINK_LIFETIME
    url = AckLinks("https://lookout.test", SECRET).url("lhs", ALERT, "principal-okafor", now)
    assert url == "https://lookout.test/ack/" + sign_ack_link(SECRET, CLAIMS)
    assert timedelta(hours=24) == ACK_LINK_LIFETIME


def test_the_secret_is_the_setting_else_one_generated_0600_file(tmp_path: Path) -> None:
    explicit = Settings(data_dir=tmp_path, alert_link_secret=SecretStr("s" * 32))
    assert alert_link_secret(explicit) == b"s" * 32
    with pytest.raises(ConfigurationError, match="LOOKOUT_ALERT_LINK_SECRET: at least 32"):
        alert_link_secret(Settings(data_dir=tmp_path, alert_link_secret=SecretStr("short")))
    generated = alert_link_secret(Settings(data_dir=tmp_path))
    path = tmp_path / "alert-link.secret"
    assert generated == path.read_text().strip().encode() and len(generated) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert alert_link_secret(Settings(data_dir=tmp_path)) == generated  # the same on restart
