"""wamulti.fields.phone: client ids, phone numbers, recipient JIDs and message text."""

from __future__ import annotations

import pytest

from wamulti.errors import InvalidField
from wamulti.fields.client_fields import validate_client_id, validate_text
from wamulti.fields.phone import normalize_phone, normalize_recipient, phone_of_recipient, user_jid


@pytest.mark.parametrize("value", ["a", "A", "7", "work-phone", "a.b_c-d", "x" * 64, "0abc", "Z9._-"])
def test_valid_client_ids(value):
    assert validate_client_id(value) == value


@pytest.mark.parametrize("value, words", [
    (None, "required"),
    (5, "string"),
    (True, "string"),
    (["a"], "string"),
    ("", "empty"),
    ("x" * 65, "at most 64"),
    ("-abc", "start with"),
    ("_abc", "start with"),
    (".", "start with"),
    ("..", "start with"),
    ("a/b", "'/'"),
    ("a b", "' '"),
    ("a\nb", "'\n'"),
    ("abc\n", "'\n'"),  # no trailing-newline loophole
    ("wörk", "'ö'"),
    ("work-📱", "'📱'"),
    ("שלום", "'ש'"),
    ("e\u0301", "'\u0301'"),  # e + combining acute accent
    ("a\ud800", "'\\ud800'"),  # a lone surrogate is shown escaped
    ("１２３", "'１'"),  # fullwidth digits are not ASCII digits
])
def test_invalid_client_ids_name_the_field(value, words):
    with pytest.raises(InvalidField) as err:
        validate_client_id(value)
    assert "clientId" in err.value.message and words in err.value.message
    assert err.value.message.endswith(".")


@pytest.mark.parametrize("value, digits", [
    ("+49 151 2345678", "491512345678"),
    ("+49 (151) 2345-678", "491512345678"),
    ("1.415.555.0100", "14155550100"),
    ("  4915123456789 ", "4915123456789"),
    ("1234567", "1234567"),
    ("123456789012345", "123456789012345"),
])
def test_phone_numbers_are_normalised(value, digits):
    assert normalize_phone(value) == digits


@pytest.mark.parametrize("value, words", [
    (None, "required"),
    (4915123456789, "string"),
    ("", "7 to 15 digits"),
    ("+", "7 to 15 digits"),
    ("123456", "7 to 15 digits"),
    ("1234567890123456", "7 to 15 digits"),
    ("0151 2345678", "not 0"),
    ("0049 151 2345678", "not 0"),
    ("++49 151 2345678", "'+'"),
    ("49+151 2345678", "'+'"),
    ("49/151/2345678", "'/'"),
    ("49 151 CALL-ME", "'C'"),
    ("٤٩١٥١٢٣٤٥٦٧", "'٤'"),  # Arabic-Indic digits are not accepted
])
def test_invalid_phone_numbers(value, words):
    with pytest.raises(InvalidField) as err:
        normalize_phone(value, "phone")
    assert "'phone'" in err.value.message and words in err.value.message


def test_phone_error_names_the_given_field():
    with pytest.raises(InvalidField, match="'to'"):
        normalize_phone("12", "to")


@pytest.mark.parametrize("value, jid", [
    ("+1 (415) 555-0100", "+14155550100"),  # a phone number: WhatsApp is asked for its JID first
    ("14155550100@s.whatsapp.net", "14155550100@s.whatsapp.net"),
    ("14155550100@S.WhatsApp.Net", "14155550100@s.whatsapp.net"),
    ("120363012345678901@g.us", "120363012345678901@g.us"),
    ("491512345678-1600000000@g.us", "491512345678-1600000000@g.us"),
    ("123456789012345@lid", "123456789012345@lid"),  # a privacy id, as incoming events carry senders
    ("123456789012345@LID", "123456789012345@lid"),
])
def test_recipients(value, jid):
    assert normalize_recipient(value) == jid


@pytest.mark.parametrize("recipient, digits", [("+14155550100", "14155550100"),
                                               ("14155550100@s.whatsapp.net", None), ("120363012345678901@g.us", None),
                                               ("123456789012345@lid", None)])
def test_only_a_phone_number_recipient_is_resolved(recipient, digits):
    assert phone_of_recipient(recipient) == digits
    assert digits is None or user_jid(digits) == "14155550100@s.whatsapp.net"


@pytest.mark.parametrize("value", [
    None, 14155550100, "", "@s.whatsapp.net", "+14155550100@s.whatsapp.net", "1415 555 0100@s.whatsapp.net",
    "0415555010@s.whatsapp.net", "123@s.whatsapp.net", "14155550100:3@s.whatsapp.net",
    "14155550100@c.us", "14155550100@", "a@b@g.us", "@g.us", "abc@g.us", "0123456789@g.us", "123@g.us",
    "1203630123-@g.us", "1203630123--1@g.us", "status@broadcast", "14155550100@s.whatsapp.net@g.us",
    "@lid", "abc@lid", "0123456789@lid", "123@lid", "12345678901234567890123456@lid", "1234567:2@lid",
])
def test_invalid_recipients(value):
    with pytest.raises(InvalidField) as err:
        normalize_recipient(value)
    assert "'to'" in err.value.message


@pytest.mark.parametrize("value", ["hi", " padded ", "😀👍🏽", "مرحبا بالعالم", "e\u0301", "𝔘𝔫𝔦", "x" * 65536,
                                   "😀" * 65536, "line\nbreak"])
def test_text_is_returned_unchanged(value):
    assert validate_text(value) == value


@pytest.mark.parametrize("value, words", [
    (None, "required"),
    (12, "string"),
    ("", "empty"),
    (" \n\t ", "only whitespace"),
    ("x" * 65537, "65,536"),
    ("😀" * 65537, "65,536"),
    ("bad \udc80 half", "surrogate"),
])
def test_invalid_text(value, words):
    with pytest.raises(InvalidField) as err:
        validate_text(value)
    assert "'text'" in err.value.message and words in err.value.message
