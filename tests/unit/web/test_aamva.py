"""The front desk's reading of a driver's licence or state ID barcode (services/web/aamva.py),
with hand-written AAMVA texts as a USB scanner types them: the header `@ LF RS CR ANSI …`, a DL
or ID subfile, the elements one a line. Only names, date of birth, the last 4 of the ID number
and the expiry come out."""

from __future__ import annotations

from datetime import date

import pytest

from lookout.contracts.visitors import IdType
from services.web.aamva import Licence, NotALicence, name_case, parse

# A version 09 Indiana-style licence: DL subfile starts on the header's line, a ZC subfile after.
LICENCE = (
    "@\n\x1e\rANSI 636014090002DL00410278ZC03190008DL"
    "DAQD123-456-7821\nDCSO'BRIEN-SMITH\nDDEN\nDACMARÍA\nDDFN\nDADJOSEFA\nDDGN\n"
    "DCAD\nDCBNONE\nDCDNONE\nDBD08242015\nDBB03141979\nDBA01312035\nDBC2\nDAYBRO\n"
    "DAG789 E OAK ST\nDAIANYTOWN\nDAJIN\nDAK462040000  \nDCFFFFFFF\nDCGUSA\r"
    "ZCZCAY\nZCBCORR LENS\r"
)
# A state ID card (subfile ID), expired, its header and subfile on separate lines as some
# scanners type them, CR LF line ends.
STATE_ID = (
    "@\r\n\x1e\r\nANSI 636020100001ID00310120\r\n"
    "IDDAQ99887766\r\nDCSLEE\r\nDACSAM\r\nDBB11021985\r\nDBA06302024\r\nDCGUSA\r\n"
)
# Canadian cards write dates year first.
CANADIAN = (
    "@\n\x1e\rANSI 636012080001DL00310099DL"
    "DAQA1234-56789-01234\nDCSTREMBLAY\nDACJULIE\nDBB19900721\nDBA20300721\nDCGCAN\r"
)
# Version 01: the whole name in DAA, dates year first, no jurisdiction version.
VERSION_01 = (
    "@\n\x1e\rANSI 6360000101DL00290100DLDAQ00012345\nDAATHACKERAY,WILLIAM,J\nDBB19720130\r"
)


def test_a_licence_gives_names_birth_date_last_4_and_expiry() -> None:
    assert parse(LICENCE) == Licence(
        first_name="María",
        last_name="O'Brien-Smith",
        date_of_birth=date(1979, 3, 14),
        id_type=IdType.DRIVERS_LICENSE,
        id_last4="7821",
        expires=date(2035, 1, 31),
    )


def test_a_state_id_card_and_its_expiry() -> None:
    card = parse(STATE_ID)
    assert card == Licence("Sam", "Lee", date(1985, 11, 2), IdType.STATE_ID, "7766",
                           date(2024, 6, 30))  # fmt: skip
    assert card.expired(date(2024, 6, 30)) is False  # valid through its expiry date
    assert card.expired(date(2024, 7, 1)) is True
    assert parse(LICENCE).expired(date(2026, 11, 23)) is False


def test_canadian_and_version_01_cards_write_the_year_first() -> None:
    dl = IdType.DRIVERS_LICENSE
    assert parse(CANADIAN) == Licence("Julie", "Tremblay", date(1990, 7, 21), dl, "1234",
                                      date(2030, 7, 21))  # fmt: skip
    assert parse(VERSION_01) == Licence("William", "Thackeray", date(1972, 1, 30), dl, "2345",
                                        None)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "barcode: no AAMVA header"),
        ("JOHN SMITH 1234", "barcode: no AAMVA header"),
        ("@\n\x1e\rANSI 636014090001ZC00310020ZCZCAY\r", "barcode: no DL or ID subfile"),
        (LICENCE.replace("DCSO'BRIEN-SMITH\n", ""), "DCS: no family name"),
        (LICENCE.replace("DACMARÍA\n", ""), "DAC: no given name"),
        (LICENCE.replace("DBB03141979\n", ""), "DBB: no date of birth"),
        (LICENCE.replace("DBB03141979", "DBB13141979"), "DBB: not a date"),
        (LICENCE.replace("DBB03141979", "DBB3141979"), "DBB: not an 8-digit date"),
        (
            LICENCE.replace("DAQD123-456-7821", "DAQ1-2"),
            "DAQ: no ID number of 4 characters or more",
        ),
        (LICENCE.replace("DBA01312035", "DBA02302035"), "DBA: not a date"),
    ],
)
def test_what_is_not_a_card_says_which_field(text: str, reason: str) -> None:
    with pytest.raises(NotALicence) as refused:
        parse(text)
    assert str(refused.value) == reason
    assert "1979" not in reason and "7821" not in reason


def test_names_in_capitals_are_written_as_names() -> None:
    assert name_case("O'BRIEN-SMITH") == "O'Brien-Smith"
    assert name_case("  VAN DER MEER ") == "Van Der Meer"
    assert name_case("ÉLODIE") == "Élodie"
