"""`lookout patrol tags`: every checkpoint's URL, one line each, and the printable sheet of their
QR codes (a PDF of A4 pages or Letter PNGs), checked without a QR decoder: the first code's
modules, read off the page's pixels, are the modules segno makes for that URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import segno
from PIL import Image
from typer.testing import CliRunner, Result

from lookout.cli.main import app
from lookout.cli.tag_sheet import checkpoints, render_pages, write_sheet
from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school

runner = CliRunner()
BASE = "https://lookout.lakeside.example.org"

# The example school's checkpoints, zone by zone as its file lists them.
LINES = """\
bath-1n-boys       T-1NB    https://lookout.lakeside.example.org/t/lhs/T-1NB
bath-1n-girls      T-1NG    https://lookout.lakeside.example.org/t/lhs/T-1NG
bath-1s-allgender  T-1SA    https://lookout.lakeside.example.org/t/lhs/T-1SA
bath-2s-boys       T-2SB    https://lookout.lakeside.example.org/t/lhs/T-2SB
bath-2s-girls      T-2SG    https://lookout.lakeside.example.org/t/lhs/T-2SG
bath-gym-boys      T-GYB    https://lookout.lakeside.example.org/t/lhs/T-GYB
bath-gym-girls     T-GYG    https://lookout.lakeside.example.org/t/lhs/T-GYG
hall-1-north       T-H1N-A  https://lookout.lakeside.example.org/t/lhs/T-H1N-A
hall-1-north       T-H1N-B  https://lookout.lakeside.example.org/t/lhs/T-H1N-B
hall-1-south       T-H1S-A  https://lookout.lakeside.example.org/t/lhs/T-H1S-A
hall-1-south       T-H1S-B  https://lookout.lakeside.example.org/t/lhs/T-H1S-B
hall-2-north       T-H2N-A  https://lookout.lakeside.example.org/t/lhs/T-H2N-A
hall-2-north       T-H2N-B  https://lookout.lakeside.example.org/t/lhs/T-H2N-B
hall-2-south       T-H2S-A  https://lookout.lakeside.example.org/t/lhs/T-H2S-A
hall-2-south       T-H2S-B  https://lookout.lakeside.example.org/t/lhs/T-H2S-B
stair-east         T-STE-1  https://lookout.lakeside.example.org/t/lhs/T-STE-1
stair-east         T-STE-2  https://lookout.lakeside.example.org/t/lhs/T-STE-2
stair-west         T-STW-1  https://lookout.lakeside.example.org/t/lhs/T-STW-1
stair-west         T-STW-2  https://lookout.lakeside.example.org/t/lhs/T-STW-2
cafeteria          T-CAF-N  https://lookout.lakeside.example.org/t/lhs/T-CAF-N
cafeteria          T-CAF-S  https://lookout.lakeside.example.org/t/lhs/T-CAF-S
courtyard          T-CRT    https://lookout.lakeside.example.org/t/lhs/T-CRT
library            T-LIB    https://lookout.lakeside.example.org/t/lhs/T-LIB
gym                T-GYM    https://lookout.lakeside.example.org/t/lhs/T-GYM
main-office        T-OFC    https://lookout.lakeside.example.org/t/lhs/T-OFC
entrance-main      T-ENT-M  https://lookout.lakeside.example.org/t/lhs/T-ENT-M
entrance-east      T-ENT-E  https://lookout.lakeside.example.org/t/lhs/T-ENT-E
entrance-gym       T-ENT-G  https://lookout.lakeside.example.org/t/lhs/T-ENT-G
parking-student    T-PKS-1  https://lookout.lakeside.example.org/t/lhs/T-PKS-1
parking-student    T-PKS-2  https://lookout.lakeside.example.org/t/lhs/T-PKS-2
parking-staff      T-PKF    https://lookout.lakeside.example.org/t/lhs/T-PKF
"""
A4 = (2480, 3508)  # 210 x 297 mm at 300 dpi
LETTER = (2550, 3300)  # 8.5 x 11 in at 300 dpi
THREE_CM = 354  # px at 300 dpi


def tags(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, ["patrol", "tags", "--school", "lhs", *args], env=env)


def test_a_line_per_checkpoint_and_a_pdf_of_three_a4_pages(tmp_path: Path) -> None:
    out = tmp_path / "tags.pdf"
    result = tags("--base-url", BASE + "/", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == LINES
    assert result.stderr == f"sheet: {out} (3 page(s), A4, 31 codes)\n"
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    # 31 codes at 12 a page: 3 pages, each 210 x 297 mm (595.2 x 841.92 pt).
    assert b"/Type /Pages\n/Count 3\n" in pdf
    assert len(re.findall(rb"/Type /Page\n", pdf)) == 3
    assert len(re.findall(rb"/MediaBox \[ 0 0 595\.2 841\.92 \]", pdf)) == 3


def test_the_base_url_comes_from_lookout_web_base_url(tmp_path: Path) -> None:
    out = tmp_path / "tags.pdf"
    result = tags("--out", str(out), env={"LOOKOUT_WEB_BASE_URL": BASE})
    assert result.exit_code == 0, result.output
    assert result.stdout == LINES


def test_letter_png_pages_whose_first_code_is_the_first_checkpoints_url(tmp_path: Path) -> None:
    result = tags("--base-url", BASE, "--out", str(tmp_path / "sheet.png"), "--paper", "letter")
    assert result.exit_code == 0, result.output
    pages = [tmp_path / f"sheet-{n}.png" for n in (1, 2, 3)]
    assert sorted(tmp_path.iterdir()) == pages
    for path in pages:
        with Image.open(path) as page:
            assert page.size == LETTER
            assert page.mode == "1"

    with Image.open(pages[0]) as page:
        pixels = page.load()
        width, height = page.size
        # The first code is the top-left one: the first dark pixel of the page's left third,
        # row by row, is the corner of its top-left finder pattern (7 modules wide).
        x0, y0 = next((x, y) for y in range(height) for x in range(width // 3) if pixels[x, y] == 0)
        run = next(n for n in range(x0, width) if pixels[n, y0] != 0) - x0
        assert run % 7 == 0
        module = run // 7
        expected = segno.make(f"{BASE}/t/lhs/T-1NB", error="m", micro=False).matrix
        size = len(expected)
        assert size * module >= THREE_CM  # at least 3 cm wide
        seen = [
            [pixels[x0 + col * module + module // 2, y0 + row * module + module // 2] == 0
             for col in range(size)]
            for row in range(size)
        ]  # fmt: skip
        assert seen == [[bool(bit) for bit in row] for row in expected]
        # Its quiet zone (4 modules all round) is white.
        quiet = 4 * module
        box = (x0 - quiet, y0 - quiet, x0 + (size * module) + quiet, y0 + size * module + quiet)
        ring = [
            pixels[x, y]
            for y in range(box[1], box[3])
            for x in range(box[0], box[2])
            if not (x0 <= x < x0 + size * module and y0 <= y < y0 + size * module)
        ]
        assert set(ring) == {255}


def test_one_page_of_png_keeps_the_name_given(tmp_path: Path) -> None:
    school = load_school(EXAMPLE_SCHOOL)
    items = checkpoints(school, BASE)[:12]  # a page's worth
    pages = render_pages(school, items, "a4")
    assert len(pages) == 1
    assert write_sheet(pages, tmp_path / "one.png") == [tmp_path / "one.png"]
    assert sorted(tmp_path.iterdir()) == [tmp_path / "one.png"]
    with Image.open(tmp_path / "one.png") as page:
        assert page.size == A4


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--school", "nope"], 2, "school: 'nope' is not a configured school (lhs)"),
        (["--out", "tags.svg"], 2, "out: not a .pdf or .png file"),
        (["--out", "/no/such/dir/tags.pdf"], 1,
         "out: cannot write /no/such/dir/tags.pdf (No such file or directory)"),
        (["--base-url", "ftp://lookout.test"], 2,
         "base-url: not an http(s) URL like https://lookout.example.org"),
        (["--base-url", "https://lookout.test/?x=1"], 2,
         "base-url: not an http(s) URL like https://lookout.example.org"),
        (["--base-url", "https://" + "x" * 700 + ".test"], 2,
         "base-url: the URLs are too long to print their codes 3 cm wide with modules a phone "
         "reads from arm's length"),
        (["--base-url", "https://" + "x" * 3000 + ".test"], 2,
         "base-url: the URLs are too long for a QR code; use a shorter base URL"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line_naming_the_option(
    args: list[str], code: int, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["patrol", "tags", *args])
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lookout: error: {message}"), result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []
