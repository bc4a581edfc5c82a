"""dashboard/forms.py: what browsers send is either a clean value or an InvalidInput with a usable message."""

import pytest
from werkzeug.datastructures import MultiDict

from dashboard import forms
from dashboard.forms import InvalidInput


@pytest.mark.parametrize(
    ("text", "port"),
    [("1", 1), ("65535", 65535), (" 8000 ", 8000), ("8000", 8000), ("\t8080\n", 8080), ("08000", 8000)],
)
def test_host_port_accepts_whole_numbers_from_1_to_65535(text, port):
    assert forms.host_port(text) == port


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "65536",
        "99999",
        "-1",
        "+80",
        "abc",
        "8000.5",
        "8e3",
        "0x1f40",
        "80 00",
        "１２３",  # fullwidth digits: str.isdigit() says yes, int() would take them
        "٨٠٠٠",  # Arabic-Indic digits
        "²",  # superscript two: isdigit() but not a number int() takes
    ],
)
def test_host_port_refuses_what_is_not_a_port(text):
    with pytest.raises(InvalidInput, match="1 to 65535"):
        forms.host_port(text)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_host_port_refuses_a_missing_port_and_asks_for_one(text):
    with pytest.raises(InvalidInput, match="Give a host port"):
        forms.host_port(text)


def test_host_port_refuses_a_5000_digit_number_without_value_error():
    # int() on more than 4300 digits raises ValueError (CPython's limit): it must be an InvalidInput instead.
    text = "9" * 5000

    with pytest.raises(InvalidInput) as refused:
        forms.host_port(text)

    assert not isinstance(refused.value, ValueError)
    assert len(str(refused.value)) < 200  # the message quotes a prefix, not the whole input


def test_invalid_input_is_a_400():
    assert InvalidInput.status == 400


@pytest.mark.parametrize("value", ["0123456789ab", "a" * 64, "4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8"])
def test_container_id_accepts_12_to_64_lowercase_hex(value):
    assert forms.container_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "0123456789a",  # 11 characters
        "0123456789AB",  # uppercase
        "0123456789ag",  # not hex
        "a" * 65,
        "",
        None,
        "0123456789ab\n",
        "../0123456789ab",
        "eager_wu_cowserv",  # a name, not an id
    ],
)
def test_container_id_refuses_what_is_not_an_id(value):
    with pytest.raises(InvalidInput, match="12 to 64 hex digits"):
        forms.container_id(value)


def test_only_fields_accepts_known_fields_and_none():
    forms.only_fields(MultiDict({"host_port": "8000"}), {"host_port"})
    forms.only_fields(MultiDict(), {"host_port"})


def test_only_fields_refuses_unknown_fields_naming_them():
    form = MultiDict([("host_port", "8000"), ("hostport", "8001"), ("image", "alpine")])

    with pytest.raises(InvalidInput) as refused:
        forms.only_fields(form, {"host_port"})

    assert str(refused.value) == "Unknown field(s): hostport, image."
