"""docs/architecture.md's "Who may publish what" table is the one `lookout docs` renders from
the NATS permissions (lookout/deploy/nats.py); the permission matrix test checks those against a
real server with its own hand-written table."""

from __future__ import annotations

from pathlib import Path

from lookout.cli.docs import TABLE_END, TABLE_START, publish_table, update_publish_table

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_the_architecture_doc_has_the_current_table() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert text.count(TABLE_START) == 1 and text.count(TABLE_END) == 1
    assert publish_table() in text, "run `lookout docs` to regenerate docs/architecture.md"


def test_lookout_docs_rewrites_a_stale_table_only(tmp_path: Path) -> None:
    doc = tmp_path / "architecture.md"
    doc.write_text(f"# A\n\n{TABLE_START}\n| old |\n{TABLE_END}\n\n## B\n", encoding="utf-8")
    assert update_publish_table(doc) is True
    assert doc.read_text(encoding="utf-8") == f"# A\n\n{publish_table()}\n\n## B\n"
    assert update_publish_table(doc) is False  # current: left alone
    table = publish_table().splitlines()
    assert table[3].startswith("| sso | `patrol.S.checkpoint.scanned`, ")
    assert "| front office | `command.S.visitors.*.P`, `query.S.visitors.*.P` | — | — |" in table
