"""A seat's terminal in Chromium: on a laptop the seat page shows it open, and what the student types runs in the
seat's shell; on a phone it stays folded away; the instructor's watch page shows the same shell, read-only until
Take over, while the student's page says the instructor is typing.

The server is the app with each seat's shell a local bash (tests/support/terminal.py); its room's seats are on
ports 8911-8914, a seat per test (no other test uses them).
"""

import re

import pytest
from playwright.sync_api import expect

from tests.test_terminal import instructor, open_room

from .conftest import _serve
from .test_accessibility import axe_script, axe_violations  # noqa: F401 (axe_script: a fixture)

pytestmark = pytest.mark.e2e

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def shell_server(tmp_path_factory, server_log, instructor_token):
    folder = tmp_path_factory.mktemp("terminal-e2e")
    env = {"DASHBOARD_INSTRUCTOR_TOKEN": instructor_token, "DASHBOARD_INSTANCE_PATH": str(folder / "instance"),
           "TERMINAL_TEST_HOME": str(folder / "homes"), "DASHBOARD_SEATS_DIR": str(folder / "seats")}
    with _serve(server_log.with_name("terminal.log"), env, "tests.support.terminal:app_with_local_shell()") as url:
        yield url


@pytest.fixture(scope="module")
def seat_links(shell_server, instructor_token):
    """{seat: its link} of a room of four seats on the shell server; the class ended after the module."""
    teacher = instructor(shell_server, instructor_token)
    try:
        yield open_room(teacher, count=4, first_port=8911)
    finally:
        teacher.act("DELETE", "/room")


def screen_line(page, text):
    """A line of the terminal's screen that reads exactly `text`."""
    return page.locator(".xterm-rows > div").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def test_a_laptops_seat_page_shows_the_terminal_and_typing_runs_it(open_page, shell_server, seat_links):
    seat, link = next(iter(seat_links.items()))
    page = open_page(link, instructor=False, base_url=shell_server, **LAPTOP)
    expect(page.locator("[data-seat]").first).to_have_attribute("data-seat", seat)
    box = page.locator("details[data-terminal]")
    expect(box).to_have_attribute("open", "")
    expect(box.locator("[data-terminal-status]")).to_have_text("Connected.", timeout=WAIT_MS)
    box.locator(".xterm").click()
    page.keyboard.type("echo hi")
    page.keyboard.press("Enter")
    expect(screen_line(page, "hi")).to_have_count(1, timeout=WAIT_MS)


def test_on_a_phone_the_terminal_stays_folded_away(open_page, shell_server, seat_links):
    link = list(seat_links.values())[1]
    page = open_page(link, instructor=False, base_url=shell_server, **PHONE)
    box = page.locator("details[data-terminal]")
    expect(box).to_be_attached()
    expect(box).not_to_have_attribute("open", "")
    expect(box.locator("[data-terminal-status]")).to_have_text("Not connected.")
    expect(page.locator("section.step").first).to_be_visible()  # the buttons remain


def test_the_instructor_watches_and_takes_over_and_the_student_sees_it(open_page, shell_server, seat_links):
    seat, link = list(seat_links.items())[2]
    student = open_page(link, instructor=False, base_url=shell_server, **LAPTOP)
    expect(student.locator("[data-terminal-status]")).to_have_text("Connected.", timeout=WAIT_MS)
    teacher = open_page(f"/room/seats/{seat}/terminal/watch", base_url=shell_server, **LAPTOP)
    expect(teacher.locator("[data-terminal-status]")).to_contain_text("read-only", timeout=WAIT_MS)
    student.locator(".xterm").click()
    student.keyboard.type("echo from-$((2+3))-student")
    student.keyboard.press("Enter")
    expect(screen_line(teacher, "from-5-student")).to_have_count(1, timeout=WAIT_MS)

    teacher.get_by_role("button", name="Take over").click()
    banner = student.get_by_text("The instructor is typing in your terminal")
    expect(banner).to_be_visible(timeout=WAIT_MS)
    teacher.locator(".xterm").click()
    teacher.keyboard.type("echo from-$((3+4))-teacher")
    teacher.keyboard.press("Enter")
    expect(screen_line(student, "from-7-teacher")).to_have_count(1, timeout=WAIT_MS)
    teacher.get_by_role("button", name="Give back").click()
    expect(banner).to_be_hidden(timeout=WAIT_MS)


def test_the_terminals_pages_pass_axe(open_page, shell_server, seat_links, axe_script):
    """The seat's page with its terminal open and connected, and the instructor's watch page: nothing serious
    or critical for axe (CSP bypassed for axe's own script only)."""
    seat, link = list(seat_links.items())[3]
    student = open_page(link, instructor=False, base_url=shell_server, bypass_csp=True, **LAPTOP)
    expect(student.locator("[data-terminal-status]")).to_have_text("Connected.", timeout=WAIT_MS)
    teacher = open_page(f"/room/seats/{seat}/terminal/watch", base_url=shell_server, bypass_csp=True, **LAPTOP)
    expect(teacher.locator("[data-terminal-status]")).to_contain_text("read-only", timeout=WAIT_MS)
    assert axe_violations(student, axe_script) == [] and axe_violations(teacher, axe_script) == []
