"""The deployment files, validated as far as they can be here (no Docker engine, no cluster):
YAML parses, `nats-server -t` accepts the server config with generated users, every LOOKOUT_*
variable a file sets is a Settings field, and the generated permissions cover exactly what each
service's app subscribes to."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lookout.cli.main import app as cli_app
from lookout.contracts.requests import REQUESTS
from lookout.deploy.nats import (
    ALERT_INPUT_STREAMS,
    SERVICE_CONSUMERS,
    deployment_users,
    durable,
    generate,
    service_permissions,
)
from lookout.kernel.settings import EXAMPLE_SCHOOL, SchoolConfigError, Settings, load_school
from lookout.local.runtime import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_every_yaml_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert {f.name for f in files} >= {
        "compose.yaml", "kustomization.yaml", "services.yaml", "nats-values.yaml",
        "streams-job.yaml", "namespace.yaml",
    }  # fmt: skip
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        assert docs, f"{path} is empty"


def _env_names(text: str) -> set[str]:
    return set(re.findall(r"^\s*#?\s*(LOOKOUT_[A-Z0-9_]+)=", text, flags=re.MULTILINE))


def _manifest_env_names() -> set[str]:
    names: set[str] = set()
    for path in DEPLOY.rglob("*.yaml"):
        names |= set(re.findall(r"\b(LOOKOUT_[A-Z0-9_]+)\b", path.read_text(encoding="utf-8")))
    return names - {"LOOKOUT_IMAGE"}  # compose's own variable for the image tag


def test_every_lookout_variable_set_by_a_deploy_file_is_a_setting(tmp_path: Path) -> None:
    fields = {f"LOOKOUT_{name.upper()}" for name in Settings.model_fields}
    env_files = [
        DEPLOY / ".env.example",
        DEPLOY / "k8s" / "config.env",
        DEPLOY / "k8s" / "db.env.example",
    ]
    generated = generate({"lhs": load_school(EXAMPLE_SCHOOL)}, tmp_path, rounds=4)
    env_files += sorted(generated.credentials_dir.glob("*.env"))
    used: set[str] = _manifest_env_names()
    for path in env_files:
        used |= _env_names(path.read_text(encoding="utf-8"))
    assert "LOOKOUT_NATS_PASSWORD" in used and "LOOKOUT_PROVISION_STREAMS" in used
    assert used - fields == set()


def _nats_test(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nats_server_binary(), "-t", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_nats_server_accepts_the_config_with_generated_users(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["deploy", "nats-config", "--schools", "lhs", "--out", str(tmp_path), "--rounds", "4",
         "--school-file", str(EXAMPLE_SCHOOL)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "lhs-sso-rivera" in result.output
    shutil.copy(DEPLOY / "nats" / "nats-server.conf", tmp_path)
    text = (tmp_path / "nats-server.conf").read_text(encoding="utf-8")
    assert re.search(r"^\s*sync_interval:\s*always\s*$", text, flags=re.MULTILINE)
    ok = _nats_test(tmp_path / "nats-server.conf")
    assert ok.returncode == 0, ok.stderr
    # ...and `-t` really checks: a broken permission block is rejected.
    auth = tmp_path / "auth.conf"
    auth.write_text(auth.read_text().replace("allow_responses: true", "allow_responses: {"))
    assert _nats_test(tmp_path / "nats-server.conf").returncode != 0


def test_credentials_are_private_and_hashes_not_passwords(tmp_path: Path) -> None:
    generated = generate({"lhs": load_school(EXAMPLE_SCHOOL)}, tmp_path, rounds=4)
    auth = generated.auth_file.read_text()
    for name, password in generated.passwords.items():
        assert password not in auth
        env = (generated.credentials_dir / f"{name}.env").read_text()
        assert f"LOOKOUT_NATS_PASSWORD={password}" in env
        assert (generated.credentials_dir / f"{name}.env").stat().st_mode & 0o777 == 0o600
    assert auth.count('password: "$2b$04$') == len(generated.passwords)


def test_nats_config_needs_a_school_file_for_each_school(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["deploy", "nats-config", "--schools", "lhs,mhs", "--out", str(tmp_path),
         "--school-file", str(EXAMPLE_SCHOOL)],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "no school file for mhs" in result.output
    assert not (tmp_path / "auth.conf").exists()


def test_one_user_per_person_with_access_and_per_service() -> None:
    school = load_school(EXAMPLE_SCHOOL)
    users = {u.name: u for u in deployment_users({"lhs": school})}
    assert {"admin", "svc-patrol", "svc-visitors", "svc-alerts", "svc-reports"} <= set(users)
    people = {p.id for p in school.people if set(p.roles) - {"admin"}}
    assert {u.person for u in users.values() if u.person} == people
    sso = users["lhs-sso-rivera"].permissions
    assert sso is not None
    assert sso.subscribe == ("patrol.lhs.sso.sso-rivera.>", "_INBOX.lhs-sso-rivera.>")
    assert not any(s.startswith(("$JS", "_INBOX", "alert.")) for s in sso.publish)


# --- the generated permissions against the services' real subscriptions ---------------------


def covers(pattern: str, subject: str) -> bool:
    """Whether a NATS permission pattern allows a (possibly wildcard) subscription subject."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def _apps() -> dict[str, object]:
    from services.alerts import app as alerts
    from services.patrol import app as patrol
    from services.reports import app as reports
    from services.visitors import app as visitors

    return {"patrol": patrol, "visitors": visitors, "alerts": alerts, "reports": reports}


def _request_subscriptions(service: str, tmp_path: Path) -> list[str]:
    module = _apps()[service]
    kernel = module.create_kernel(Settings(data_dir=tmp_path))  # type: ignore[attr-defined]
    module.build_app(kernel)  # type: ignore[attr-defined]
    return sorted(
        str(sub.subject.broker_address)  # type: ignore[attr-defined]
        for sub in kernel.broker.subscribers
        if type(sub).__name__ == "CoreSubscriber"
    )


@pytest.mark.parametrize("service", ["patrol", "visitors", "alerts", "reports"])
def test_the_request_catalogue_is_what_each_service_answers(service: str, tmp_path: Path) -> None:
    """Every request subject a service subscribes to is in lookout/contracts/requests.py (which
    the permission matrix is generated from), ends in the acting person, and is covered by the
    service's permissions — and nothing else is."""
    answered = _request_subscriptions(service, tmp_path)
    catalogued = sorted(spec.wildcard for spec in REQUESTS if spec.service == service)
    assert answered == catalogued
    assert all(s.split(".")[1] == "*" and s.split(".")[4] == "*" for s in answered)
    perms = service_permissions(service)
    for subject in answered:
        assert any(covers(p, subject) for p in perms.subscribe), subject


def test_the_operator_clis_identity_is_no_persons_id() -> None:
    school = load_school(EXAMPLE_SCHOOL)
    people = [p.model_copy(update={"id": "cli"}) if p.id == "ap-chen" else p for p in school.people]
    with pytest.raises(SchoolConfigError, match="person id 'cli' is reserved for the operator CLI"):
        deployment_users({"lhs": school.model_copy(update={"people": people})})


def test_a_person_may_ask_only_as_themself() -> None:
    school = load_school(EXAMPLE_SCHOOL)
    users = {u.name: u for u in deployment_users({"lhs": school})}
    requests = {
        name: [s for s in u.permissions.publish if s.startswith(("command.", "query."))]
        for name, u in users.items()
        if u.person and u.permissions
    }
    assert requests == {
        # The SSO asks patrol, and turns alert pushes on and off for their own phone.
        "lhs-sso-rivera": [
            "query.lhs.patrol.*.sso-rivera",
            "command.lhs.alerts.push_subscribe.sso-rivera",
            "command.lhs.alerts.push_unsubscribe.sso-rivera",
        ],
        "lhs-ap-chen": [
            "command.lhs.alerts.*.ap-chen",
            "query.lhs.alerts.*.ap-chen",
            "query.lhs.reports.*.ap-chen",
            "query.lhs.patrol.*.ap-chen",
        ],
        "lhs-principal-okafor": [
            "command.lhs.alerts.*.principal-okafor",
            "query.lhs.alerts.*.principal-okafor",
            "query.lhs.reports.*.principal-okafor",
            "query.lhs.patrol.*.principal-okafor",
        ],
        "lhs-counselor-patel": [
            "command.lhs.alerts.*.counselor-patel",
            "query.lhs.alerts.*.counselor-patel",
            "query.lhs.reports.*.counselor-patel",
            "query.lhs.patrol.*.counselor-patel",
        ],
        "lhs-district-lee": [
            "command.lhs.alerts.*.district-lee",
            "query.lhs.alerts.*.district-lee",
            "query.lhs.reports.*.district-lee",
            "query.lhs.patrol.day_types.district-lee",  # the console's school calendar
        ],
        "lhs-office-garcia": [
            "command.lhs.visitors.*.office-garcia",
            "query.lhs.visitors.*.office-garcia",
        ],
    }
    office = users["lhs-office-garcia"].permissions
    assert office is not None
    assert office.publish == tuple(requests["lhs-office-garcia"])  # no visitor event


@pytest.mark.parametrize("service", ["patrol", "visitors", "alerts"])
def test_permissions_cover_exactly_the_services_consumers_and_requests(
    service: str, tmp_path: Path
) -> None:
    module = _apps()[service]
    kernel = module.create_kernel(Settings(data_dir=tmp_path))  # type: ignore[attr-defined]
    module.build_app(kernel)  # type: ignore[attr-defined]
    perms = service_permissions(service)
    declared = {(stream, durable(service, name)) for stream, name in SERVICE_CONSUMERS[service]}
    assert set(kernel.consumers) == declared
    for stream, name in kernel.consumers:
        assert f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}" in perms.publish
        assert f"$JS.ACK.{stream}.{name}.>" in perms.publish
    requests = [
        str(sub.subject.broker_address)  # type: ignore[attr-defined]
        for sub in kernel.broker.subscribers
        if type(sub).__name__ == "CoreSubscriber"
    ]
    assert requests
    for subject in requests:
        assert any(covers(p, subject) for p in perms.subscribe), subject
    # Nothing beyond: every request pattern is used by some subscription.
    for pattern in perms.subscribe:
        if not pattern.startswith("_INBOX."):
            assert any(covers(pattern, s) for s in requests), pattern


def test_alert_input_streams_match_the_alerts_service() -> None:
    from services.alerts.app import INPUTS

    assert tuple(ALERT_INPUT_STREAMS) == tuple(INPUTS)
