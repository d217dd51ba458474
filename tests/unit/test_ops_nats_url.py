"""Where the CLI finds NATS: LOOKOUT_NATS_URL (one server or a cluster's seeds), else the
`nats.url` a running `lookout up` left in the data dir, else one line and exit 1 — never a
silent try of 127.0.0.1:4222, where another NATS may be listening."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lookout.cli.main import app
from lookout.kernel.settings import Settings
from lookout.local import runtime

runner = CliRunner()


def _no_nats_env(data_dir: Path) -> dict[str, str | None]:
    return {"LOOKOUT_DATA_DIR": str(data_dir), "LOOKOUT_NATS_URL": None}


@pytest.mark.parametrize(
    "argv",
    [
        ["emit", "scan", "--zone", "gym", "--tag", "T-GYM"],
        ["alerts", "list"],
        ["patrol", "status"],
        ["tail", "--limit", "1"],
        ["dlq", "list"],
    ],
)
def test_a_command_without_any_nats_url_says_so_in_one_line(
    tmp_path: Path, argv: list[str]
) -> None:
    result = runner.invoke(app, argv, env=_no_nats_env(tmp_path))
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [
        f"lookout: error: no NATS to connect to: LOOKOUT_NATS_URL is not set and "
        f"{tmp_path / 'nats.url'} does not exist (start `lookout up` with this data dir, "
        "or set LOOKOUT_NATS_URL)"
    ]


def test_run_without_any_nats_url_says_so_too(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "patrol"], env=_no_nats_env(tmp_path))
    assert result.exit_code == 1
    assert "LOOKOUT_NATS_URL is not set" in result.stderr
    assert "4222" not in result.stderr


def test_nats_url_takes_a_comma_separated_list_of_seed_servers() -> None:
    settings = Settings(nats_url="nats://n1:4222, nats://n2:4222,,nats://n3:4222 ")
    assert settings.nats_servers() == ["nats://n1:4222", "nats://n2:4222", "nats://n3:4222"]
    assert Settings(nats_url="nats://only:4222").nats_servers() == ["nats://only:4222"]


def test_up_gives_each_service_its_own_health_port() -> None:
    envs = runtime.service_envs(
        ["patrol", "visitors", "alerts", "reports"], {"LOOKOUT_HEALTH_PORT": "8080", "X": "1"}
    )
    assert {name: env["LOOKOUT_HEALTH_PORT"] for name, env in envs.items()} == {
        "patrol": "8080",
        "visitors": "8081",
        "alerts": "8082",
        "reports": "8083",
    }
    assert {env["X"] for env in envs.values()} == {"1"}


def test_health_port_zero_or_unset_is_left_alone() -> None:
    zero = runtime.service_envs(["patrol", "alerts"], {"LOOKOUT_HEALTH_PORT": "0"})
    assert [env["LOOKOUT_HEALTH_PORT"] for env in zero.values()] == ["0", "0"]
    unset = runtime.service_envs(["patrol", "alerts"], {"X": "1"})
    assert ["LOOKOUT_HEALTH_PORT" in env for env in unset.values()] == [False, False]


def test_the_supervisor_starts_each_service_with_its_own_health_port(tmp_path: Path) -> None:
    supervisor = runtime.Supervisor(
        ["patrol", "visitors", "alerts"], {"LOOKOUT_HEALTH_PORT": "9100"}, tmp_path, print
    )
    assert [child.env["LOOKOUT_HEALTH_PORT"] for child in supervisor.children] == [
        "9100",
        "9101",
        "9102",
    ]


def test_the_seed_list_reads_in_messages_as_it_was_written() -> None:
    servers = Settings(nats_url="nats://n1:4222, nats://n2:4222").nats_servers()
    assert f"cannot reach NATS at {servers}" == "cannot reach NATS at nats://n1:4222,nats://n2:4222"
