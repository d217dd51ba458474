"""Reading a school's calendar feed: its .ics file (relative to the school file) or its URL.
Every failure is a CalendarError of one line naming the feed, never a traceback."""

from __future__ import annotations

from pathlib import Path

import httpx

from lookout.school.day_types import CalendarFeed
from lookout.school.ical import MAX_BYTES, CalendarError


def feed_file(feed: CalendarFeed, school_file: Path) -> Path | None:
    """The feed's file, resolved against the school file's directory (None for a URL)."""
    if feed.file is None:
        return None
    path = Path(feed.file)
    return path if path.is_absolute() else school_file.parent / path


async def read_feed(feed: CalendarFeed, school_file: Path, wait: float = 15.0) -> bytes:
    """The feed's bytes (at most MAX_BYTES)."""
    path = feed_file(feed, school_file)
    if path is not None:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CalendarError(f"calendar.file: cannot read {path} ({exc.strerror})") from None
        return data
    url = str(feed.url)
    try:
        async with (
            httpx.AsyncClient(timeout=wait, follow_redirects=True) as client,
            client.stream("GET", url, headers={"Accept": "text/calendar"}) as response,
        ):
            if response.status_code != 200:
                raise CalendarError(f"calendar.url: {url} answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    break
            return bytes(body)
    except httpx.TimeoutException:
        raise CalendarError(f"calendar.url: {url} did not answer in {wait:g}s") from None
    except httpx.HTTPError as exc:
        raise CalendarError(f"calendar.url: cannot read {url} ({type(exc).__name__})") from None
