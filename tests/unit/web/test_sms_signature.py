"""The SMS webhook's rules: the provider's signature (Twilio's documented example, checked by
hand), the reply code's reading, who a number belongs to, and the TwiML answer."""

from __future__ import annotations

from lookout.kernel.settings import Settings, load_schools
from services.web.sms_webhook import reply_code, sender, signature_ok, twilio_signature, twiml

# Twilio's "Validating requests" example (twilio.com/docs/usage/security): this URL, these
# parameters and the auth token 12345. Its signature, 0/KCTR6DLpKmkAf8muzZqo1nDgQ=, is what
# the docs print and what Twilio's own validators' tests expect; by hand:
# base64(HMAC-SHA1("12345", "https://mycompany.com/myapp.php?foo=1&bar=2"
#   "CallSid" "CA1234567890ABCDE" "Caller" "+12349013030" "Digits" "1234"
#   "From" "+12349013030" "To" "+18005551212")).
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    # In the order a form might post them: the signature sorts them by name.
    ("To", "+18005551212"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
]
DOCUMENTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilios_documented_example_signs_as_the_docs_say() -> None:
    assert twilio_signature("12345", URL, PARAMS) == DOCUMENTED
    assert signature_ok("12345", URL, PARAMS, DOCUMENTED)


def test_anything_changed_is_not_the_providers() -> None:
    changed = [(k, "9999" if k == "Digits" else v) for k, v in PARAMS]
    assert not signature_ok("12345", URL, changed, DOCUMENTED)
    assert not signature_ok("12345", URL + "&baz=3", PARAMS, DOCUMENTED)
    assert not signature_ok(
        "12345", "http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS, DOCUMENTED
    )
    assert not signature_ok("54321", URL, PARAMS, DOCUMENTED)
    assert not signature_ok("12345", URL, [*PARAMS, ("Body", "1a")], DOCUMENTED)
    assert not signature_ok("12345", URL, PARAMS, DOCUMENTED[:-1])
    assert not signature_ok("12345", URL, PARAMS, None)
    assert not signature_ok("12345", URL, PARAMS, "")


def test_without_an_auth_token_nothing_is_the_providers() -> None:
    # HMAC with an empty key is still a signature anyone can make: refused, not checked.
    assert not signature_ok("", URL, PARAMS, twilio_signature("", URL, PARAMS))


def test_reply_codes_are_read_loosely_and_anything_else_is_none() -> None:
    assert [reply_code(b) for b in ("1a", " 1A ", "1 a", "12e\n", "03c", "999a")] == [
        "1a",
        "1a",
        "1a",
        "12e",
        "3c",
        "999a",
    ]
    for body in ("", "a", "1", "1b", "1000a", "ack", "1a please", "1a1a", "yes", "-1a", "\u0661a"):
        assert reply_code(body) is None, body


def test_a_number_is_the_one_person_whose_phone_it_is() -> None:
    schools = load_schools(Settings()).values()
    found = sender(schools, "+15555550103")
    assert found is not None
    assert (found[0].id, found[1].id) == ("lhs", "principal-okafor")
    assert sender(schools, " +15555550105 ") is not None
    assert sender(schools, "+15555550199") is None  # no one's
    assert sender(schools, "") is None


def test_a_number_two_people_share_is_no_ones() -> None:
    lhs = next(iter(load_schools(Settings()).values()))
    twin = lhs.model_copy(update={"id": "mhs"})  # the same people (and phones) elsewhere
    assert sender([lhs, twin], "+15555550103") is None


def test_the_answer_is_twiml_with_the_text_escaped() -> None:
    answer = twiml("Alert 1 acknowledged <by> you & co")
    assert answer.media_type == "application/xml"
    assert answer.body == (
        b'<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        b"Alert 1 acknowledged &lt;by&gt; you &amp; co</Message></Response>"
    )
