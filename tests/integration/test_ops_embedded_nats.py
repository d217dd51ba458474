"""The embedded nats-server of `lookout up` fsyncs every write before its PubAck
(`sync_interval: always`, as the deployment config does) unless LOOKOUT_EMBEDDED_NATS_SYNC says
`default`: a power cut on a one-machine install then loses no acknowledged event."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.settings import Settings
from lookout.local.runtime import EmbeddedNats, free_port
from lookout.local.suite import local_suite

pytestmark = pytest.mark.nats


def _jetstream_config(server: EmbeddedNats, monitor: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/varz", timeout=5) as reply:
        return dict(json.load(reply)["jetstream"]["config"])


@pytest.mark.parametrize(("sync_always", "expected"), [(True, True), (False, False)])
def test_the_running_server_syncs_always_when_asked(
    tmp_path: Path, sync_always: bool, expected: bool
) -> None:
    monitor = free_port()
    server = EmbeddedNats(
        store_dir=tmp_path / "nats", extra_args=("-m", str(monitor)), sync_always=sync_always
    ).start()
    try:
        config = _jetstream_config(server, monitor)
    finally:
        server.stop()
    assert config.get("sync_always", False) is expected  # the server omits it when false
    assert config["store_dir"] == str(tmp_path / "nats" / "jetstream")


def _suite_server_args(settings: Settings) -> list[str]:
    with local_suite(settings, [], print, lambda _line: None, prefer_port=None) as suite:
        assert suite.embedded is not None and suite.embedded.proc is not None
        return [str(arg) for arg in suite.embedded.proc.args]


def test_lookout_up_embeds_a_server_that_syncs_always_by_default(tmp_path: Path) -> None:
    args = _suite_server_args(Settings(data_dir=tmp_path, nats_url=None))
    config = tmp_path / "nats-server.conf"
    assert args[1:3] == ["-c", str(config)]
    assert config.read_text(encoding="utf-8") == "jetstream {\n  sync_interval: always\n}\n"


def test_lookout_up_can_opt_out_of_sync_always(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOKOUT_EMBEDDED_NATS_SYNC", "default")
    args = _suite_server_args(Settings(data_dir=tmp_path, nats_url=None))
    assert "-c" not in args
    assert not (tmp_path / "nats-server.conf").exists()


def test_the_sync_setting_names_itself_when_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKOUT_EMBEDDED_NATS_SYNC", "sometimes")
    with pytest.raises(ValueError, match="embedded_nats_sync"):
        Settings()
