"""dashboard/web/forms.py: what browsers send is either a clean value or an InvalidInput, which a request gets as a 400
with its message."""

import html

import pytest
from werkzeug.datastructures import MultiDict

from tests.support import HTMX, container_ids
from dashboard.domain.commands import lesson_filter
from dashboard.web import forms
from dashboard.web.forms import InvalidInput


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


@pytest.mark.parametrize("port", ["0", "65536", "-1", "eighty", "9" * 5000])
def test_a_port_out_of_range_is_a_400_with_the_message_and_starts_nothing(client, app, docker_client, port):
    # 5000 digits: int() would refuse more than 4300 with a ValueError, a 500; the message quotes 20 of them.
    lesson = app.extensions["catalog"].default.id  # POST /containers starts the default lesson's cow
    before = container_ids(docker_client, label=lesson_filter(lesson))
    for headers in (HTMX, {}):  # the message in place (htmx), or on a page of its own
        response = client.post("/containers", data={"host_port": port}, headers=headers)
        assert response.status_code == 400
        assert f"The host port must be a number from 1 to 65535, not {port[:20]!r}." in html.unescape(response.text)
    assert container_ids(docker_client, label=lesson_filter(lesson)) == before


def test_a_room_with_a_bad_seat_count_is_a_400_with_the_message(client, app):
    response = client.post("/room", data={"count": "\xb2", "first_port": "20001"}, headers=HTMX)
    assert response.status_code == 400
    assert ("The number of seats on cards must be a whole number from 0 to 300, not '\xb2'."
            in html.unescape(response.text))
    assert app.extensions["roster"].room is None


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("41", 41), ("123456789", 123456789)])
def test_last_event_id_takes_plain_numbers(text, number):
    assert forms.last_event_id(text) == number


@pytest.mark.parametrize("text", [None, "", "\xb2", "1\xb9", "\u0661", "-1", "+1", " 1", "1.0", "1234567890"])
def test_last_event_id_is_none_for_anything_else(text):
    assert forms.last_event_id(text) is None


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


def test_a_rooms_seat_counts_are_whole_numbers_within_the_maximum():
    """room_seats (cards and join seats) takes whole numbers, and refuses others naming which count."""
    assert forms.room_seats(" 30 ", None, 300) == (30, 0)
    assert forms.room_seats("0", "3", 300) == (0, 3)
    for text in ("301", "²", "-1", "3.0", ""):
        with pytest.raises(InvalidInput, match="seats on cards must be a whole number from 0 to 300"):
            forms.room_seats(text, "1", 300)
    for cards, joins, message in (("²", "1", "seats on cards must be a whole number from 0 to 300"),
                                  ("1", "many", "seats by the join code must be a whole number from 0 to 300"),
                                  ("0", "0", "at least one seat"), ("200", "200", "together is 400")):
        with pytest.raises(InvalidInput, match=message):
            forms.room_seats(cards, joins, 300)
