"""A school's checkpoint codes on paper (`lookout patrol tags`): every checkpoint's URL
(`<base>/t/<school>/<tag>`, also what its NFC tag holds) as a QR code made with segno, with the
tag and the zone's name under it, twelve to a page at 300 dpi on A4 or Letter, as a PDF (one
page each) or PNG pages, drawn with Pillow.

Codes are printed at least 3 cm wide (about 4 cm on A4) with their 4-module quiet zone, so a
phone camera reads them from arm's length; the page's caption is at the bottom, below the codes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import segno
from PIL import Image, ImageDraw, ImageFont

from lookout.school.config import SchoolConfig

DPI = 300
PAPERS = {"a4": (2480, 3508), "letter": (2550, 3300)}  # 210 x 297 mm, 8.5 x 11 in at 300 dpi
COLUMNS, ROWS = 3, 4
PER_PAGE = COLUMNS * ROWS
QUIET = 4  # modules of white around a code, as the QR standard asks
MIN_CODE_MM = 30.0
MIN_MODULE_MM = 0.5  # a phone camera at arm's length resolves modules this size
ERROR_LEVEL = "m"  # 15 % of a code may be smudged or torn and it still reads


def mm(length: float) -> int:
    return round(length / 25.4 * DPI)


MARGIN = mm(15)
CAPTION = mm(14)  # the band under the grid: school, page, what the codes do
TAG_SIZE, ZONE_SIZE = 56, 40  # px at 300 dpi: about 4.7 mm and 3.4 mm high
TEXT_GAP = 10
TEXT_BLOCK = TAG_SIZE + TEXT_GAP + ZONE_SIZE + TEXT_GAP


@dataclass(frozen=True)
class Checkpoint:
    zone_id: str
    zone_name: str
    tag: str
    url: str


def checkpoint_url(base_url: str, school_id: str, tag: str) -> str:
    """The one URL of a checkpoint: its NFC tag holds it, its QR code encodes it."""
    return f"{base_url.rstrip('/')}/t/{quote(school_id, safe='')}/{quote(tag, safe='')}"


def checkpoints(school: SchoolConfig, base_url: str) -> list[Checkpoint]:
    """The school's checkpoints in the school file's order (zone by zone)."""
    return [
        Checkpoint(zone.id, zone.name, tag, checkpoint_url(base_url, school.id, tag))
        for zone in school.zones
        for tag in zone.checkpoints
    ]


def qr_code(url: str) -> segno.QRCode:
    return segno.make(url, error=ERROR_LEVEL, micro=False)


class SheetError(ValueError):
    """The codes cannot be printed as asked (a base URL too long for 3 cm codes)."""


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: object, width: int) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:  # type: ignore[arg-type]
        return text
    while text and draw.textlength(text + "…", font=font) > width:  # type: ignore[arg-type]
        text = text[:-1]
    return text + "…"


def render_pages(
    school: SchoolConfig, items: Sequence[Checkpoint], paper: str = "a4"
) -> list[Image.Image]:
    """The sheet's pages as black-and-white images (mode "1"), PER_PAGE codes a page."""
    width, height = PAPERS[paper]
    cell_w = (width - 2 * MARGIN) // COLUMNS
    cell_h = (height - 2 * MARGIN - CAPTION) // ROWS
    try:
        codes = [qr_code(item.url) for item in items]
    except segno.DataOverflowError:
        raise SheetError("the URLs are too long for a QR code; use a shorter base URL") from None
    modules = max((len(code.matrix) for code in codes), default=21)
    # One module size for every code of the sheet: the largest that fits a cell with its quiet
    # zone and the text under it.
    module = min(cell_w // (modules + 2 * QUIET), (cell_h - TEXT_BLOCK) // (modules + 2 * QUIET))
    if module * modules < mm(MIN_CODE_MM) or module < mm(MIN_MODULE_MM):
        raise SheetError(
            f"the URLs are too long to print their codes {MIN_CODE_MM / 10:g} cm wide with "
            f"modules a phone reads from arm's length ({modules} modules); use a shorter base URL"
        )
    tag_font, zone_font, caption_font = _font(TAG_SIZE), _font(ZONE_SIZE), _font(36)
    total = max(1, math.ceil(len(items) / PER_PAGE))
    pages = []
    for number in range(total):
        page = Image.new("1", (width, height), 1)
        draw = ImageDraw.Draw(page)
        chunk = range(number * PER_PAGE, min(len(items), (number + 1) * PER_PAGE))
        for slot, index in enumerate(chunk):
            item, code = items[index], codes[index]
            left = MARGIN + (slot % COLUMNS) * cell_w
            top = MARGIN + (slot // COLUMNS) * cell_h
            side = len(code.matrix) * module
            x0 = left + (cell_w - side) // 2
            y0 = top + QUIET * module + (modules - len(code.matrix)) * module // 2
            for row, bits in enumerate(code.matrix):
                for col, dark in enumerate(bits):
                    if dark:
                        x, y = x0 + col * module, y0 + row * module
                        draw.rectangle((x, y, x + module - 1, y + module - 1), fill=0)
            text_top = top + (modules + 2 * QUIET) * module
            centre = left + cell_w // 2
            room = cell_w - 2 * TEXT_GAP
            draw.text((centre, text_top), item.tag, font=tag_font, fill=0, anchor="mt")
            zone = _fit(draw, item.zone_name, zone_font, room)
            draw.text(
                (centre, text_top + TAG_SIZE + TEXT_GAP), zone, font=zone_font, fill=0, anchor="mt"
            )
        caption = (
            f"{school.name} · checkpoint codes · page {number + 1} of {total} · "
            "scan with a phone signed in to Lookout: the check is recorded at once"
        )
        draw.text(
            (MARGIN, height - MARGIN - CAPTION // 2),
            _fit(draw, caption, caption_font, width - 2 * MARGIN),
            font=caption_font,
            fill=0,
            anchor="lm",
        )
        pages.append(page)
    return pages


def png_paths(path: Path, pages: int) -> list[Path]:
    """Where PNG pages go: `path` itself for one page, else `<stem>-1.png`, `<stem>-2.png`…"""
    if pages == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(1, pages + 1)]


def write_sheet(pages: Sequence[Image.Image], path: Path) -> list[Path]:
    """Write the pages as one PDF or as PNG files (by `path`'s extension); the files written.
    Raises OSError when a file cannot be written."""
    if path.suffix.lower() == ".pdf":
        first, *rest = pages
        first.save(path, "PDF", resolution=DPI, save_all=True, append_images=rest)
        return [path]
    written = png_paths(path, len(pages))
    for page, where in zip(pages, written, strict=True):
        page.save(where, "PNG", dpi=(DPI, DPI))
    return written
