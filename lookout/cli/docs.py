"""`lookout docs`: AsyncAPI from the services' FastStream apps, JSON Schemas from the catalogue,
and the "Who may publish what" table of docs/architecture.md from the NATS permissions.

FastStream describes each service's channels (subjects, consumers, descriptions). The services
validate message bodies themselves (against the catalogue), so FastStream sees no payload type;
the catalogue fills that in: each channel's message is `oneOf` the events its subject filter can
carry, and every catalogue model is added to `components/schemas`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import warnings
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from lookout.contracts.subjects import CATALOGUE, STREAMS, Subject
from lookout.kernel.settings import SERVICES, Settings

SCHEMA_REF = "#/components/schemas/{model}"


class DocsError(RuntimeError):
    """A service's app cannot be described; the message names the service."""


def existing_services(names: Iterable[str] = SERVICES) -> list[str]:
    """Services whose `services.<name>.app` module can be imported (checked without running it).

    Imported by name only: the kernel never imports a service statically.
    """
    found = []
    for name in names:
        try:
            spec = importlib.util.find_spec(f"services.{name}.app")
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            found.append(name)
    return found


def service_module(name: str) -> Any:
    return importlib.import_module(f"services.{name}.app")


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard match where `subject` may itself contain `*` tokens (catalogue wildcards)."""
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or tok not in ("*", s[i]):
            return False
    return len(p) == len(s)


def catalogue_schemas() -> dict[str, Any]:
    """Every catalogue model's JSON Schema with shared definitions, refs into components."""
    _, defs = models_json_schema(
        [(spec.model, "validation") for spec in CATALOGUE], ref_template=SCHEMA_REF
    )
    return dict(defs.get("$defs", {}))


def asyncapi_document(services: Sequence[str], settings: Settings) -> dict[str, Any]:
    from faststream.specification import AsyncAPI

    brokers = []
    consumers: list[tuple[str, Any]] = []
    for name in services:
        try:
            module = service_module(name)
            kernel = module.create_kernel(settings)
            broker = module.build_app(kernel).broker
            consumers += [(name, c) for c in kernel.stream_consumers]
            with warnings.catch_warnings():  # reported once, below
                warnings.simplefilter("ignore")
                AsyncAPI(broker).to_specification()  # fail here, naming the service
        except Exception as exc:
            raise DocsError(
                f"{name}: cannot describe its FastStream app: {type(exc).__name__}: {exc}"
            ) from exc
        brokers.append(broker)
    spec = AsyncAPI(
        *brokers,
        title="Lookout",
        version=_version(),
        description=(
            "Events of the Lookout School Safety Officer suite. Subjects are "
            "`<domain>.<school_id>.<entity>.<verb>`; every publish sets "
            "`Nats-Msg-Id = event_id`."
        ),
        schema_version="3.0.0",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc: dict[str, Any] = spec.to_specification().to_jsonable()
    notes = sorted({str(w.message) for w in caught})
    if notes:
        doc["x-lookout-warnings"] = notes
    components = doc.setdefault("components", {})
    for service, consumer in consumers:
        _add_stream_consumer(doc, service, consumer)
    schemas = components.setdefault("schemas", {})
    schemas.update(catalogue_schemas())
    for message in components.get("messages", {}).values():
        filters = _subjects_for_message(doc, message)
        events = [s for s in CATALOGUE if any(subject_matches(f, s.wildcard) for f in filters)]
        if events:
            message["payload"] = {
                "oneOf": [{"$ref": SCHEMA_REF.format(model=s.model.__name__)} for s in events]
            }
            message["x-lookout-events"] = [_event_entry(s) for s in events]
    if not _uses_empty(doc):
        schemas.pop("EmptyPayload", None)
    doc["x-lookout-catalogue"] = [_event_entry(s) for s in CATALOGUE]
    doc["x-lookout-streams"] = STREAMS
    # Stable output, so the committed docs only change when the contracts do.
    for key in ("channels", "operations"):
        if key in doc:
            doc[key] = dict(sorted(doc[key].items()))
    for key in ("messages", "schemas"):
        if key in components:
            components[key] = dict(sorted(components[key].items()))
    return doc


def _add_stream_consumer(doc: dict[str, Any], service: str, consumer: Any) -> None:
    """A kernel stream consumer as a receive channel (FastStream only sees its own subscribers);
    same shape as FastStream's, so the catalogue fills in its payload like the others."""
    title = f"{service}:{consumer.durable.removeprefix(service + '-')}"
    message = f"{title}:SubscribeMessage"
    subjects = list(consumer.subjects)
    # A durable with several filter subjects has no one address (AsyncAPI: null, unknown);
    # its subjects are listed, and the catalogue matches each of them.
    one = subjects[0] if len(subjects) == 1 else None
    binding: dict[str, Any] = {"subject": one} if one else {"subjects": subjects}
    doc.setdefault("channels", {})[title] = {
        "address": one,
        "description": consumer.description,
        "servers": [{"$ref": f"#/servers/{server}"} for server in doc.get("servers", {})],
        "messages": {"SubscribeMessage": {"$ref": f"#/components/messages/{message}"}},
        "bindings": {"nats": {**binding, "bindingVersion": "custom"}},
        "x-lookout-durable": consumer.durable,
        "x-lookout-stream": consumer.stream,
        "x-lookout-subjects": subjects,
    }
    doc.setdefault("operations", {})[title] = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{title}"},
        "messages": [{"$ref": f"#/channels/{title}/messages/SubscribeMessage"}],
    }
    doc["components"].setdefault("messages", {})[message] = {"title": message}


def _version() -> str:
    try:
        return metadata.version("lookout")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0"


def _event_entry(spec: Subject) -> dict[str, str]:
    return {
        "type": spec.type,
        "subject": spec.template.replace("{school}", "{school_id}"),
        "stream": spec.stream,
        "description": spec.description,
        "schema": SCHEMA_REF.format(model=spec.model.__name__),
    }


def _subjects_for_message(doc: dict[str, Any], message: dict[str, Any]) -> list[str]:
    """The subject filters of the channel the message belongs to (none: not found)."""
    title = message.get("title", "")
    for channel in doc.get("channels", {}).values():
        for ref in channel.get("messages", {}).values():
            if ref.get("$ref", "").rsplit("/", 1)[-1] == title:
                if "x-lookout-subjects" in channel:
                    return list(channel["x-lookout-subjects"])
                return [str(channel["address"])] if channel.get("address") else []
    return []


def _uses_empty(doc: dict[str, Any]) -> bool:
    return "#/components/schemas/EmptyPayload" in json.dumps(doc.get("components", {}))


def write_docs(out: Path, services: Sequence[str] | None = None) -> list[Path]:
    """Write asyncapi.json/.yaml and schemas/<type>.json under `out`; returns the files."""
    services = existing_services() if services is None else services
    # Building an app must not create databases or data directories: point them at memory.
    settings = Settings(
        log_level="WARNING",
        **{f"{name}_db_url": "sqlite+aiosqlite:///:memory:" for name in SERVICES},
    )
    doc = asyncapi_document(services, settings)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "asyncapi.json"
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    written.append(path)
    path = out / "asyncapi.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    written.append(path)
    schema_dir = out / "schemas"
    schema_dir.mkdir(exist_ok=True)
    for spec in CATALOGUE:
        schema = spec.model.model_json_schema()
        schema["$id"] = f"{spec.type}.json"
        schema["x-lookout-subject"] = spec.template.replace("{school}", "{school_id}")
        schema["x-lookout-stream"] = spec.stream
        path = schema_dir / f"{spec.type}.json"
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    architecture = out / "architecture.md"
    if architecture.exists() and update_publish_table(architecture):
        written.append(architecture)
    return written


# --- who may publish what ----------------------------------------------------------------------

TABLE_START = "<!-- who-may-publish: generated by `lookout docs` from lookout/deploy/nats.py -->"
TABLE_END = "<!-- who-may-publish: end -->"
SCHOOL, PERSON = "S", "P"


def _codes(items: Iterable[str]) -> str:
    return ", ".join(f"`{i}`" for i in items) or "—"


def publish_table() -> str:
    """Each role's and service's NATS permissions as one short Markdown table (S: the user's
    school, P: its person id), rendered from the permissions `deploy nats-config` writes."""
    from lookout.deploy.nats import (
        ADMIN,
        SERVICE_CONSUMERS,
        SERVICE_REPLAYS,
        durable,
        inbox_prefix,
        person_permissions,
        person_user,
        replay_consumer,
        service_permissions,
        service_user,
        web_permissions,
    )
    from lookout.kernel.settings import WEB
    from lookout.school.config import Role

    rows: dict[tuple[str, str, str], list[str]] = {}
    own_inbox = f"{inbox_prefix(person_user(SCHOOL, PERSON))}.>"
    for role in Role:
        perms = person_permissions(SCHOOL, PERSON, [role])
        if perms is None:
            continue
        row = (
            _codes(perms.publish),
            _codes(s for s in perms.subscribe if s != own_inbox),
            "—",
        )
        rows.setdefault(row, []).append(str(role).replace("_", " "))
    lines = [
        TABLE_START,
        "| NATS user | publishes | subscribes to | JetStream API |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {', '.join(who)} | {pub} | {sub} | {js} |" for (pub, sub, js), who in rows.items()
    ]
    for service, consumers in SERVICE_CONSUMERS.items():
        perms = service_permissions(service)
        inbox = f"{inbox_prefix(service_user(service))}.>"
        own = ", ".join(f"`{durable(service, n)}` ({s})" for s, n in consumers)
        js = f"create, pull, ack (never delete) {own}"
        replays = SERVICE_REPLAYS.get(service, ())
        if replays:
            js += f"; create, pull, delete `{replay_consumer(service)}` on {', '.join(replays)}"
        pub = _codes(p for p in perms.publish if not p.startswith("$JS"))
        sub = _codes(s for s in perms.subscribe if s != inbox)
        lines.append(f"| {service_user(service)} | {pub} | {sub} | {js} |")
    # The web acts for its people: what every role may publish and ask, as a person (P) of S.
    web = web_permissions([(SCHOOL, PERSON, [role]) for role in Role], [SCHOOL])
    inbox = f"{inbox_prefix(service_user(WEB))}.>"
    sub = _codes(s for s in web.subscribe if s != inbox)
    lines.append(f"| {service_user(WEB)} | {_codes(web.publish)} | {sub} | — |")
    lines.append(f"| {ADMIN} | everything (operators; the CLI acts as `cli`) | everything | all |")
    lines.append(TABLE_END)
    return "\n".join(lines)


def update_publish_table(path: Path) -> bool:
    """Replace the table between its markers in `path`; whether the file changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        return False
    new = text[:start] + publish_table() + text[end + len(TABLE_END) :]
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True
