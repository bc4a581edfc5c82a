"""A seat belongs to one student (issue 18): the join code never hands out a card's seat, a seat's link opened
in a second browser moves the seat there and tells the first, a classmate's link asks before switching (a GET
never changes who holds what), and wrong guesses of links, join codes and the instructor token are limited per
address (429 with Retry-After), while a class behind one address opening its right links never meets the limit.

Each test is a Flask test client per browser, on the real engine (the room fixture); rooms here open on ports
8951-8999 (test_room uses 86xx, test_seat_scope 88xx, e2e/test_room 87xx).
"""

import html
import re

import pytest

from tests.support import csrf_of, form_csrf
from tests.support.room import (
    ROOM_NETWORK,
    room,  # noqa: F401  (a fixture)
    sheet_links,
    signed_out,
    student,
    text_of,
)
from tests.test_room import join_path, joins
from dashboard import create_app

pytestmark = pytest.mark.engine

MOVED = "moved to another browser"


def seat_of(browser):
    """The seat the browser (a client, or a Student's) shows on /seat, or None with its refusal's text."""
    page = getattr(browser, "client", browser).get("/seat")
    if page.status_code != 200:
        return None, text_of(page)
    return re.search(r'data-seat="([^"]+)"', page.text)[1], page.text


def asks(browser, path):
    """Opening `path` (a seat's link) answers the question page, not a switch: its text and its form's CSRF."""
    page = browser.get(path)
    assert page.status_code == 200, (page.status_code, text_of(page))
    assert f'action="{path}"' in html.unescape(page.text), page.text
    return text_of(page), form_csrf(page.text)


def move(browser, path):
    """Answer the question page's button: the browser holds the link's seat."""
    _, csrf = asks(browser, path)
    answer = browser.post(path, data={"csrf_token": csrf})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/seat"), text_of(answer)


def sign_ins(room):
    return {name: seat.sign_ins for name, seat in room.roster.room.seats.items()}


# 1. Card seats and join seats never overlap.

def test_the_join_code_hands_out_join_seats_only_never_a_cards(room):
    """A room of two card seats and one join seat: the sheet shows the two cards only; the join code hands out
    the join seat, then refuses, though no card was opened yet; each card's link still opens its own seat."""
    opened = room.open(count=2, join_count=1, first_port=8951)
    card_a, card_b, join_seat = opened.seats
    links = sheet_links(room.instructor)
    assert list(links) == [card_a, card_b]
    code = join_path(room.instructor)

    _, seat, _ = joins(room.app, code)
    assert seat == join_seat
    for _ in range(3):  # fresh cookie jars, each a stranger on the room's network
        _, seat, refused = joins(room.app, code)
        assert seat is None and refused.status_code == 403 and "every seat" in text_of(refused)
    assert [student(room.app, links[name]).seat for name in (card_a, card_b)] == [card_a, card_b]


def test_a_room_of_join_seats_only_prints_no_cards(room):
    """count=0 card seats and three join seats is a room; no seats at all, or too many, is a 400."""
    opened = room.open(count=0, join_count=3, first_port=8955)
    assert [seat.kind for seat in opened.seats.values()] == ["join"] * 3
    assert "no card seats" in text_of(room.instructor.get("/room/sheet")).lower()
    for form, message in (({"count": "0", "join_count": "0"}, "at least one seat"),
                          ({"count": "1", "join_count": "-1"}, "seats by the join code"),
                          ({"count": "1", "join_count": "many"}, "seats by the join code"),
                          ({"count": "200", "join_count": "200"}, "number of seats")):
        answer = room.instructor.post("/room", data={"first_port": "8955", "minutes": "60", "memory": "256m",
                                                     "cpus": "0.5", "pids": "100", **form},
                                      headers={"HX-Request": "true"})
        assert answer.status_code == 400 and message in text_of(answer), (form, text_of(answer))
    assert room.roster.room is opened


# 1. One holder per seat: a second browser moves the seat, and the first is told.

def test_a_card_opened_in_a_second_browser_moves_the_seat_and_the_first_is_told(room):
    room.open(count=1, first_port=8960)
    (name, link), = sheet_links(room.instructor).items()
    phone = student(room.app, link)  # a seat nobody held: one step, as a scanned QR code
    laptop = signed_out(room.app)
    text, _ = asks(laptop, link)  # held elsewhere: asks first; the GET changes nothing
    assert "open in another browser" in text and name in text
    assert seat_of(phone)[0] == name and sign_ins(room) == {name: 1}

    move(laptop, link)
    assert seat_of(laptop)[0] == name
    seat, refusal = seat_of(phone)
    assert seat is None and MOVED in refusal  # at once, and saying why: not a generic refusal
    poll = phone.client.get("/seat/board", headers={"HX-Request": "true"})
    assert poll.headers.get("HX-Refresh") == "true"  # the open page reloads into that message
    press = phone.press("running", "hello")
    assert press.status_code == 403 and MOVED in text_of(press)

    move(phone.client, link)  # the card's student takes it back the same way
    assert seat_of(phone.client)[0] == name and MOVED in seat_of(laptop)[1]


def test_the_seat_page_shows_its_own_link_as_a_qr_code_and_the_instructors_copy_does_not(room):
    """A join seat's page shows its link (text and QR code) on DASHBOARD_ROOM_URL, as the sheet's cards do, which
    moves the seat to another device; the instructor's read-only copy shows no link, and opening it does not move
    the seat."""
    room.app.config["ROOM_URL"] = "http://room.example:5000/"
    room.open(count=0, join_count=1, first_port=8962)
    phone, name, _ = joins(room.app, join_path(room.instructor))
    page = phone.get("/seat").text
    own = re.search(r'data-own-link="([^"]+)"', page)
    assert own and name and "QR code for this seat's link" in page and "<svg" in page, page[:3000]
    assert html.unescape(own[1]).startswith("http://room.example:5000/s/"), own[1]  # not the request's host
    link = re.sub(r"^https?://[^/]+", "", html.unescape(own[1]))
    token = link.removeprefix("/s/")
    assert token == room.roster.room.seats[name].token

    watched = room.instructor.get(f"/room/seats/{name}")
    assert watched.status_code == 200 and token not in watched.text
    assert seat_of(phone)[0] == name  # the instructor is not a holder

    laptop = signed_out(room.app)
    move(laptop, link)
    assert seat_of(laptop)[0] == name and MOVED in seat_of(phone)[1]



def test_a_join_seat_given_a_new_link_gets_a_card_on_the_sheet(room):
    """New link on a join seat (its link stolen, say): its new link is on the sheet, for the instructor to print
    and hand over (the join code does not hand the seat out again); the card opens it in one step, and the old
    browser is told its link stopped."""
    room.open(count=1, join_count=1, first_port=8963)
    (card,) = sheet_links(room.instructor)
    phone, name, _ = joins(room.app, join_path(room.instructor))
    revoked = room.instructor.post(f"/room/seats/{name}/revoke", headers={"HX-Request": "true"})
    assert "on the sheet" in text_of(revoked), text_of(revoked)
    links = sheet_links(room.instructor)
    assert list(links) == [card, name] and links[name] == f"/s/{room.roster.room.seats[name].token}"
    laptop = student(room.app, links[name])  # nobody holds it: one step, as a scanned card
    assert laptop.seat == name and seat_of(laptop)[0] == name
    seat, refusal = seat_of(phone)
    assert seat is None and "no longer works" in refusal
    assert joins(room.app, join_path(room.instructor))[1] is None  # never handed out by the join code again


# 2. A classmate's link asks before switching, and the old seat stays reachable.

def test_a_classmates_link_asks_before_switching_and_a_get_never_switches(room):
    room.open(count=2, first_port=8965)
    (mine, my_link), (theirs, their_link) = sheet_links(room.instructor).items()
    me, them = student(room.app, my_link), student(room.app, their_link)
    before = sign_ins(room)
    for _ in range(3):  # a link preview, a prefetch, a reload: nothing changes
        text, _ = asks(me.client, their_link)
        assert f"You are on {mine}" in text and f"Switch to {theirs}" in text, text
        assert 'href="/seat"' in me.client.get(their_link).text  # the way back to the seat it holds
    assert sign_ins(room) == before and seat_of(me)[0] == mine and seat_of(them)[0] == theirs
    refused = me.client.post(their_link, data={})  # no CSRF token: a page elsewhere cannot post it
    assert refused.status_code == 403 and sign_ins(room) == before

    move(me.client, their_link)
    assert seat_of(me)[0] == theirs and MOVED in seat_of(them)[1]
    back = re.search(r'<a[^>]+href="([^"]+)"[^>]*>Back to ' + mine, me.client.get("/seat").text)
    assert back, "the seat left stays reachable from this browser"
    move(me.client, html.unescape(back[1]))
    assert seat_of(me)[0] == mine


def test_the_instructors_browser_is_never_switched_to_a_seat(room):
    room.open(count=1, first_port=8968)
    (link,) = sheet_links(room.instructor).values()
    for answer in (room.instructor.get(link), room.instructor.post(link)):
        assert answer.status_code == 403 and "signed in as the instructor" in text_of(answer)
    assert sign_ins(room) == {name: 0 for name in room.roster.room.seats}


# 3. Guessing is not free.

def wrong_links(browser, count, path="/s/not-a-seat-{}"):
    for number in range(count):
        answer = browser.get(path.format(number))
        assert answer.status_code == 403, (number, answer.status_code)


def test_the_eleventh_wrong_link_is_429_with_retry_after_and_right_links_always_work(room):
    """Ten junk tries from the class's address (one student behind its NAT): the eleventh wrong one is 429, but a
    right card link from the same address still signs in, so one student cannot lock the class out of its seats."""
    room.open(count=3, first_port=8970)
    links = list(sheet_links(room.instructor).values())
    guesser = signed_out(room.app)  # 192.0.2.50, as the class's browsers
    wrong_links(guesser, 9)
    assert student(room.app, links[0]).seat  # the same address, a right link: it works, and counts nothing
    wrong_links(guesser, 1)
    refused = guesser.get("/s/not-a-seat-10")
    assert refused.status_code == 429, text_of(refused)
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    assert "Too many wrong" in text_of(refused) and "try again in" in text_of(refused)
    classmate = signed_out(room.app)  # the same address, past the limit: a right link still signs in
    assert classmate.get(links[1]).status_code == 302 and seat_of(classmate)[0] == list(room.roster.room.seats)[1]
    assert guesser.get("/s/not-a-seat-11").status_code == 429  # and wrong ones are still refused
    elsewhere = signed_out(room.app, remote_addr="192.0.2.51")
    assert elsewhere.get(links[2]).status_code == 302  # another address is not held back


def test_wrong_join_codes_are_limited_but_a_full_room_is_not_a_guess(room):
    room.open(count=0, join_count=1, first_port=8973)
    code = join_path(room.instructor)
    joins(room.app, code)  # the one join seat taken
    for _ in range(12):  # the right code on a full room: refused, never counted
        assert joins(room.app, code)[2].status_code == 403
    guesser = signed_out(room.app, remote_addr="192.0.2.60")
    wrong_links(guesser, 10, "/join/old-code-{}")
    refused = guesser.get("/join/old-code-10")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    posted = guesser.post("/join/old-code-11", data={"csrf_token": csrf_of(guesser.get("/").text)})
    assert posted.status_code == 429
    assert guesser.get(code).status_code == 403  # the right code still passes the limit (the room is full)


def test_wrong_instructor_tokens_are_limited(room):
    """Over HTTPS from the room's network (where the form is allowed): 10 wrong tokens, then 429."""
    guesser = signed_out(room.app, remote_addr="192.0.2.70")
    https = {"base_url": "https://localhost"}
    csrf = form_csrf(guesser.get("/signin", **https).text)
    for number in range(10):
        answer = guesser.post("/signin", data={"token": f"guess number {number} of many", "csrf_token": csrf},
                              **https)
        assert answer.status_code == 403, answer.status_code
    refused = guesser.post("/signin", data={"token": "guess number 10", "csrf_token": csrf}, **https)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    token = room.app.config["INSTRUCTOR_TOKEN"]  # the right token still signs in
    assert guesser.post("/signin", data={"token": token, "csrf_token": csrf}, **https).status_code == 302


def test_a_class_of_thirty_behind_one_address_never_meets_the_limit(room):
    """Thirty browsers on one address (a NAT) open their right links, twice, with a few typos between."""
    room.open(count=30, first_port=8975)
    typo = signed_out(room.app)
    for number, link in enumerate(sheet_links(room.instructor).values()):
        browser = student(room.app, link)
        assert browser.client.environ_base["REMOTE_ADDR"] == ROOM_NETWORK["REMOTE_ADDR"]
        assert browser.client.get(link).status_code == 302  # opened again: its own seat, no question
        if number % 5 == 0:
            wrong_links(typo, 1, link[:-1] + ("B" if link.endswith("A") else "A"))  # its last letter mistyped


@pytest.mark.parametrize("proxies, peer, limited", [(0, "192.0.2.80", True), (1, "192.0.2.80", True),
                                                    (1, "127.0.0.1", False)])
def test_x_forwarded_for_counts_only_from_a_configured_proxy_on_this_machine(tmp_path, proxies, peer, limited):
    """A guesser writing a new X-Forwarded-For each time is still one address (the 11th wrong token is 429) with
    no proxy configured, and with DASHBOARD_PROXIES=1 when it connects from the room itself; the header names
    the client only on a connection from this machine (the proxy of ours that wrote it)."""
    app = create_app({"TESTING": True, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3"), "PROXIES": proxies})
    guesser = signed_out(app, remote_addr=peer)
    https = {"base_url": "https://localhost"}
    csrf = form_csrf(guesser.get("/signin", **https).text)
    answers = [guesser.post("/signin", data={"token": "not the instructor token", "csrf_token": csrf},
                            headers={"X-Forwarded-For": f"198.51.100.{number}"}, **https).status_code
               for number in range(11)]
    assert answers == [403] * 10 + [429 if limited else 403]
