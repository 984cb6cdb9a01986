"""Phone normalisation: one E.164-digits key per subscriber, whatever way it was written."""

from __future__ import annotations

import pytest

from outperform_mcp.phones import PhoneError, digits, key, normalise, same


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+60 12-555 0177", "MY", "60125550177"),
        ("0060125550177", "MY", "60125550177"),
        ("60125550177", "MY", "60125550177"),
        ("012-555 0177", "MY", "60125550177"),  # never stored without its country code
        ("(012) 555.0177", "MY", "60125550177"),
        ("125550177", "MY", "60125550177"),  # national without the trunk 0
        ("+65 9123 4567", "MY", "6591234567"),  # a foreign number keeps its own country code
        ("6591234567", "MY", "6591234567"),
        ("9123 4567", "SG", "6591234567"),
        ("60129928376", "SG", "60129928376"),  # international digits do not depend on the default
    ],
)
def test_normalise(raw: str, country: str, expected: str) -> None:
    assert normalise(raw, country) == expected


@pytest.mark.parametrize("raw", ["", "+", "call me", "12ab34", "+60 12-555 0177 ext", "٠١٢٥٥٥٠١٧٧", "123"])
def test_not_a_number_is_refused_with_a_way_out(raw: str) -> None:
    with pytest.raises(PhoneError, match=r"digits|country code"):
        normalise(raw, "MY")


def test_key_keeps_an_unparseable_number_as_digits() -> None:
    assert key("+60125550177", "MY") == "60125550177"
    assert key("999", "MY") == "999"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+60 12-555 0177", "60125550177"),
        ("(999) x12", "99912"),
        ("\u0661\u0662\u0663 45", "45"),  # Arabic-Indic digits are not ASCII digits
        ("", ""),
    ],
)
def test_digits_is_the_one_digits_only_form_for_the_send_check_and_the_key_fallback(raw: str, expected: str) -> None:
    """One rule for "digits only": the send-time phone check (guard) and an unparseable key agree."""
    assert digits(raw) == expected
    if expected and not expected.startswith("6"):  # not a number phonenumbers reads
        assert key(raw, "MY") == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("60125550177", "+60 12-555 0177", True),
        ("0125550177", "60125550177", True),
        ("0060125550177", "60125550177", True),
        ("60125550177", "60125550178", False),
        ("", "", False),
    ],
)
def test_same(a: str, b: str, expected: bool) -> None:
    assert same(a, b, "MY") is expected
