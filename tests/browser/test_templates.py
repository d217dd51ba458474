"""The phone page's choices are the contracts' (no browser needed): every category, severity
and contact kind the forms offer is one the server accepts, and none is missing."""

from __future__ import annotations

import re

from jinja2 import Environment, FileSystemLoader, select_autoescape

from lookout.contracts.patrol import ConcernCategory, ContactKind, ObservationCategory, Severity
from tests.browser.conftest import WEB


def options(html: str, select_id: str) -> list[str]:
    block = re.search(rf'<select id="{select_id}".*?</select>', html, re.S)
    assert block is not None, select_id
    return re.findall(r'<option value="([^"]+)"', block.group(0))


def test_the_forms_offer_exactly_the_contracts_choices() -> None:
    env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape())
    html = env.get_template("phone.html").render(
        nonce="n",
        csrf_token="t",
        base_url="",
        school={"id": "lhs", "name": "Lakeside", "student_reference_pattern": "S-[0-9]+"},
        person={"id": "sso-rivera", "name": "Dana Rivera"},
        zones=[{"id": "cafeteria", "name": "Cafeteria", "checkpoints": ["T-CAF-N"]}],
    )
    assert options(html, "concern-category") == [c.value for c in ConcernCategory]
    assert options(html, "concern-severity") == [s.value for s in Severity]
    assert options(html, "observation-category") == [c.value for c in ObservationCategory]
    assert options(html, "contact-kind") == [k.value for k in ContactKind]
    assert options(html, "scan-tag") == ["T-CAF-N"]
    assert 'nonce="n"' in html and "style=" not in html  # CSP: style-src 'self', no inline
