"""The phone's concern and badge forms offer the contracts' choices (no browser needed): every
outcome and severity is one the server accepts and none is missing; "unchanged" and "choose"
are the empty value, which the phone leaves out of the event."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, select_autoescape

from lookout.contracts.patrol import ResolutionOutcome, Severity
from tests.browser.conftest import WEB
from tests.browser.test_templates import options

ZONES = [
    {"id": "cafeteria", "name": "Cafeteria", "checkpoints": ["T-CAF-N"]},
    {"id": "library", "name": "Library", "checkpoints": ["T-LIB"]},
]


def render() -> str:
    env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape())
    return env.get_template("phone.html").render(
        nonce="n",
        csrf_token="t",
        base_url="",
        school={"id": "lhs", "name": "Lakeside", "student_reference_pattern": "S-[0-9]+"},
        person={"id": "sso-rivera", "name": "Dana Rivera"},
        zones=ZONES,
    )


def test_resolve_and_update_offer_exactly_the_contracts_choices() -> None:
    html = render()
    assert options(html, "resolve-outcome") == [o.value for o in ResolutionOutcome]
    assert options(html, "update-severity") == [s.value for s in Severity]
    assert options(html, "update-zone") == ["cafeteria", "library"]
    assert options(html, "badge-zone") == ["cafeteria", "library"]


def test_the_empty_choices_say_what_they_mean() -> None:
    html = render()
    assert '<option value="">Unchanged</option>' in html
    assert '<option value="">Choose the outcome…</option>' in html
    assert '<option value="">Choose the zone…</option>' in html
    assert 'min="1" max="20"' in html  # the follow-up's bounds, as ConcernResolved's
    assert "style=" not in html
