"""The CLI against a real nats-server: emit, tail, dlq, docs, db upgrade, and `lookout up` as a
subprocess (readiness, ingestion, restart after kill -9, clean Ctrl-C)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from lookout.cli.main import app
from lookout.contracts.subjects import CATALOGUE
from lookout.kernel.messaging import (
    DLQ_REASON,
    DLQ_SEQUENCE,
    DLQ_STREAM,
    DLQ_SUBJECT,
    ensure_streams,
)
from lookout.kernel.settings import Settings
from lookout.local.runtime import EmbeddedNats

runner = CliRunner()
EVENT_ID = re.compile(r"published \S+ ([0-9a-f-]{36}) to (\S+) \(stream (\w+), seq (\d+)\)")


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 20.0,
    what: str = "condition",
    context: Callable[[], str] = lambda: "",
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{context()}")


@pytest.fixture
def streams(nats_server: EmbeddedNats) -> str:
    asyncio.run(ensure_streams(Settings(nats_url=nats_server.url)))
    return nats_server.url


def invoke(args: list[str], url: str) -> Any:
    result = runner.invoke(app, args, env={"LOOKOUT_NATS_URL": url})
    assert result.exit_code == 0, result.output
    return result


async def _last(url: str, stream: str, subject: str) -> Any:
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().get_last_msg(stream, subject)
    finally:
        await nc.close()


@pytest.mark.nats
def test_emit_scan_is_published_with_msg_id(streams: str) -> None:
    result = invoke(
        ["emit", "scan", "--school", "lhs", "--zone", "bath-1n-boys", "--tag", "T-1NB",
         "--method", "qr", "--actor", "phone-7"],
        streams,
    )  # fmt: skip
    match = EVENT_ID.search(result.stdout)
    assert match, result.stdout
    event_id, subject, stream, seq = match.groups()
    assert (subject, stream) == ("patrol.lhs.checkpoint.scanned", "PATROL")

    msg = asyncio.run(_last(streams, "PATROL", "patrol.lhs.checkpoint.scanned"))
    assert msg.seq == int(seq)
    assert msg.subject == "patrol.lhs.checkpoint.scanned"
    assert msg.headers["Nats-Msg-Id"] == event_id
    body = json.loads(msg.data)
    occurred_at = body.pop("occurred_at")
    assert occurred_at.endswith("Z") or "+" in occurred_at  # timezone-aware
    assert body == {
        "event_id": event_id,
        "type": "checkpoint.scanned",
        "schema_version": 1,
        "school_id": "lhs",
        "actor": {"kind": "cli", "id": "phone-7"},
        "zone_id": "bath-1n-boys",
        "checkpoint_tag": "T-1NB",
        "method": "qr",
    }

    # The same event id again (a phone's retry) is de-duplicated by JetStream.
    again = invoke(
        ["emit", "scan", "--zone", "bath-1n-boys", "--tag", "T-1NB", "--event-id", event_id],
        streams,
    )
    assert "duplicate" in again.stdout
    assert f"seq {seq}" in again.stdout


@pytest.mark.nats
def test_emit_concern_lifecycle_and_tail(streams: str) -> None:
    raised = invoke(
        ["emit", "concern", "raise", "--category", "conflict", "--severity", "medium",
         "--zone", "cafeteria", "--student", "S-1234", "--student", "S-5678",
         "--note", "words that must stay private"],
        streams,
    )  # fmt: skip
    concern_id = re.search(r"concern_id ([0-9a-f-]{36})", raised.stdout).group(1)  # type: ignore[union-attr]
    invoke(["emit", "concern", "update", concern_id, "--severity", "high"], streams)
    invoke(["emit", "contact", "--kind", "de_escalation", "--student", "S-1234",
            "--concern", concern_id], streams)  # fmt: skip
    invoke(["emit", "concern", "resolve", concern_id, "--outcome", "referred_to_counselor"],
           streams)  # fmt: skip
    invoke(["emit", "observation", "--zone", "gym", "--category", "hazard", "--note", "wet"],
           streams)  # fmt: skip

    result = invoke(["tail", "--from-start", "--subject", "concern.lhs.>", "--limit", "3"], streams)
    lines = result.stdout.strip().splitlines()
    # In the school's zone (America/Chicago: CST in the test's season, CDT in summer).
    local = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d C[SD]T"
    assert all(re.fullmatch(local, line.split("  ")[0]) for line in lines), lines
    assert [line.split("  ")[1:3] for line in lines] == [
        ["concern.lhs.raised", "concern.raised"],
        ["concern.lhs.updated", "concern.updated"],
        ["concern.lhs.resolved", "concern.resolved"],
    ]
    assert "2 students" in lines[0] and "+note" in lines[0]
    assert "S-1234" not in result.stdout and "private" not in result.stdout

    everything = invoke(["tail", "--from-start", "--limit", "5"], streams)
    assert len(everything.stdout.strip().splitlines()) == 5
    assert "1 student " in everything.stdout


@pytest.mark.nats
def test_dlq_list_and_tail_show_reason_not_payload(streams: str) -> None:
    # A visitor's name in a dead-lettered body, and a reason an older service wrote quoting a
    # value from the payload: `dlq list` shows origin, size and reason, never either.
    name_body = b'{"first_name": "Zebulon", "last_name": "Quarrington", "badge_number": "0000"}'
    badge_body = b'{"badge_number": "Quarrington-Z", "zone_id": "gym"}'

    letters = [  # DLQ subject, body, reason, original subject, stream and sequence
        ("dlq.patrol", b'{"note": "secret payload"}', "unknown zone",
         "patrol.lhs.observation.logged", "PATROL", "41"),
        ("dlq.visitors", name_body,
         "schema violation for visitor.sighted: zone_id: Field required",
         "visitor.lhs.sighted", "VISITORS", "42"),
        ("dlq.visitors", badge_body, "no visit with badge 'Quarrington-Z'",
         "visitor.lhs.sighted", "VISITORS", "43"),
    ]  # fmt: skip

    async def dead_letter() -> None:
        nc = await nats.connect(streams)
        js = nc.jetstream()
        for n, (subject, body, reason, origin, stream, seq) in enumerate(letters, start=1):
            headers = {DLQ_REASON: reason, DLQ_SUBJECT: origin, DLQ_STREAM: stream}
            headers |= {DLQ_SEQUENCE: seq, "Nats-Msg-Id": f"dlq-test-{n}"}
            await js.publish(subject, body, headers=headers, stream="DLQ")
        await nc.close()

    asyncio.run(dead_letter())
    listed = invoke(["dlq", "list", "--service", "visitors"], streams)
    lines = listed.stdout.splitlines()
    assert [line.split("  ", 1)[1] for line in lines[:-1]] == [
        "dlq.visitors  dead-letter  #2 from=visitor.lhs.sighted VISITORS#42 size=77B "
        "reason=schema violation for visitor.sighted: zone_id: Field required",
        "dlq.visitors  dead-letter  #3 from=visitor.lhs.sighted VISITORS#43 size=51B "
        "reason=no visit with badge '…'",
    ]
    # When the DLQ stored each, in the zone of its origin's school (lhs: America/Chicago).
    local = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d C[SD]T"
    assert all(re.fullmatch(local, ln.split("  ")[0]) for ln in lines[:-1]), lines
    assert lines[-1] == "2 dead letter(s)"
    for payload_text in ("Zebulon", "Quarrington", "0000", "gym"):
        assert payload_text not in listed.stdout
    assert "0 dead letter(s)" in invoke(["dlq", "list", "--service", "alerts"], streams).stdout
    everything = invoke(["dlq", "list"], streams).stdout
    assert "3 dead letter(s)" in everything
    assert (
        "#1 from=patrol.lhs.observation.logged PATROL#41 size=26B reason=unknown zone" in everything
    )
    assert "secret" not in everything and "Quarrington" not in everything

    tailed = invoke(["tail", "--from-start", "--subject", "dlq.>", "--limit", "3"], streams)
    assert tailed.stdout.count("dead-letter") == 3
    assert "secret" not in tailed.stdout and "Quarrington" not in tailed.stdout

    # Once the cause is fixed, replay sends it back to where it came from and clears the DLQ.
    seq = "1"
    replayed = invoke(["dlq", "replay", "--service", "patrol", "--seq", seq], streams)
    assert f"DLQ#{seq} -> patrol.lhs.observation.logged (PATROL" in replayed.stdout
    assert "1 dead letter(s) replayed" in replayed.stdout
    msg = asyncio.run(_last(streams, "PATROL", "patrol.lhs.observation.logged"))
    assert msg.data == b'{"note": "secret payload"}'
    assert msg.headers["Nats-Msg-Id"] == f"replay-dlq-{seq}"
    assert "0 dead letter(s)" in invoke(["dlq", "list", "--service", "patrol"], streams).stdout
    assert (
        "0 dead letter(s) replayed"
        in invoke(["dlq", "replay", "--service", "patrol"], streams).stdout
    )


def test_docs_writes_asyncapi_and_schemas(tmp_path: Path) -> None:
    result = runner.invoke(app, ["docs", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "asyncapi.json").read_text())
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {"patrol.>", "concern.>"} <= addresses
    schemas = doc["components"]["schemas"]
    assert "CheckpointScanned" in schemas and "ConcernRaised" in schemas
    refs = {
        r["$ref"]
        for m in doc["components"]["messages"].values()
        for r in m["payload"].get("oneOf", [m["payload"]])
    }
    assert {"#/components/schemas/CheckpointScanned", "#/components/schemas/ConcernRaised"} <= refs
    assert (tmp_path / "asyncapi.yaml").read_text().startswith("info:")
    written = sorted(p.name for p in (tmp_path / "schemas").glob("*.json"))
    assert written == sorted(f"{s.type}.json" for s in CATALOGUE)
    scan = json.loads((tmp_path / "schemas" / "checkpoint.scanned.json").read_text())
    assert scan["additionalProperties"] is False
    assert {"zone_id", "checkpoint_tag", "method", "event_id"} <= set(scan["properties"])


def test_db_upgrade_creates_tables(tmp_path: Path) -> None:
    env = {"LOOKOUT_DATA_DIR": str(tmp_path), "LOOKOUT_PATROL_DB_URL": None}
    for args in (["db", "upgrade"], ["db", "upgrade", "patrol"]):  # twice: idempotent
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
        assert "patrol: database at head" in result.stdout
    with sqlite3.connect(tmp_path / "patrol.db") as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert {"checkpoint_scans", "concerns", "patrol_inbox", "patrol_alembic_version"} <= tables


# --- lookout up ---------------------------------------------------------------------------------


class Output:
    """Collects a subprocess's output lines on a thread, so waiting never blocks on a read."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def find(self, pattern: str) -> re.Match[str] | None:
        for line in list(self.lines):
            if m := re.search(pattern, line):
                return m
        return None

    def text(self) -> str:
        return "\n".join(self.lines)


def processes_using(data_dir: Path) -> list[int]:
    """Live processes started for this data dir (nats-server by its arguments, services by
    their environment)."""
    found = []
    marker = str(data_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().split()[2] == "Z":
                continue
            if marker in (entry / "cmdline").read_bytes() or (
                b"LOOKOUT_DATA_DIR=" + marker in (entry / "environ").read_bytes()
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def scan_stored(db_path: Path, event_id: str) -> bool:
    if not db_path.exists():
        return False
    try:
        with sqlite3.connect(db_path) as db:
            row = db.execute(
                "select zone_id from checkpoint_scans where event_id = ?", (event_id,)
            ).fetchone()
    except sqlite3.OperationalError:  # tables not created yet
        return False
    return row is not None


@pytest.fixture
def lookout_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Output, Path]]:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env.update(
        LOOKOUT_DATA_DIR=str(data_dir),
        # A pull request of the killed process can hold the next message until the ack wait
        # expires; keep that short so the restart check does not wait 30 s.
        LOOKOUT_CONSUMER_ACK_WAIT_SECONDS="2",
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookout.cli", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    output = Output(proc)
    try:
        yield proc, output, data_dir
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in processes_using(data_dir):  # never leave strays behind, even on failure
            os.kill(pid, signal.SIGKILL)


@pytest.mark.nats
def test_up_runs_the_suite_restarts_a_crash_and_stops_cleanly(
    lookout_up: tuple[subprocess.Popen[str], Output, Path],
) -> None:
    proc, output, data_dir = lookout_up

    def context() -> str:
        logs = data_dir / "logs" / "patrol.log"
        log = logs.read_text(errors="replace")[-3000:] if logs.exists() else "(no patrol log)"
        return f"--- lookout up:\n{output.text()}\n--- patrol.log (tail):\n{log}"

    def wait(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        return wait_for(condition, timeout, what, context)

    wait(lambda: output.find("Lookout is up") or proc.poll() is not None, "readiness")
    assert proc.poll() is None, output.text()
    url = output.find(r"NATS\s+(nats://127\.0\.0\.1:\d+)").group(1)  # type: ignore[union-attr]
    patrol_pid = int(output.find(r"patrol\s+pid (\d+)").group(1))  # type: ignore[union-attr]
    assert output.find(r"db sqlite\+aiosqlite:///.*patrol\.db")
    assert (data_dir / "nats.url").read_text().strip() == url
    web = output.find(r"sign in\s+lhs sso\s+sso-rivera\s+(http://127\.0\.0\.1:\d+)/signin/\S{43}")
    assert web is not None, output.text()

    # `emit` finds the embedded server through the data dir, without LOOKOUT_NATS_URL.
    env = {"LOOKOUT_DATA_DIR": str(data_dir), "LOOKOUT_NATS_URL": None}

    def emit_scan() -> str:
        result = runner.invoke(
            app, ["emit", "scan", "--zone", "hall-1-north", "--tag", "T-H1N-B"], env=env
        )
        assert result.exit_code == 0, result.output
        return EVENT_ID.search(result.stdout).group(1)  # type: ignore[union-attr]

    first = emit_scan()
    wait(lambda: scan_stored(data_dir / "patrol.db", first), "the scan stored")

    os.kill(patrol_pid, signal.SIGKILL)
    wait(lambda: output.find(r"patrol exited \(code -9\)"), "the crash reported")
    wait(lambda: output.find(r"patrol restarted"), "the restart reported")
    second = emit_scan()
    wait(lambda: scan_stored(data_dir / "patrol.db", second), "a scan after restart")

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0, output.text()
    wait_for(lambda: output.find("Lookout stopped."), timeout=5, what="the goodbye")
    assert output.find(r"patrol stopped \(code 0\)"), output.text()
    assert output.find(r"web stopped \(code 0\)"), output.text()
    assert not (data_dir / "nats.url").exists()
    wait_for(lambda: not processes_using(data_dir), timeout=5, what="no leftover processes")
    assert "Traceback" not in output.text()
