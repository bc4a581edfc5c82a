"""The presenter screen: readable from the back of a room, usable without a mouse, right from a phone to 1080p."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

SCREENS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
SIZES = {"projector-1280x720": (1280, 720), "fullhd-1920x1080": (1920, 1080), "phone-390x844": (390, 844)}
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def test_the_presenter_view_is_a_toggle_and_a_url(open_page):
    page = open_page("/", instructor=False)
    page.get_by_role("link", name="Presenter view").click()
    expect(page).to_have_url(re.compile(r"/present$"))
    expect(page.locator("body")).to_have_class("presenter")
    page.get_by_role("link", name="Leave presenter view").click()
    expect(page.locator("body")).not_to_have_class("presenter")


def test_commands_read_from_the_back_of_the_room_on_a_720p_projector(open_page):
    page = open_page("/present", instructor=False, viewport={"width": 1280, "height": 720})
    command = page.locator("#run-cli [data-cli]")
    size = float(command.evaluate("element => getComputedStyle(element).fontSize").removesuffix("px"))
    assert size >= 28, f"the run command is {size}px on the projector"
    colours = command.evaluate("element => [getComputedStyle(element).color, "
                               "getComputedStyle(element.closest('.cli')).backgroundColor]")
    assert colours == ["rgb(255, 255, 255)", "rgb(0, 0, 0)"]  # white on black


def test_the_active_step_stands_out_and_follows_the_lesson(open_page, docker_client, engine_cleanup):
    page = open_page("/present", instructor=False)
    expect(page.locator("section.step.active")).to_have_count(1)
    container_id = docker_client.api.create_container("cowserv:latest")["Id"]
    engine_cleanup.container(container_id)
    expect(page.locator(f'[data-container-id="{container_id}"]')).to_be_visible(timeout=10_000)
    expect(page.locator("section.step.active")).to_have_attribute("data-step", "3")
    # Announced once, politely, rather than the whole refreshed list being read out.
    announce = page.locator("#announce")
    expect(announce).to_have_attribute("aria-live", "polite")
    expect(announce).to_have_text(re.compile(r"^\d+ tutorial containers?\.$"))


def test_the_buttons_are_reachable_by_keyboard_with_a_visible_focus(open_page):
    page = open_page("/")
    build = page.get_by_role("button", name="Build cowserv")
    for _ in range(40):
        page.keyboard.press("Tab")
        if build.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the Build button")
    outline = build.evaluate("element => [getComputedStyle(element).outlineStyle, getComputedStyle(element).outlineWidth]")
    assert outline[0] != "none" and float(outline[1].removesuffix("px")) >= 2


@pytest.mark.parametrize("view", ["/", "/present"])
@pytest.mark.parametrize("name", list(SIZES))
def test_the_page_fits_every_screen_from_a_phone_to_1080p(open_page, view, name):
    width, height = SIZES[name]
    page = open_page(view, instructor=False, viewport={"width": width, "height": height})
    expect(page.locator("#containers")).to_be_visible()
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENS / f"{'presenter' if view == '/present' else 'page'}-{name}.png", full_page=True)
    assert page.evaluate(OVERFLOW) <= 0, "the page scrolls sideways"
    expect(page.locator("[data-cli]").first).to_be_visible()
