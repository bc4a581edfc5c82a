"""The images lesson typed in Chromium: a student's seat page at laptop width, its xterm terminal on the seat's real
shell and engine, each step's command read from the page and typed into the terminal as written; the page's step
checks turn done, and the instructor's grid (another browser) shows the seat's cells done. Only the images lesson
is typed in a browser (the others are typed over the WebSocket: tests/test_seat_lessons_typed.py).

Root only: one room of one real seat, served by gunicorn's gevent worker (tests/support/seat_server.py).
"""

import re

import pytest
from playwright.sync_api import expect

from tests.support.seat_server import served_room

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

LAPTOP = {"viewport": {"width": 1280, "height": 800}}
BUILD_MS = 600_000  # a first real build of cowserv on the seat's engine (apt-get from Debian's mirror)
STEP_MS = 60_000


@pytest.fixture(scope="module")
def seat_room(tmp_path_factory, instructor_token):
    with served_room(tmp_path_factory.mktemp("typed-e2e"), count=1, token=instructor_token,
                     students=False) as made:
        made.choose_lesson("cowserv")
        yield made


def test_the_images_lesson_typed_in_the_seats_terminal_turns_its_checks_and_the_grid_done(open_page, seat_room,
                                                                                           allowed_console_errors):
    allowed_console_errors.append(r"net::ERR_NETWORK_CHANGED|htmx:(sendError|afterRequest)")  # veths come and go
    seat, link = next(iter(seat_room.links.items()))
    student = open_page(link, instructor=False, base_url=seat_room.url, **LAPTOP)
    expect(student.locator("[data-seat]").first).to_have_attribute("data-seat", seat)
    terminal = student.locator("details[data-terminal]")
    expect(terminal).to_have_attribute("open", "")
    expect(terminal.locator("[data-terminal-status]")).to_have_text("Connected.", timeout=STEP_MS)
    teacher = open_page("/room", base_url=seat_room.url, **LAPTOP)
    steps = student.locator("section.step").evaluate_all("sections => sections.map(s => s.dataset.step)")
    commands = {step: student.locator(f"#step-{step} [data-cli]").first.text_content().strip() for step in steps}
    assert list(commands) == ["build", "run"], commands
    assert commands["run"] == "docker run -d -p 8000:8000 cowserv"
    for step, command in commands.items():
        terminal.locator(".xterm").click()
        student.keyboard.type(command)
        student.keyboard.press("Enter")
        timeout = BUILD_MS if step == "build" else STEP_MS
        expect(student.locator(f"#{step}-status")).to_have_attribute("data-check", "passed", timeout=timeout)
        cell = teacher.locator(f'td[data-seat="{seat}"][data-step="{step}"]')
        expect(cell).to_have_attribute("data-check", "passed", timeout=STEP_MS)
    rows = student.locator(".xterm-rows > div")
    expect(rows.filter(has_text=re.compile(r"^[0-9a-f]{64}\s*$"))).to_have_count(1)  # the run's id, typed
