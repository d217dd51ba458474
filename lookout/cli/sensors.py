"""`lookout sensors urls`: where a school's sensors send their alerts — each HALO's URL (its
token signed with LOOKOUT_SENSOR_SECRET) and the Set/Reset strings to paste into it, the
Verkada webhook URL, and the address alert emails go to. The token rules live in the web
service (reached by module name: the CLI never imports a service statically)."""

from __future__ import annotations

import importlib
from typing import Any

import typer

from lookout.contracts.sensors import SensorVendor
from lookout.kernel.errors import UsageError
from lookout.kernel.settings import Settings, load_schools

app = typer.Typer(
    help="The school's vape and sound sensors (HALO, Verkada, email).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SCHOOL = typer.Option(..., "--school", help="School id.")
NO_VERKADA_SECRET = ", which is not set: every webhook is refused"


def _messages() -> Any:
    return importlib.import_module("services.web.sensor_messages")


@app.command("urls")
def urls(school: str = SCHOOL) -> None:
    """Print each HALO sensor's URL and the Set/Reset strings to paste (Integration → External
    Messaging), the Verkada webhook URL, and the address for alert emails."""
    settings = Settings()
    schools = load_schools(settings)
    config = schools.get(school)
    if config is None:
        raise UsageError(f"school: {school!r} is not a configured school ({', '.join(schools)})")
    messages = _messages()
    base = settings.web_url()
    devices = config.sensors.devices
    halos = [s for s in devices if s.vendor is SensorVendor.HALO]
    if halos:
        secret = messages.sensor_secret(settings)
    for sensor in halos:
        url = f"{base}/sensors/halo/{messages.halo_token(secret, config.id, sensor.id)}"
        typer.echo(f"HALO {sensor.id} (zone {sensor.zone}): {url}")
        typer.echo(f"  Set String:   {messages.halo_set_string(url, 'set')}")
        typer.echo(f"  Reset String: {messages.halo_set_string(url, 'reset')}")
    verkadas = [s for s in devices if s.vendor is SensorVendor.VERKADA]
    if verkadas:
        unset = "" if settings.verkada_secret.get_secret_value() else NO_VERKADA_SECRET
        typer.echo(
            f"Verkada sensor_alert webhook: {base}/sensors/verkada/{config.id} (signed with "
            f"LOOKOUT_VERKADA_SECRET{unset})"
        )
        for sensor in verkadas:
            typer.echo(f"  {sensor.id} (zone {sensor.zone}): device_id {sensor.device_id}")
    named = [s for s in devices if s.name and s.vendor is not SensorVendor.VERKADA]
    if settings.sensor_mail_port is None or not settings.sensor_mail_to:
        where = "no listener (set LOOKOUT_SENSOR_MAIL_PORT and LOOKOUT_SENSOR_MAIL_TO)"
    else:
        where = (
            f"{settings.sensor_mail_to} (SMTP {settings.sensor_mail_host}:"
            f"{settings.sensor_mail_port})"
        )
    senders = ", ".join(config.sensors.email_senders) or "none (every alert email is refused)"
    typer.echo(f"Alert emails: to {where}, from {senders}")
    for sensor in named:
        typer.echo(f"  {sensor.id} (zone {sensor.zone}): subject names {sensor.name!r}")
    if not devices:
        typer.echo(f"{config.id}: no sensors in the school file")
