"""The web service in the deployment files (no Docker engine or cluster here: the files as
data): migrated and run like every service, under its own NATS user `svc-web`, public port and
health port apart (only the public one reaches people, through TLS), LOOKOUT_WEB_* set, and the
generated `svc-web` permissions the union of its people's plus what services/web/live.py hears."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from lookout.deploy.nats import deployment_users, generate
from lookout.kernel.settings import ALL_SERVICES, EXAMPLE_SCHOOL, load_school

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def k8s(kind: str, name: str) -> dict[str, Any]:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in documents(path):
            if doc.get("kind") == kind and doc["metadata"]["name"] == name:
                return doc
    raise AssertionError(f"no {kind} {name} under deploy/k8s")


def env_file(path: Path) -> dict[str, str]:
    pairs = re.findall(r"^([A-Z_]+)=(.*)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return dict(pairs)


def test_the_web_deployment_migrates_runs_and_probes_like_every_service() -> None:
    spec = k8s("Deployment", "lookout-web")["spec"]["template"]["spec"]
    assert [c["command"] for c in spec["initContainers"]] == [["lookout", "db", "upgrade", "web"]]
    (web,) = spec["containers"]
    assert web["command"] == ["lookout", "run", "web"]
    assert web["envFrom"] == [
        {"configMapRef": {"name": "lookout-config"}},
        {"configMapRef": {"name": "lookout-web-config"}},
        {"secretRef": {"name": "lookout-db"}},
        {"secretRef": {"name": "lookout-nats-web"}},
    ]
    assert web["ports"] == [
        {"name": "http", "containerPort": 8000},
        {"name": "health", "containerPort": 8080},
    ]
    assert env_file(K8S / "config.env")["LOOKOUT_HEALTH_PORT"] == "8080"
    assert env_file(K8S / "web.env") == {
        "LOOKOUT_WEB_BASE_URL": "https://lookout.district.example.org",
        "LOOKOUT_WEB_HOST": "0.0.0.0",
        "LOOKOUT_WEB_PORT": "8000",
        "LOOKOUT_WEB_BEHIND_PROXY": "true",
    }
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001}


def test_people_reach_the_public_port_through_tls_and_never_the_health_port() -> None:
    public = k8s("Service", "lookout-web")["spec"]["ports"]
    assert public == [{"name": "http", "port": 80, "targetPort": "http"}]
    metrics = k8s("Service", "lookout-web-metrics")["spec"]["ports"]
    assert metrics == [{"name": "metrics", "port": 8080, "targetPort": "health"}]
    ingress = k8s("Ingress", "lookout-web")["spec"]
    assert ingress["tls"] == [
        {"hosts": ["lookout.district.example.org"], "secretName": "lookout-web-tls"}
    ]
    (rule,) = ingress["rules"]
    assert rule["host"] == "lookout.district.example.org"
    assert [p["backend"] for p in rule["http"]["paths"]] == [
        {"service": {"name": "lookout-web", "port": {"name": "http"}}}
    ]
    policy = k8s("NetworkPolicy", "lookout-web")["spec"]
    assert [rule["ports"] for rule in policy["ingress"]] == [
        [{"port": "http"}],
        [{"port": "health"}],
    ]
    assert policy["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert "web-ingress.yaml" in documents(K8S / "kustomization.yaml")[0]["resources"]


def test_every_service_user_has_its_secret_and_every_secret_a_generated_user(
    tmp_path: Path,
) -> None:
    kustomization = documents(K8S / "kustomization.yaml")[0]
    secrets = {
        s["name"]: Path(s["envs"][0]).name
        for s in kustomization["secretGenerator"]
        if s["name"].startswith("lookout-nats-")
    }
    assert secrets == {
        "lookout-nats-admin": "admin.env",
        **{f"lookout-nats-{name}": f"svc-{name}.env" for name in ALL_SERVICES},
    }
    generated = generate({"lhs": load_school(EXAMPLE_SCHOOL)}, tmp_path, rounds=4)
    written = {p.name for p in generated.credentials_dir.glob("*.env")}
    assert set(secrets.values()) <= written


def test_compose_runs_the_web_with_its_user_database_and_certificate() -> None:
    compose = documents(DEPLOY / "compose.yaml")[0]
    web = compose["services"]["web"]
    assert web["command"] == ["sh", "-c", "lookout db upgrade web && exec lookout run web"]
    assert web["env_file"] == [".env", "./nats/generated/credentials/svc-web.env"]
    assert web["environment"] == {
        "LOOKOUT_WEB_DB_URL": "postgresql+asyncpg://postgres:${POSTGRES_PASSWORD}@postgres/lookout_web",
        "LOOKOUT_WEB_HOST": "0.0.0.0",
        "LOOKOUT_WEB_PORT": "8443",
        "LOOKOUT_WEB_TLS_CERT": "/etc/lookout/web-tls/web.crt",
        "LOOKOUT_WEB_TLS_KEY": "/etc/lookout/web-tls/web.key",
    }
    assert web["ports"] == ["443:8443"]  # the public port only: 8080 stays inside
    assert "./tls:/etc/lookout/web-tls:ro" in web["volumes"]
    assert env_file(DEPLOY / ".env.example")["LOOKOUT_WEB_BASE_URL"].startswith("https://")
    # The healthcheck every service shares asks /readyz on the health port (8080).
    assert "127.0.0.1:8080/readyz" in " ".join(compose["x-service"]["healthcheck"]["test"])


def test_one_database_per_service_the_web_too() -> None:
    init = (DEPLOY / "postgres" / "init.sql").read_text(encoding="utf-8")
    assert re.findall(r"CREATE DATABASE (\w+);", init) == [f"lookout_{s}" for s in ALL_SERVICES]
    urls = env_file(K8S / "db.env.example")
    assert [k for k in urls if k.endswith("_DB_URL")] == [
        f"LOOKOUT_{s.upper()}_DB_URL" for s in ALL_SERVICES
    ]


def test_svc_web_is_its_peoples_union_and_hears_what_the_web_listens_to() -> None:
    from services.web.live import LiveHub

    school = load_school(EXAMPLE_SCHOOL)
    users = {u.name: u for u in deployment_users({"lhs": school})}
    web = users["svc-web"].permissions
    assert web is not None and users["svc-web"].service == "web"
    people: set[str] = set()
    for user in users.values():
        if user.person and user.permissions:
            people |= set(user.permissions.publish)
    # Its people's, what its sensor ingress publishes as the sensors themselves, and the day
    # types the console's calendar page publishes for a principal or district safety.
    assert set(web.publish) == people | {
        "sensor.lhs.alert.raised",
        "sensor.lhs.alert.cleared",
        "school.lhs.day_type.confirmed",
        "school.lhs.day_type.withdrawn",
    }
    assert not any(s.startswith(("$JS", "alert.", "dlq.", "_INBOX")) for s in web.publish)
    assert sorted(web.subscribe) == sorted([*LiveHub(["lhs"]).subjects(), "_INBOX.svc-web.>"])
    # The consoles' boards hear their school's alert lifecycle; each person's pages nudge
    # their Today.
    assert sorted(s for s in web.subscribe if s.startswith("alert.")) == [
        "alert.lhs.acknowledged",
        "alert.lhs.escalated",
        "alert.lhs.notified",
        "alert.lhs.notify.*",
        "alert.lhs.opened",
        "alert.lhs.resolved",
    ]
    assert web.allow_responses is False  # it answers no request
