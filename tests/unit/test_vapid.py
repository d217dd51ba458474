"""This deployment's VAPID key: generated once, kept 0600, shared by every process that shares
the data dir, and an explicit key wins; a bad one is a one-line configuration error."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from py_vapid import Vapid

from lookout.kernel.settings import ConfigurationError, Settings
from lookout.kernel.vapid import vapid_keys


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path, provision_streams=True, **kw)  # type: ignore[arg-type]


def test_a_key_is_generated_once_kept_0600_and_read_back_by_the_next_process(
    tmp_path: Path,
) -> None:
    first = vapid_keys(_settings(tmp_path))
    second = vapid_keys(_settings(tmp_path))
    assert first == second
    assert (tmp_path / "vapid.pem").stat().st_mode & 0o777 == 0o600
    point = base64.urlsafe_b64decode(first.application_server_key + "=")
    assert len(point) == 65 and point[0] == 4  # an uncompressed P-256 point, as browsers take it
    assert "PRIVATE" not in repr(first)
    assert first.signer is first.signer  # parsed once, not per push


def test_an_explicit_key_wins_and_a_bad_one_names_the_setting(tmp_path: Path) -> None:
    own = Vapid()
    own.generate_keys()
    pem = own.private_pem().decode("ascii")
    keys = vapid_keys(_settings(tmp_path, vapid_private_key=pem))
    assert keys.private_pem == pem.strip()
    assert not (tmp_path / "vapid.pem").exists()
    with pytest.raises(ConfigurationError) as err:
        vapid_keys(_settings(tmp_path, vapid_private_key="not a key"))
    assert str(err.value) == "LOOKOUT_VAPID_PRIVATE_KEY: not a PEM P-256 private key"
