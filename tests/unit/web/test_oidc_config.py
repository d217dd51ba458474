"""Staff sign-in's configuration: the school file's `staff_sign_in` (client ids, Google
Workspace domains, Entra tenants, discovery URLs) is checked at start-up with one line naming
the field, and a configured provider without its client secret in the environment stops the
web service naming the variable, never a value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from lookout.kernel.settings import (
    EXAMPLE_SCHOOL,
    ConfigurationError,
    SchoolConfigError,
    Settings,
    load_school,
    load_schools,
)
from lookout.school.staff_sign_in import (
    ENTRA_DISCOVERY,
    GOOGLE_DISCOVERY,
    EntraSignIn,
    GoogleSignIn,
)
from services.web import pages
from services.web.app import create_app
from services.web.oidc_providers import Button, Providers, SignInState

TENANT = "3b8f5a2c-9d41-4e7a-b6c0-12f4e8a9d375"
GOOGLE = {"client_id": "c.apps.googleusercontent.com", "hosted_domains": ["lhs.example.org"]}
ENTRA = {"client_id": "6f1c2e4a-0b7d-4c55-9a31-2d8e7f604b11", "tenants": [TENANT]}


def school_file(tmp_path: Path, sign_in: dict[str, Any]) -> Path:
    school = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    school["staff_sign_in"] = sign_in
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(school), encoding="utf-8")
    return path


def test_the_example_school_signs_in_with_no_provider() -> None:
    assert load_school(EXAMPLE_SCHOOL).staff_sign_in.providers() == {}


def test_providers_and_their_real_discovery_documents_by_default(tmp_path: Path) -> None:
    school = load_school(school_file(tmp_path, {"google": GOOGLE, "entra": ENTRA}))
    providers = school.staff_sign_in.providers()
    assert list(providers) == ["google", "entra"]
    assert providers["google"].discovery() == GOOGLE_DISCOVERY
    assert providers["entra"].discovery() == (
        f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
    )
    two = EntraSignIn.model_validate(ENTRA | {"tenants": [TENANT, TENANT.replace("3", "4")]})
    assert two.discovery() == ENTRA_DISCOVERY.format(tenant="organizations")
    local = GoogleSignIn.model_validate(GOOGLE | {"discovery_url": "http://127.0.0.1:9/x"})
    assert local.discovery() == "http://127.0.0.1:9/x"


@pytest.mark.parametrize(
    ("sign_in", "message"),
    [
        (
            {"google": GOOGLE | {"hosted_domains": []}},
            "staff_sign_in.google.hosted_domains: List should have at least 1 item after "
            "validation, not 0",
        ),
        (
            {"google": GOOGLE | {"hosted_domains": ["LHS.example.org"]}},
            "staff_sign_in.google.hosted_domains.0: String should match pattern",
        ),
        (
            {"entra": ENTRA | {"tenants": ["lakeside"]}},
            "staff_sign_in.entra.tenants.0: String should match pattern",
        ),
        ({"entra": {"tenants": [TENANT]}}, "staff_sign_in.entra.client_id: Field required"),
        (
            {"google": GOOGLE | {"discovery_url": "http://idp.example.org/.well-known/x"}},
            "staff_sign_in.google.discovery_url: must be an https URL (http only on a loopback "
            "address)",
        ),
        (
            {"google": GOOGLE | {"client_secret": "x"}},
            "staff_sign_in.google.client_secret: Extra inputs are not permitted",
        ),
        ({"okta": GOOGLE}, "staff_sign_in.okta: Extra inputs are not permitted"),
    ],
)
def test_a_bad_staff_sign_in_is_one_line_naming_the_field(
    tmp_path: Path, sign_in: dict[str, Any], message: str
) -> None:
    path = school_file(tmp_path, sign_in)
    with pytest.raises(SchoolConfigError) as info:
        load_school(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert "\n" not in str(info.value)


def test_a_provider_without_its_secret_stops_the_web_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LOOKOUT_OIDC_GOOGLE_CLIENT_SECRET", "LOOKOUT_OIDC_ENTRA_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    path = school_file(tmp_path, {"google": GOOGLE, "entra": ENTRA})
    settings = Settings(data_dir=tmp_path, schools=str(path))
    with pytest.raises(ConfigurationError) as info:
        create_app(settings)
    assert str(info.value) == (
        "LOOKOUT_OIDC_GOOGLE_CLIENT_SECRET: not set, and school 'lhs' signs staff in with "
        "google (staff_sign_in.google)"
    )
    monkeypatch.setenv("LOOKOUT_OIDC_GOOGLE_CLIENT_SECRET", "from-the-environment")
    with pytest.raises(ConfigurationError) as info:
        create_app(Settings(data_dir=tmp_path, schools=str(path)))
    assert str(info.value).startswith("LOOKOUT_OIDC_ENTRA_CLIENT_SECRET: not set")
    monkeypatch.setenv("LOOKOUT_OIDC_ENTRA_CLIENT_SECRET", "from-the-environment-too")
    app = create_app(Settings(data_dir=tmp_path, schools=str(path)))
    assert [b.label for b in app.state.oidc.buttons()] == [
        "Sign in with Google",
        "Sign in with Microsoft",
    ]


def test_the_state_cookie_is_signed_and_lasts_ten_minutes(tmp_path: Path) -> None:
    path = school_file(tmp_path, {"google": GOOGLE})
    settings = Settings(data_dir=tmp_path, schools=str(path), oidc_google_client_secret="s3")
    providers = Providers(settings, load_schools(settings))
    sign_in = SignInState("lhs", "google", "st", "no", "ve", "/app")
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    sealed = providers.seal(sign_in, now)
    assert providers.unseal(sealed, now + timedelta(minutes=9, seconds=59)) == sign_in
    assert providers.unseal(sealed, now + timedelta(minutes=10)) is None
    head, body, signature = sealed.split(".")
    assert providers.unseal(f"{head}.{body}.{signature[::-1]}", now) is None
    another = Settings(data_dir=tmp_path, schools=str(path), oidc_google_client_secret="other")
    other = Providers(another, load_schools(another))
    assert other.unseal(sealed, now) is None  # another deployment's key
    assert providers.unseal(None, now) is None and providers.unseal("x" * 5000, now) is None


def test_with_several_schools_each_schools_buttons_come_under_its_name() -> None:
    buttons = [
        Button("lhs", "Lakeside High School", "google", "Sign in with Google"),
        Button("lhs", "Lakeside High School", "entra", "Sign in with Microsoft"),
        Button("mhs", "Meadow High School", "google", "Sign in with Google"),
    ]
    html = pages._env.get_template("signin.html").render(next="/app", buttons=buttons, nonce="n")
    headings = [line.strip() for line in html.splitlines() if "<h2" in line]
    assert headings == [
        '<h2 class="signin__school">Lakeside High School</h2>',
        '<h2 class="signin__school">Meadow High School</h2>',
        '<h2 class="signin__or">Or with a Lookout password</h2>',
    ]
    forms = [line.strip() for line in html.splitlines() if "/signin/oidc/" in line]
    assert forms == [
        '<form class="form" method="post" action="/signin/oidc/lhs/google">',
        '<form class="form" method="post" action="/signin/oidc/lhs/entra">',
        '<form class="form" method="post" action="/signin/oidc/mhs/google">',
    ]
    one = pages._env.get_template("signin.html").render(next="/app", buttons=buttons[:2])
    assert "signin__school" not in one
