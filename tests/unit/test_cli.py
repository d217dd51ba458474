"""The CLI's input checks: one line on stderr naming the field, exit code 2, no NATS needed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from typer.testing import CliRunner

from lookout.cli.connect import resolve_nats_url
from lookout.cli.main import app
from lookout.cli.tail import describe_dead_letter, redact_reason, stream_filters, when
from lookout.contracts.envelope import Actor, ActorKind
from lookout.contracts.patrol import ConcernRaised, ContactLogged
from lookout.contracts.readable import describe_event
from lookout.kernel.errors import CliError
from lookout.kernel.messaging import (
    DLQ_REASON,
    DLQ_SEQUENCE,
    DLQ_STREAM,
    DLQ_SUBJECT,
    DLQ_TRUNCATED,
)
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school

runner = CliRunner()
# Nothing listens on port 1: a command that got as far as connecting would fail with exit 1.
UNREACHABLE = {"LOOKOUT_NATS_URL": "nats://127.0.0.1:1"}


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_bad_school_file_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    text = EXAMPLE_SCHOOL.read_text(encoding="utf-8").replace(
        "timezone: America/Chicago", "timezone: Mars/Olympus_Mons"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["up"], env={"LOOKOUT_SCHOOLS": str(bad), **UNREACHABLE})
    assert result.exit_code == 2
    line = one_line_error(result)
    assert str(bad) in line
    assert "timezone" in line


def test_unreadable_yaml_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    result = runner.invoke(app, ["emit", "scan", "--zone", "gym", "--tag", "T-GYM"],
                           env={"LOOKOUT_SCHOOLS": str(bad), **UNREACHABLE})  # fmt: skip
    assert result.exit_code == 2
    assert "broken.yaml" in one_line_error(result)


@pytest.mark.parametrize("name", ["nope", "visitors-x", "os"])
def test_run_unknown_service(name: str) -> None:
    result = runner.invoke(app, ["run", name])
    assert result.exit_code == 2
    line = one_line_error(result)
    assert f"unknown service {name!r}" in line


def test_db_upgrade_unknown_service() -> None:
    result = runner.invoke(app, ["db", "upgrade", "nope"])
    assert result.exit_code == 2
    assert "unknown service" in one_line_error(result)


def test_emit_unknown_zone() -> None:
    result = runner.invoke(
        app, ["emit", "scan", "--zone", "bath-9z", "--tag", "T-1NB"], env=UNREACHABLE
    )
    assert result.exit_code == 2
    line = one_line_error(result)
    assert line.startswith("lookout: error: zone:")
    assert "bath-9z" in line


def test_emit_tag_of_another_zone() -> None:
    result = runner.invoke(
        app, ["emit", "scan", "--zone", "bath-1n-boys", "--tag", "T-1NG"], env=UNREACHABLE
    )
    assert result.exit_code == 2
    assert "tag:" in one_line_error(result)


def test_emit_unknown_school() -> None:
    result = runner.invoke(
        app,
        ["emit", "observation", "--school", "xhs", "--zone", "gym", "--category", "hazard"],
        env=UNREACHABLE,
    )
    assert result.exit_code == 2
    assert "school:" in one_line_error(result)


@pytest.mark.parametrize("name", ["Jane Doe", "JaneDoe"])
def test_emit_student_name_is_refused_without_echoing_it(name: str) -> None:
    result = runner.invoke(
        app,
        ["emit", "concern", "raise", "--category", "bullying", "--severity", "high",
         "--student", "S-1234", "--student", name],
        env=UNREACHABLE,
    )  # fmt: skip
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "student_refs.1" in line
    assert name not in result.output  # a name never reaches the screen


def test_emit_contact_needs_a_student() -> None:
    result = runner.invoke(
        app, ["emit", "contact", "--kind", "check_in", "--zone", "gym"], env=UNREACHABLE
    )
    assert result.exit_code == 2
    assert "student_refs" in one_line_error(result)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["emit", "scan", "--zone", "gym", "--tag", "T-GYM", "--method", "telepathy"], "method"),
        (["emit", "observation", "--zone", "gym", "--category", "mood"], "category"),
        (["emit", "concern", "raise", "--category", "vaping", "--severity", "dire"], "severity"),
        (["emit", "concern", "resolve", str(uuid.uuid4()), "--outcome", "shrug"], "outcome"),
        (["emit", "concern", "update", "not-a-uuid", "--severity", "low"], "concern_id"),
        (["emit", "scan", "--zone", "gym", "--tag", "T-GYM", "--actor", "a b"], "actor.id"),
        (["emit", "scan", "--zone", "gym", "--tag", "T-GYM", "--event-id", "x"], "event_id"),
    ],
)
def test_emit_invalid_field_names_it(args: list[str], field: str) -> None:
    result = runner.invoke(app, args, env=UNREACHABLE)
    assert result.exit_code == 2
    assert field in one_line_error(result)


def test_emit_valid_event_without_nats_says_where_it_tried() -> None:
    result = runner.invoke(app, ["emit", "scan", "--zone", "gym", "--tag", "T-GYM"],
                           env=UNREACHABLE)  # fmt: skip
    assert result.exit_code == 1
    assert one_line_error(result) == "lookout: error: cannot reach NATS at nats://127.0.0.1:1"


def test_nats_url_from_env_then_up_state_file(tmp_path: Path) -> None:
    assert resolve_nats_url(Settings(nats_url="nats://a:1", data_dir=tmp_path)) == "nats://a:1"
    with pytest.raises(CliError, match="LOOKOUT_NATS_URL is not set"):
        resolve_nats_url(Settings(nats_url=None, data_dir=tmp_path))  # no guess at :4222
    (tmp_path / "nats.url").write_text("nats://127.0.0.1:5555\n")
    assert resolve_nats_url(Settings(nats_url=None, data_dir=tmp_path)) == "nats://127.0.0.1:5555"


def test_tail_line_shows_counts_never_notes_or_students() -> None:
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    actor = Actor(kind=ActorKind.SSO_DEVICE, id="phone-1")
    raised = ConcernRaised.new(
        school_id="lhs", occurred_at=now, actor=actor, concern_id=uuid.uuid4(),
        category="bullying", severity="high", zone_id="cafeteria",
        student_refs=["S-1234", "S-5678"], note="private words about a student",
    )  # fmt: skip
    line = describe_event(raised)
    assert "2 students" in line
    assert "S-1234" not in line and "S-5678" not in line
    assert "private" not in line
    assert "+note" in line
    assert "severity=high" in line and "zone_id=cafeteria" in line
    contact = ContactLogged.new(
        school_id="lhs", occurred_at=now, actor=actor, kind="check_in", student_refs=["S-1234"]
    )
    assert "1 student " in describe_event(contact) + " "


def test_a_dead_letter_line_shows_origin_size_and_reason_never_the_body() -> None:
    body = b'{"first_name": "Zebulon", "note": "' + b"x" * 300_000 + b'"}'
    msg = Msg(
        _client=None,  # type: ignore[arg-type]
        subject="dlq.visitors",
        data=body[:4096],
        headers={
            DLQ_REASON: "no visit with badge 'Zebulon'; school_id \"zz\" unknown",
            DLQ_SUBJECT: "visitor.lhs.sighted",
            DLQ_STREAM: "VISITORS",
            DLQ_SEQUENCE: "17",
            DLQ_TRUNCATED: str(len(body)),
        },
    )
    line = describe_dead_letter(msg)
    assert (line.time, line.subject, line.kind) == ("-", "dlq.visitors", "dead-letter")
    assert line.detail == (
        "#? from=visitor.lhs.sighted VISITORS#17 size=4096B (truncated; original 300037B) "
        "reason=no visit with badge '…'; school_id '…' unknown"
    )  # no metadata without a JetStream reply subject: sequence and time unknown
    assert redact_reason("unknown zone") == "unknown zone"


def test_tail_and_dlq_times_are_in_the_zone_of_the_subjects_school() -> None:
    schools = {"lhs": load_school(EXAMPLE_SCHOOL)}  # America/Chicago
    winter = datetime(2026, 11, 23, 14, 0, 5, tzinfo=UTC)
    summer = datetime(2026, 6, 1, 14, 0, 5, tzinfo=UTC)
    assert when(winter, "concern.lhs.raised", schools) == "2026-11-23 08:00:05 CST"
    assert when(summer, "patrol.lhs.checkpoint.scanned", schools) == "2026-06-01 09:00:05 CDT"
    # A school this deployment does not have: UTC, said so; no time known: a dash.
    assert when(winter, "concern.zz.raised", schools) == "2026-11-23 14:00:05 UTC"
    assert when(winter, "", schools) == "2026-11-23 14:00:05 UTC"
    assert when(None, "concern.lhs.raised", schools) == "-"


def test_tail_filters_intersect_streams() -> None:
    assert stream_filters(">")["PATROL"] == "patrol.>"
    assert set(stream_filters(">")) >= {"PATROL", "CONCERNS", "DLQ"}
    assert stream_filters("patrol.lhs.>") == {"PATROL": "patrol.lhs.>"}
    assert stream_filters("*.lhs.>") == {
        "CALENDAR": "school.lhs.>",
        "PATROL": "patrol.lhs.>",
        "CONCERNS": "concern.lhs.>",
        "VISITORS": "visitor.lhs.>",
        "ALERTS": "alert.lhs.>",
        "REPORTS": "report.lhs.>",
        "SENSORS": "sensor.lhs.>",
        "DLQ": "dlq.lhs.>",
    }
    assert stream_filters("nothing.>") == {}


def test_tail_unknown_subject_is_usage_error() -> None:
    result = runner.invoke(app, ["tail", "--subject", "nothing.>"], env=UNREACHABLE)
    assert result.exit_code == 2
    assert "matches no Lookout stream" in one_line_error(result)


def test_run_without_nats_is_one_line() -> None:
    result = runner.invoke(app, ["run", "patrol"], env=UNREACHABLE)
    assert result.exit_code == 1
    assert one_line_error(result) == "lookout: error: cannot reach NATS at nats://127.0.0.1:1"


def test_up_with_unreachable_nats_url_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["up"], env={"LOOKOUT_DATA_DIR": str(tmp_path), **UNREACHABLE})
    assert result.exit_code == 1
    assert "cannot reach NATS at nats://127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.output


# --- check school ------------------------------------------------------------------------------


def test_check_school_passes_the_shipped_example() -> None:
    result = runner.invoke(app, ["check", "school", str(EXAMPLE_SCHOOL)])
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0] == (
        "Lakeside High School (lhs), America/Chicago time; looked at the week of Mon 2026-11-30; "
        "no-school day Thu 2026-11-26; day before a break Wed 2026-11-25"
    )
    assert not any(line.startswith("ERROR") for line in out)
    assert out[-1].startswith("0 error(s), ")
    assert out[-1].endswith(" notice(s): every high or critical alert reaches someone")


def test_check_school_fails_the_original_example_with_its_friday_evening(tmp_path: Path) -> None:
    import yaml

    from tests.unit.test_coverage import DEFAULT_HIGH, ORIGINAL

    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(ORIGINAL), encoding="utf-8")
    result = runner.invoke(app, ["check", "school", str(path)])
    assert result.exit_code == 1, result.output
    out = result.stdout.splitlines()
    assert (
        f"ERROR  Fri 17:30-Mon 06:45: {DEFAULT_HIGH} -> policy default: reaches nobody within "
        "15 minutes"
    ) in out
    assert sum(line.startswith("ERROR") for line in out) == 10
    assert out[-1].startswith("10 error(s), ")
    assert out[-1].endswith(": high or critical alerts can go unanswered")


def test_check_school_bad_file_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    text = EXAMPLE_SCHOOL.read_text(encoding="utf-8").replace(
        "delay_minutes: 10}", "delay_minutes: -10}"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["check", "school", str(bad)])
    assert result.exit_code == 2
    line = one_line_error(result)
    assert line.startswith(f"lookout: error: {bad}: escalation_policies.0.steps.1.delay_minutes: ")
    assert result.stdout == ""


def test_check_school_missing_file_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "school", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert one_line_error(result) == (
        f"lookout: error: {tmp_path / 'nope.yaml'}: cannot read (No such file or directory)"
    )
