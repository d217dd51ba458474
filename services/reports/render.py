"""The weekly email: Jinja2 templates (HTML with inline styles and table layout, plus a plain
text part), charts as inline CID images, assembled into one MIME message.

Every number in the HTML sits in an element with a `data-k` key, and every number in the text
part on a `key: value` line, so tests (and anyone scraping the archive) read exact values.
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from lookout.school import sensor_response, words
from services.reports import charts
from services.reports.domain import DistrictRow, Headline, WeeklySummary, district_totals

_env = Environment(
    loader=PackageLoader("services.reports", "templates"),
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def fmt(value: Any, unit: str = "") -> str:
    """A number as the email shows it: `—` for unknown, `.0` dropped from whole floats."""
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value}{unit}"


def fmt_change(h: Headline) -> str:
    if h.previous is None and h.value is not None:
        return "no data for last week"
    change = h.change
    if change is None:
        return "—"
    if isinstance(change, float) and change.is_integer():
        change = int(change)
    unit = " pts" if h.unit == "%" else ""
    return f"{'+' if change > 0 else ''}{change}{unit}" if change else "±0"


_env.filters["n"] = fmt
_env.filters["change"] = fmt_change
_env.filters["category"] = words.category
_env.filters["outcome"] = words.outcome
_env.filters["contact"] = words.contact
_env.filters["screening"] = words.screening
_env.filters["sensor_alerts"] = sensor_response.alerts_of
_env.filters["clock"] = sensor_response.clock

# A verdict's colours (text on tint, contrast above 4.5:1) and the symbol beside its words, so
# colour is never the only sign.
LEVEL_STYLE = {
    "ok": ("#1e6b34", "#e7f4ea", "\N{HEAVY CHECK MARK}"),
    "watch": ("#7a4a00", "#fff3d6", "\N{BLACK UP-POINTING TRIANGLE}"),
    "bad": ("#a4161a", "#fde8e8", "\N{HEAVY MULTIPLICATION X}"),
}
ATTENTION_SHOWN = 20  # the rest are counted, with the console's link


@dataclass
class Rendered:
    subject: str
    html: str
    text: str
    images: dict[str, bytes] = field(default_factory=dict)  # content id → PNG


def _local(moment: datetime, tz: Any) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y %H:%M")


def subject(summary: WeeklySummary) -> str:
    """`Lookout weekly summary — Lakeside High School — week of 30 Nov - 4 Dec` (en dash)."""
    when = words.date_range(*summary.dates) if summary.dates else summary.week
    return f"Lookout weekly summary — {summary.school_name} — week of {when}"


def render_weekly(
    summary: WeeklySummary, tz: Any, *, console: str = "/app", with_charts: bool = True
) -> Rendered:
    images: dict[str, bytes] = {}
    if with_charts:
        for name, chart in (("heatmap", charts.heatmap), ("trend", charts.trend)):
            png = chart(summary)
            if png is not None:
                images[f"{name}.{summary.week}.{summary.school_id}@lookout"] = png
    context = {
        "s": summary,
        "start": _local(summary.start, tz),
        "end": _local(summary.end, tz),
        "cid": {k.split(".", 1)[0]: k for k in images},
        "zone": lambda z: summary.zone_names.get(z, z),
        "period": lambda p: summary.period_names.get(p, p),
        "dates": words.date_range(*summary.dates) if summary.dates else summary.week,
        "console": console,
        "level": LEVEL_STYLE,
        "shown": ATTENTION_SHOWN,
        "verdict_labels": {"coverage": "Patrol coverage", "missed": "Checks missed",
                           "unacknowledged": "Alerts never acknowledged"},
    }  # fmt: skip
    return Rendered(
        subject(summary),
        _env.get_template("weekly.html.j2").render(**context),
        _env.get_template("weekly.txt.j2").render(**context),
        images,
    )


def render_district(week: str, rows: list[DistrictRow], school_names: dict[str, str]) -> Rendered:
    totals = district_totals(rows)
    context = {"week": week, "rows": rows, "totals": totals, "keys": [h.key for h in totals]}
    subject = f"Lookout district roll-up — {len(rows)} school(s) — {week}"
    return Rendered(
        subject,
        _env.get_template("district.html.j2").render(**context),
        _env.get_template("district.txt.j2").render(**context),
    )


def inline_data_uris(rendered: Rendered) -> str:
    """The HTML with `cid:` images replaced by data: URIs, for a preview in a browser."""
    html = rendered.html
    for cid, png in rendered.images.items():
        html = html.replace(f"cid:{cid}", "data:image/png;base64," + base64.b64encode(png).decode())
    return html


def html_of_message(raw: bytes) -> tuple[str, str]:
    """A sent summary's subject and HTML as the recipients got them (`mime_message`'s output),
    its `cid:` charts inlined as data: URIs, for the console's archive."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("html",))
    if body is None:
        raise ValueError("a sent summary without HTML")
    html = str(body.get_content())
    related = msg.get_body(preferencelist=("related",))
    for part in related.iter_attachments() if related is not None else ():
        cid = str(part.get("Content-ID", "")).strip("<>")
        if cid and part.get_content_type() == "image/png":
            data = base64.b64encode(part.get_content()).decode()
            html = html.replace(f"cid:{cid}", f"data:image/png;base64,{data}")
    return str(msg["Subject"] or ""), html


def mime_message(
    rendered: Rendered, *, sender: str, recipients: list[str], message_id: str, at: datetime
) -> EmailMessage:
    """multipart/alternative (text, then multipart/related HTML + PNGs by Content-ID)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = rendered.subject
    msg["Date"] = email.utils.format_datetime(at)
    msg["Message-ID"] = message_id
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    for cid, png in rendered.images.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>")
    return msg
