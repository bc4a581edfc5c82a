"""A room of students, each driving a seat of their own from a phone, and the instructor's progress grid.

The instructor opens a room on /room with the running-containers lesson current, hands out the seats (the printed
cards, or the projected join code), and watches the grid fill in as each student presses their own buttons; a
seat's link can be replaced ("New link"), and its page watched read-only ("Open"). Students' pages are phones:
390 px wide, each a browser context of its own.

The seats are on host ports from 8701 (no other test uses them), a block of them each, named seat-FIRSTPORT, each
with a Docker engine of its own; each test opens its own room, and teardown ends it (the app then removes every
seat's engine), pass or fail. The running lesson is made current for these tests and
the images lesson current again after them, as every other test expects.
"""

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import docker
import pytest
from playwright.sync_api import Page, expect


from .test_accessibility import VIEWPORTS, axe_script, axe_violations  # noqa: F401 (axe_script: a fixture)
from .test_lessons import teach

pytestmark = pytest.mark.e2e

FIRST_PORT = 8701
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
SHOTS = Path("/tmp/room-shots")
STEP_TIMEOUT_MS = 30_000  # a run of a container, then its check
GRID_TIMEOUT_MS = 20_000  # the grid follows the live stream; the seats' checks refresh in the background
SEAT_LINK = re.compile(r"/s/([A-Za-z0-9_-]+)$")
SCROLL_TOLERANCE = 2  # px: sub-pixel rounding at a device scale factor of 2
MIN_TARGET = 24  # px: WCAG 2.2's minimum target size (2.5.8)
# What the browser logs for an answer the test provokes on purpose: Chromium for each 403, htmx for one it swaps.
CHROMIUM_LOGS_A_403 = r"Failed to load resource: the server responded with a status of 403"
HTMX_LOGS_A_403 = r"Response Status Error Code 403"
# Chromium aborts the requests in flight when the host's network changes, as it does each time the engine adds or
# removes a container's veth interface: a poll then fails (net::ERR_NETWORK_CHANGED), htmx logs it, and the page
# says "Not updated ... Trying again" and goes on. Starting and removing containers is what these tests do.
NETWORK_CHANGED = [r"net::ERR_NETWORK_CHANGED", r"^console\.error: htmx:(sendError|afterRequest), \[object HTML"]

# The running lesson, as a seat sees it: each step's button, and the steps each test's students press.
BUTTONS = {"hello": "Run", "ps": "List", "ps-all": "List", "detached": "Run", "logs": "Show the logs",
           "stop": "Stop & remove", "rm": "Remove", "rm-flag": "Run", "interactive": "Run without a terminal"}
STEPS = list(BUTTONS)
TITLES = {"hello": "Run a one-shot command", "ps": "List running containers", "ps-all": "List all containers"}


# --- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running_lesson_current(browser, browser_context_args, sign_in):
    """The running lesson is the current one for this module's tests; the images lesson again after them."""
    def pick(lesson_id):
        context = browser.new_context(**browser_context_args)
        try:
            page = context.new_page()
            sign_in(page)
            page.goto(f"/lessons/{lesson_id}")
            if page.get_by_role("button", name="Teach this lesson now").count():
                teach(page, lesson_id)
            page.close()  # before its context (see open_page)
        finally:
            context.close()

    pick("running")
    yield
    pick("cowserv")


class RoomTrack:
    """The seats of the room a test opened (name -> its card's link, None for a join seat), for the test and its
    teardown."""

    def __init__(self):
        self.seats = {}


@pytest.fixture
def room(running_lesson_current, open_page, docker_client, allowed_console_errors):
    """Teardown, pass or fail: the room is ended (by the instructor's DELETE /room, as "End the class now" sends
    it), which removes every seat's engine with everything on it."""
    allowed_console_errors += NETWORK_CHANGED
    # Ending the room here makes a seat's page still open reload into its 403 ("no longer works"), as it should.
    allowed_console_errors.append(CHROMIUM_LOGS_A_403)
    track = RoomTrack()
    yield track
    try:
        open_page.close_pages()  # while the class is on: ending it reloads every seat's open page
        page = open_page(None)
        answer = page.request.get("/room/sheet")
        if answer.ok:  # a room is there: its seats too, in case the test failed before reading them
            track.seats.update({name: None for name in re.findall(r'data-seat="([^"]+)"', answer.text())})
            page.goto("/room")
            if page.get_by_role("button", name="End the class now").count():
                ended = page.request.delete("/room", headers={"X-CSRF-Token": csrf_of(page), "HX-Request": "true"})
                assert ended.ok, f"DELETE /room answered {ended.status}: {ended.text()[:300]}"
    finally:
        assert not any(seat_things(docker_client, name) for name in track.seats)


def seat_things(docker_client, name):
    """The containers on the seat's own engine, by name (none once its engine is gone). The live server's seats
    live in the run's DASHBOARD_SEATS_DIR."""
    socket = Path(os.environ["DASHBOARD_SEATS_DIR"]) / name / "run" / "docker.sock"
    if not socket.exists():
        return []
    engine = docker.DockerClient(base_url=f"unix://{socket}")
    try:
        return sorted(container.name for container in engine.containers.list(all=True))
    finally:
        engine.close()


# --- the instructor --------------------------------------------------------------------------------------------


def csrf_of(page: Page):
    return json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRF-Token"]


def open_room(open_page, room: RoomTrack, count, minutes=30, joins=0):
    """The instructor opens a room of `count` card seats and `joins` join seats from FIRST_PORT on /room (a
    desktop, signed in); returns the instructor's page, on /room, once the sheet's cards are read into
    `room.seats` (name -> the link's path; the join seats, from the grid, -> None)."""
    page = open_page("/room", **DESKTOP)
    expect(page.get_by_role("heading", name="Students on seats of their own")).to_be_visible()
    form = page.locator("form.room-open")
    form.get_by_label("Seats on cards").fill(str(count))
    form.get_by_label("Seats by the join code").fill(str(joins))
    form.get_by_label("From port").fill(str(FIRST_PORT))
    form.get_by_label("Minutes until the class ends").fill(str(minutes))
    expect(form.get_by_label("Memory")).to_have_value("256m")
    form.get_by_role("button", name=re.compile(r"^Open (the room|a new room)")).click()
    expect(page).to_have_url(re.compile(r"/room$"))
    expect(page.get_by_role("heading", name="The room", exact=True)).to_be_visible()
    expect(page.locator("#room-grid tbody tr[data-seat]")).to_have_count(count + joins)
    # Each seat's engine starts in the background, the grid saying how far: until every one answers.
    expect(page.locator("[data-seats-starting]")).to_have_count(0, timeout=180_000)
    grid_seats = page.locator("#room-grid tbody tr[data-seat]").evaluate_all("rows => rows.map(r => r.dataset.seat)")

    page.get_by_role("link", name="Print the seat cards").click()
    expect(page).to_have_url(re.compile(r"/room/sheet$"))
    cards = page.locator("li.seat-card[data-seat][data-seat-url]")
    expect(cards).to_have_count(count)
    for card in cards.all():
        name, url = card.get_attribute("data-seat"), card.get_attribute("data-seat-url")
        assert re.fullmatch(r"seat-\d+", name), name
        assert int(name.removeprefix("seat-")) >= FIRST_PORT
        assert SEAT_LINK.search(urlsplit(url).path), url
        expect(card.locator("a.seat-url")).to_have_attribute("href", url)
        expect(card.get_by_role("img", name=f"QR code for {name}'s link")).to_be_visible()
        room.seats[name] = urlsplit(url).path  # the live server's host, whatever the sheet's says
    assert list(room.seats) == sorted(room.seats, key=lambda n: int(n.removeprefix("seat-"))), "cards out of order"
    assert list(room.seats) == grid_seats[:count]  # the cards first, then the join code's seats
    room.seats.update({name: None for name in grid_seats[count:]})
    page.goto("/room")
    return page


def grid_row(page: Page, seat):
    return page.locator(f"#room-grid tr[data-seat='{seat}']")


def expect_grid(page: Page, progress):
    """The grid shows exactly `progress` ({seat: steps passed}): those cells passed, every other cell not yet, and
    the counts line says how many seats passed each step, of all of them."""
    for seat, passed in progress.items():
        for step in STEPS:
            cell = page.locator(f"#room-grid td[data-seat='{seat}'][data-step='{step}']")
            state = "passed" if step in passed else "not-yet"
            expect(cell).to_have_attribute("data-check", state, timeout=GRID_TIMEOUT_MS)
            expect(cell).to_have_attribute("title", re.compile(r"\S"))
    seats = len(progress)
    for step in STEPS:
        done = sum(step in passed for passed in progress.values())
        expect(page.locator(f"#room-grid ul.step-counts li[data-step='{step}'] strong")).to_have_text(
            f"{done} of {seats}", timeout=GRID_TIMEOUT_MS)


# --- the students ----------------------------------------------------------------------------------------------


def student(open_page, path):
    """A phone of its own (a new context, watched for console errors) opening `path`."""
    return open_page(path, instructor=False, **PHONE)


def joiner(open_page, join_path):
    """A phone of its own opening the join code's link and pressing its button."""
    phone = student(open_page, join_path)
    phone.get_by_role("button", name="Take a seat").click()
    return phone


def step_section(page: Page, step_id):
    return page.locator(f"section.step[data-step='{step_id}']")


def press(page: Page, step_id):
    """Press the step's button on a seat's page; its result says it was done, and its status shows the run."""
    step_section(page, step_id).locator("form.step-action").get_by_role(
        "button", name=BUTTONS[step_id], exact=True).click()
    expect(page.locator(f"#{step_id}-result")).to_contain_text(f"Done: {TITLES[step_id]}.", timeout=STEP_TIMEOUT_MS)
    expect(page.locator(f"[data-status-of='{step_id}']")).to_have_attribute("data-done", "true")


def expect_on_seat(page: Page, seat):
    """The page is the seat's, signed in: /seat with no token in the address, the seat's name shown."""
    expect(page).to_have_url(re.compile(r"/seat$"))
    assert "/s/" not in page.url
    expect(page.locator("section.seat-intro")).to_have_attribute("data-seat", seat)
    expect(page.locator("section.seat-intro")).to_have_attribute("data-lesson", "running")
    expect(page.locator(".seat-badge strong")).to_have_text(seat)
    expect(page.locator("header .role")).to_contain_text(f"Seat {seat}")


def page_width(page: Page):
    return page.evaluate("() => document.scrollingElement.scrollWidth")


def past_the_edge(page: Page, width=390):
    """The outermost elements that reach past a screen `width` px wide (their children are not listed). Not
    innerWidth: a phone's (is_mobile) layout viewport widens to whatever is too wide."""
    return page.evaluate("""width => {
        const out = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > width + 2);
        return out.filter(e => !out.includes(e.parentElement))
                  .map(e => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className ? "." + String(e.className).trim().replace(/\\s+/g, ".") : ""}`
                            + ` (${Math.round(e.getBoundingClientRect().width)} px)`).slice(0, 6).join(", ");
    }""", width)


# --- the tests -------------------------------------------------------------------------------------------------


def test_a_class_of_three_phones_and_the_instructor_s_grid(open_page, room, docker_client, allowed_console_errors):
    """Three students open their cards' links on phones and each does a different part of the lesson on their
    own containers; the instructor's grid shows exactly who did what, and the counts; ending the class removes
    what the seats made, and their pages say so."""
    allowed_console_errors.append(CHROMIUM_LOGS_A_403)  # the phones' polls, once the class has ended
    instructor = open_room(open_page, room, 3)
    first, second, third = room.seats
    expect_grid(instructor, {first: [], second: [], third: []})

    phones = {}
    for seat, path in room.seats.items():
        phone = phones[seat] = student(open_page, path)
        expect_on_seat(phone, seat)
        port = seat.removeprefix("seat-")
        # Every command is the lesson's own, as the workshop writes it: the seat has an engine of its own.
        hello_cli = step_section(phone, "hello").locator("[data-cli]")
        expect(hello_cli).to_have_text("docker run --name hello python:3.12-slim echo 'Hello from a container'")
        expect(step_section(phone, "detached").locator("[data-cli]")).to_contain_text("--name ticker")
        expect(phone.locator("[data-seat-ports]")).to_contain_text(f":{port}/ → your port 8000")
        expect(phone.locator("section.step[data-step]")).to_have_count(len(STEPS))
        expect(phone.locator("form.step-action button")).to_have_count(len(STEPS))
        for other in room.seats:
            if other != seat:
                expect(phone.locator("main")).not_to_contain_text(f"{other}-")

    # The first student names themself; the instructor sees it beside the seat.
    phones[first].get_by_label("Your name, for the instructor").fill("Ada Lovelace")
    phones[first].locator("form.student-name").get_by_role("button", name="Save").click()
    expect(phones[first].locator("#name-message")).to_contain_text("Saved")

    progress = {first: ["hello", "ps", "ps-all"], second: ["hello"], third: []}
    for seat, steps in progress.items():
        for step_id in steps:
            press(phones[seat], step_id)
        if "hello" in steps:
            expect(step_section(phones[seat], "hello")).to_have_attribute("data-check", "passed",
                                                                         timeout=STEP_TIMEOUT_MS)
            expect(phones[seat].locator("#hello-status .badge")).to_have_text("Check passed")
            expect(phones[seat].locator("#hello-status [data-step-output]")).to_contain_text(
                "Hello from a container")
    # `docker ps -a` on the first seat lists its own exited container, and nobody else's.
    ps_all = phones[first].locator("#ps-all-status [data-step-output]")
    expect(ps_all).to_contain_text("hello")
    # Each seat's things are on its own engine, under the lesson's names.
    assert seat_things(docker_client, first) == ["hello"]
    assert seat_things(docker_client, second) == ["hello"]
    assert seat_things(docker_client, third) == []
    # Another seat's page did not pick up what the first did.
    expect(step_section(phones[third], "hello")).not_to_have_attribute("data-check", "passed")
    expect(phones[third].locator("[data-status-of='hello']")).not_to_have_attribute("data-done", "true")

    expect_grid(instructor, progress)
    expect(grid_row(instructor, first).locator("th .student")).to_have_text("Ada Lovelace", timeout=GRID_TIMEOUT_MS)
    expect(instructor.locator(f"#room-grid td[data-seat='{first}'][data-step='ps']")).to_have_attribute(
        "title", "Done.")
    SHOTS.mkdir(parents=True, exist_ok=True)
    instructor.locator("#room-grid").screenshot(path=SHOTS / "grid.png")
    instructor.screenshot(path=SHOTS / "room-page.png", full_page=True)
    phones[first].screenshot(path=SHOTS / "seat-390.png", full_page=True)
    phones[first].evaluate("() => window.scrollTo(0, 0)")
    phones[first].screenshot(path=SHOTS / "seat-390-top.png")
    step_section(phones[first], "hello").scroll_into_view_if_needed()
    phones[first].screenshot(path=SHOTS / "seat-390-first-step.png")

    # The end of the class: what the seats made is gone, and their links stop working.
    instructor.once("dialog", lambda dialog: dialog.accept())
    instructor.get_by_role("button", name="End the class now").click()
    expect(instructor.get_by_role("heading", name="The room (ended)")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(instructor.locator("#room-grid")).to_contain_text("The class ended")
    for seat in room.seats:
        assert seat_things(docker_client, seat) == [], f"{seat}'s containers outlived the class"
    phones[second].reload()
    expect(phones[second].get_by_role("alert")).to_contain_text("no longer works")


def test_a_seat_page_fits_a_phone(open_page, room):
    """At 390 px the seat's page does not scroll sideways, and every button (each step's, Check again, Save) is
    on screen once scrolled to, wide and tall enough to tap, and not covered by anything else."""
    open_room(open_page, room, 1)
    (seat, path), = room.seats.items()
    phone = student(open_page, path)
    expect_on_seat(phone, seat)
    press(phone, "hello")  # a step with its output and its check's badge and reason, as a student sees it
    expect(step_section(phone, "hello")).to_have_attribute("data-check", "passed", timeout=STEP_TIMEOUT_MS)

    width = phone.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= 390 + SCROLL_TOLERANCE, f"the seat's page is {width} px wide at 390 px: it scrolls sideways"
    wide = phone.evaluate("""() => [...document.querySelectorAll("main *")]
        .filter(element => element.getBoundingClientRect().right > 390 + 2
                           && !element.closest("pre, .cli, [role=region]"))
        .map(element => element.tagName + "." + element.className + " " + Math.round(element.getBoundingClientRect().right))
        .slice(0, 10)""")
    assert wide == [], f"elements reach past the 390 px screen: {wide}"

    # Measured in the page in one go: the board swaps the steps' statuses (and their buttons) in every second.
    problems = phone.evaluate("""([width, target]) => {
        const problems = [];
        const buttons = [...document.querySelectorAll("main button")].filter(b => b.offsetParent !== null);
        for (const b of buttons) {
            b.scrollIntoView({block: "center"});
            const r = b.getBoundingClientRect();
            const label = (b.getAttribute("aria-label") || b.textContent).trim();
            if (r.left < 0 || r.right > width) problems.push(`${label}: off screen sideways (${r.left}..${r.right})`);
            if (r.width < target || r.height < target)
                problems.push(`${label}: ${Math.round(r.width)}x${Math.round(r.height)} px, under ${target} px`);
            const on_top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            if (on_top && !b.contains(on_top)) problems.push(`${label}: covered by ${on_top.outerHTML.slice(0, 120)}`);
        }
        return [buttons.length, problems];
    }""", [390 + SCROLL_TOLERANCE, MIN_TARGET])
    count, problems = problems
    assert count >= 2 * len(STEPS) + 2, f"{count} buttons"  # each step's and its Copy, hello's Check again, Save
    assert problems == [], "buttons a phone cannot use:\n" + "\n".join(problems)

    # Reachable by keyboard too: Tab reaches the first step's button.
    first_button = step_section(phone, "hello").locator("form.step-action button")
    phone.locator("body").focus()
    for _ in range(60):
        phone.keyboard.press("Tab")
        if first_button.evaluate("b => b === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the first step's button")


def test_the_join_code_gives_each_phone_a_seat_once_until_joining_closes(open_page, room, allowed_console_errors):
    """The projected join code signs each new phone in as the next free seat; the same phone again keeps its seat;
    once the instructor closes joining, a new phone is refused with a message."""
    allowed_console_errors.append(CHROMIUM_LOGS_A_403)
    instructor = open_room(open_page, room, 0, joins=2)
    first, second = room.seats

    instructor.get_by_role("link", name="Project the join code").click()
    expect(instructor).to_have_url(re.compile(r"/room/join$"))
    expect(instructor.get_by_role("heading", name="Scan to get your own seat")).to_be_visible()
    expect(instructor.get_by_role("img", name="QR code to join the class")).to_be_visible()
    join_url = instructor.locator("[data-join-url]").get_attribute("data-join-url")
    join_path = urlsplit(join_url).path
    assert re.fullmatch(r"/join/[A-Za-z0-9_-]+", join_path), join_url

    phone = joiner(open_page, join_path)
    expect_on_seat(phone, first)
    phone.goto(join_path)  # the same phone scans again: back on its seat, not a new one
    expect_on_seat(phone, first)
    other = joiner(open_page, join_path)
    expect_on_seat(other, second)

    instructor.goto("/room")
    instructor.get_by_role("button", name="Close joining").click()
    expect(instructor.get_by_role("button", name="Open joining")).to_be_visible()
    instructor.goto("/room/join")
    expect(instructor.get_by_role("heading", name="Joining is closed")).to_be_visible()
    expect(instructor.locator("[data-join-url]")).to_have_count(0)

    late = open_page(None, instructor=False, **PHONE)
    answer = late.goto(join_path)
    assert answer.status == 403
    expect(late.get_by_role("alert")).to_contain_text("Joining is closed")
    expect(late.locator("section.seat-intro")).to_have_count(0)
    # The phones already on their seats keep them.
    phone.goto("/seat")
    expect_on_seat(phone, first)


def test_a_new_link_for_a_seat_stops_its_old_one_at_once(open_page, room, allowed_console_errors):
    """The instructor gives a seat a new link from its row: the student's open page reloads by itself and says the
    link no longer works, a press sent with the old session is refused, and the other seat goes on."""
    allowed_console_errors += [CHROMIUM_LOGS_A_403, HTMX_LOGS_A_403]
    instructor = open_room(open_page, room, 2)
    first, second = room.seats
    old_link = room.seats[first]
    phone, other = student(open_page, room.seats[first]), student(open_page, room.seats[second])
    expect_on_seat(phone, first)
    expect_on_seat(other, second)
    csrf = json.loads(phone.locator("body").get_attribute("hx-headers"))["X-CSRF-Token"]

    instructor.once("dialog", lambda dialog: dialog.accept())
    grid_row(instructor, first).get_by_role("button", name="New link").click()
    expect(instructor.get_by_role("status").filter(has_text=f"{first} has a new link")).to_be_visible()

    expect(phone.get_by_role("alert")).to_contain_text("This seat's link no longer works", timeout=GRID_TIMEOUT_MS)
    refused = phone.request.post("/seat/lessons/running/steps/hello",
                                 headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert refused.status == 403 and "no longer works" in refused.text()
    phone.reload()
    expect(phone.get_by_role("alert")).to_contain_text("This seat's link no longer works")
    expect(phone.locator("section.step[data-step]")).to_have_count(0)
    # The old link itself is refused; the new one on the sheet works.
    answer = phone.goto(old_link)
    assert answer.status == 403
    instructor.goto("/room/sheet")
    new_link = urlsplit(instructor.locator(f"li.seat-card[data-seat='{first}']").get_attribute("data-seat-url")).path
    assert new_link != old_link
    phone.goto(new_link)
    expect_on_seat(phone, first)
    # The other seat was not touched.
    press(other, "ps")


def test_the_projector_and_signed_out_screens_never_show_a_seat_s_link(open_page, room, allowed_console_errors):
    """The seats' tokens (their links' keys) are on the instructor's sheet only: never on the presenter view, nor
    on any page a signed-out screen opens; the sheet itself is refused signed out. Names are hidden by default: the
    projector shows no student's name until the instructor shows them."""
    allowed_console_errors.append(CHROMIUM_LOGS_A_403)
    instructor = open_room(open_page, room, 2)
    tokens = [SEAT_LINK.search(path)[1] for path in room.seats.values()]
    first = next(iter(room.seats))
    phone = student(open_page, room.seats[first])
    phone.get_by_label("Your name, for the instructor").fill("Grace Hopper")
    phone.locator("form.student-name").get_by_role("button", name="Save").click()
    expect(phone.locator("#name-message")).to_contain_text("Saved")
    expect(instructor.get_by_role("button", name="Show names on the projector")).to_be_visible()  # hidden already

    def assert_no_token(page, where):
        html = page.content()
        for token in tokens:
            assert token not in html, f"{where} shows a seat's token"

    screen = open_page(None, instructor=False, **DESKTOP)
    for path in ("/present", "/room", "/room/join", "/"):
        assert screen.goto(path).ok, path
        assert_no_token(screen, f"{path} signed out")
    for path in ("/room/grid", "/room/grid?projector=1"):
        answer = screen.request.get(path)
        assert answer.ok, path
        for token in tokens:
            assert token not in answer.text(), f"{path} signed out shows a seat's token"
    screen.goto("/present")
    expect(screen.locator("#room-grid tr[data-seat]")).to_have_count(2)
    expect(screen.locator("#room-grid")).not_to_contain_text("Grace Hopper")
    expect(screen.locator("#room-grid").get_by_role("button")).to_have_count(0)
    expect(screen.locator("#room-grid").get_by_role("link")).to_have_count(0)
    assert "Grace Hopper" not in screen.request.get("/room/grid?projector=1").text()
    screen.goto("/room")  # any signed-out screen might be projected: names hidden there too
    expect(screen.locator("#room-grid tr[data-seat]")).to_have_count(2)
    expect(screen.locator("#room-grid")).not_to_contain_text("Grace Hopper")
    expect(grid_row(instructor, first)).to_contain_text("Grace Hopper", timeout=GRID_TIMEOUT_MS)  # the instructor's own

    answer = screen.goto("/room/sheet")
    assert answer.status == 403
    expect(screen.get_by_role("alert")).to_contain_text("Only the instructor")
    assert_no_token(screen, "/room/sheet signed out")
    answer = screen.goto(f"/room/seats/{first}")
    assert answer.status == 403
    assert_no_token(screen, "a seat's read-only page signed out")
    instructor.goto(f"/room/seats/{first}")  # the instructor's read-only copy, maybe on the projector
    expect(instructor.locator("section.seat-intro")).to_have_attribute("data-seat", first)
    assert_no_token(instructor, "a seat's read-only page")

    # The presenter view, projected while signed in, shows no token either.
    instructor.goto("/present")
    expect(instructor.locator("#room-grid tr[data-seat]")).to_have_count(2)
    assert_no_token(instructor, "/present signed in")
    expect(instructor.locator("#room-grid")).not_to_contain_text("Grace Hopper")

    # Shown by the instructor, the names are on the projector.
    instructor.goto("/room")
    instructor.get_by_role("button", name="Show names on the projector").click()
    expect(instructor.get_by_role("button", name="Hide names on the projector")).to_be_visible()
    assert "Grace Hopper" in screen.request.get("/room/grid?projector=1").text()


def test_the_instructor_opens_a_seat_s_page_read_only(open_page, room):
    """From a seat's row, "Open" shows the seat's page as its student sees it, with the seat's progress and
    commands, and no button that would act."""
    instructor = open_room(open_page, room, 2)
    first = next(iter(room.seats))
    phone = student(open_page, room.seats[first])
    press(phone, "hello")
    expect(step_section(phone, "hello")).to_have_attribute("data-check", "passed", timeout=STEP_TIMEOUT_MS)
    clis = phone.locator("section.step[data-step] [data-cli]").all_inner_texts()

    grid_row(instructor, first).get_by_role("link", name="Open").click()
    expect(instructor).to_have_url(re.compile(rf"/room/seats/{first}$"))
    expect(instructor.locator("section.seat-intro")).to_have_attribute("data-seat", first)
    expect(instructor.locator(".seat-badge")).to_contain_text("read-only")
    expect(instructor.locator("section.step[data-step]")).to_have_count(len(STEPS))
    assert instructor.locator("section.step[data-step]").evaluate_all(
        "sections => sections.map(s => s.dataset.step)") == STEPS
    assert instructor.locator("section.step[data-step] [data-cli]").all_inner_texts() == clis
    expect(step_section(instructor, "hello")).to_have_attribute("data-check", "passed")
    expect(instructor.locator("#hello-status [data-step-output]")).to_contain_text("Hello from a container")
    expect(instructor.locator("form.step-action")).to_have_count(0)
    expect(instructor.locator("main [hx-post], main [hx-delete], main form[method=post]")).to_have_count(0)
    expect(instructor.locator("main button:not([data-copy])")).to_have_count(0)  # Copy buttons only
    expect(instructor.locator("main button[data-copy]")).to_have_count(len(STEPS))
    expect(instructor.locator("#student")).to_have_count(0)

    # It follows the seat: the student's next step shows on the instructor's copy without a reload.
    instructor.evaluate("() => { window.__notReloaded = true; }")
    press(phone, "ps")
    expect(instructor.locator("[data-status-of='ps']")).to_have_attribute("data-done", "true",
                                                                         timeout=GRID_TIMEOUT_MS)
    assert instructor.evaluate("() => window.__notReloaded === true")


@pytest.mark.parametrize("viewport", ["phone-390x844", "laptop-1280x720"])
def test_the_room_s_pages_pass_axe_and_fit_a_phone(open_page, room, axe_script, allowed_console_errors, viewport):
    """axe-core finds nothing serious or critical on the room's pages (the instructor's room, sheet, join code,
    a seat watched read-only, the presenter view with the grid; a student's seat after a step; the refusals), and
    none of them scrolls sideways on a phone."""
    allowed_console_errors.append(CHROMIUM_LOGS_A_403)
    width, height = VIEWPORTS[viewport]
    size = {"viewport": {"width": width, "height": height}, "bypass_csp": True}
    instructor = open_room(open_page, room, 2)
    first = next(iter(room.seats))
    phone = open_page(room.seats[first], instructor=False, **size)
    press(phone, "hello")
    expect(step_section(phone, "hello")).to_have_attribute("data-check", "passed", timeout=STEP_TIMEOUT_MS)
    instructor.close()

    found, wide = [], []

    def look(page, where):
        found.extend(f"{where}: {violation}" for violation in axe_violations(page, axe_script))
        if page_width(page) > width + SCROLL_TOLERANCE:
            wide.append(f"{where}: {page_width(page)} px wide; past the edge: {past_the_edge(page, width)}")

    phone.get_by_text("Move to another phone or laptop").click()  # the seat's own QR code, shown
    look(phone, "student /seat")
    phone.goto(room.seats[list(room.seats)[1]])  # a classmate's link: the question before switching
    look(phone, "student's question before switching seats")
    teacher = open_page(None, **size)
    for path in ("/room", "/room/sheet", "/room/join", f"/room/seats/{first}", "/present"):
        teacher.goto(path)
        look(teacher, f"instructor {path}")
    wide = [line for line in wide if not line.startswith("instructor /room/sheet:")]  # see test_the_seat_cards_fit_a_phone
    screen = open_page(None, instructor=False, **size)
    for path in ("/room", "/room/join", "/present", "/seat", "/room/sheet"):
        screen.goto(path)
        look(screen, f"signed out {path}")
    assert not found, "axe found serious or critical violations:\n" + "\n".join(found)
    assert not wide, "pages that scroll sideways:\n" + "\n".join(wide)


def test_a_grid_cell_shows_its_reason_on_focus(open_page, room):
    """A keyboard user focusing a cell reads why (the CSS's ::after shows the cell's data-reason), as a mouse user
    does in its title."""
    instructor = open_room(open_page, room, 1)
    cell = instructor.locator("#room-grid td[data-step='hello']")
    cell.focus()
    shown = cell.evaluate("cell => getComputedStyle(cell, '::after').content")
    assert "Not done yet" in shown, f"the focused cell shows {shown!r}"


# --- what the room once got wrong, each kept right -----------------------------------------------------------


def test_the_room_s_message_survives_a_row_action(open_page, room):
    """After one row's action (New link), the room's message area is still there: a second row's Reset, then
    "End the class now", each show their message in it."""
    instructor = open_room(open_page, room, 2)
    first, second = room.seats
    instructor.on("dialog", lambda dialog: dialog.accept())
    grid_row(instructor, first).get_by_role("button", name="New link").click()
    expect(instructor.locator("#room-message")).to_contain_text(f"{first} has a new link")
    grid_row(instructor, second).get_by_role("button", name="Reset").click()
    expect(instructor.locator("#room-message")).to_contain_text(f"{second} is reset", timeout=STEP_TIMEOUT_MS)
    instructor.get_by_role("button", name="End the class now").click()
    expect(instructor.get_by_role("heading", name="The room (ended)")).to_be_visible(timeout=STEP_TIMEOUT_MS)


def test_the_join_code_never_hands_out_a_card_s_seat(open_page, room, allowed_console_errors):
    """A card seat nobody opened yet and one join seat: the join code gives its one seat, then refuses the next
    phone, and the card's student still gets their seat in one step."""
    allowed_console_errors.append(CHROMIUM_LOGS_A_403)
    open_room(open_page, room, 1, joins=1)
    first, second = room.seats
    teacher = open_page("/room/join")
    join_path = urlsplit(teacher.locator("[data-join-url]").get_attribute("data-join-url")).path
    joined = joiner(open_page, join_path)
    expect_on_seat(joined, second)
    late = student(open_page, join_path)
    expect(late.get_by_role("alert")).to_contain_text("every seat it hands out is taken")
    carded = student(open_page, room.seats[first])
    expect_on_seat(carded, first)


def test_a_student_moves_their_seat_to_a_laptop_and_the_phone_is_told(open_page, room, allowed_console_errors):
    """A phone on its card's seat; the laptop scans the seat's own QR code (the link on its page), is asked, and
    moves the seat: the phone's open page reloads by itself into "moved to another browser". A classmate's link
    opened on the laptop asks before switching, and "Stay on" keeps the seat."""
    allowed_console_errors += [CHROMIUM_LOGS_A_403, HTMX_LOGS_A_403]
    open_room(open_page, room, 2)
    first, second = room.seats
    phone = student(open_page, room.seats[first])
    expect_on_seat(phone, first)
    phone.get_by_text("Move to another phone or laptop").click()
    expect(phone.get_by_role("img", name="QR code for this seat's link")).to_be_visible()
    own_link = urlsplit(phone.locator("[data-own-link]").get_attribute("data-own-link")).path
    assert own_link == room.seats[first]

    laptop = open_page(own_link, instructor=False, **DESKTOP)
    expect(laptop.get_by_role("heading", name=f"Open {first} here?")).to_be_visible()
    laptop.get_by_role("button", name=f"Move {first} here").click()
    expect_on_seat(laptop, first)
    expect(phone.get_by_role("alert")).to_contain_text("moved to another browser", timeout=GRID_TIMEOUT_MS)

    laptop.goto(room.seats[second])  # a classmate's link: a question, nothing switched
    expect(laptop.get_by_role("heading", name=f"Switch to {second}?")).to_be_visible()
    laptop.get_by_role("link", name=f"Stay on {first}").click()
    expect_on_seat(laptop, first)


def test_the_room_s_buttons_are_in_one_row(open_page, room):
    """The room's actions (cards, join code, joining, names, end) are laid out together in p.actions."""
    instructor = open_room(open_page, room, 1)
    actions = instructor.locator("section[aria-labelledby='room-now-title'] .actions")
    for name in ("Close joining", "Show names on the projector", "End the class now"):
        expect(actions.get_by_role("button", name=name)).to_have_count(1)


def test_the_seat_cards_fit_a_phone(open_page, room):
    """The instructor's sheet of seat cards, opened on a phone, does not scroll sideways."""
    open_room(open_page, room, 2)
    sheet = open_page("/room/sheet", **PHONE)
    assert page_width(sheet) <= 390 + SCROLL_TOLERANCE, f"{page_width(sheet)} px: {past_the_edge(sheet)}"


def test_step_numbers_stay_round_on_a_phone(open_page, room):
    """Each step's number on a seat's page at 390 px is a circle, however long the step's title."""
    open_room(open_page, room, 1)
    phone = student(open_page, next(iter(room.seats.values())))
    sizes = phone.locator("section.step h2 .num").evaluate_all(
        "nums => nums.map(n => [n.textContent.trim(), Math.round(n.getBoundingClientRect().width), "
        "Math.round(n.getBoundingClientRect().height)])")
    assert len(sizes) == len(STEPS)
    squashed = [size for size in sizes if abs(size[1] - size[2]) > 1]
    assert not squashed, f"step numbers not round (number, width, height): {squashed}"



def test_the_instructor_runs_a_step_on_every_seat_then_clears_them(open_page, room, docker_client):
    """The instructor picks a step under "Run this step on every seat": the loop beside it follows the pick; "Run
    on every seat" runs it on each seat and the grid fills in; "Stop and remove every seat's things" (confirmed)
    removes what they made."""
    page = open_room(open_page, room, 2)
    page.get_by_label("Run this step on every seat").select_option("detached")
    loop = page.locator("#every-seat-command")
    expect(loop).to_contain_text("for seat in ")
    expect(loop).to_contain_text('export DOCKER_HOST="unix://$seat/run/docker.sock"')
    expect(loop).to_contain_text("docker run -d")
    page.get_by_role("button", name="Run on every seat", exact=True).click()
    for seat in room.seats:
        expect(grid_row(page, seat).locator("[data-every-seat]")).to_have_attribute(
            "data-every-seat", "done", timeout=STEP_TIMEOUT_MS)
        expect(page.locator(f"#room-grid td[data-seat='{seat}'][data-step='detached']")).to_have_attribute(
            "data-check", "passed", timeout=GRID_TIMEOUT_MS)
        assert seat_things(docker_client, seat) == ["ticker"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "every-seat.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop and remove every seat's things", exact=True).click()
    expect(page.locator("#sweep-message")).to_contain_text("Removed every seat's things: 2 containers",
                                                           timeout=STEP_TIMEOUT_MS)
    assert all(not seat_things(docker_client, seat) for seat in room.seats)
