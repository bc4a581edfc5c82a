"""The presenter screen: readable from the back of a room, usable without a mouse, right from a phone to 1080p."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .test_lesson import REFRESH_TIMEOUT_MS, build_cowserv, row_of, run_container

pytestmark = pytest.mark.e2e

SCREENS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
SIZES = {"projector-1280x720": (1280, 720), "fullhd-1920x1080": (1920, 1080), "phone-390x844": (390, 844)}
FULL_HD = {"width": 1920, "height": 1080}
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
SMOOTH_SCROLL_MS = 1_500  # long enough for a smooth scroll the page might start to have moved it


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


def test_the_active_step_stands_out_and_follows_the_lesson(open_page, cowserv_image, docker_client, engine_cleanup):
    """The image built (its check passed), the lesson is at Run, the step after it; a container made from the CLI
    is announced with the steps done, once, and leaves the lesson where it was. (The build as the active step
    while it runs: test_lesson's whole lesson by clicks.)"""
    page = open_page("/present", instructor=False)
    expect(page.locator("section.step.active")).to_have_count(1)
    expect(page.locator("section.step[data-step='build']")).to_have_attribute("data-check", "passed",
                                                                             timeout=10_000)
    expect(page.locator("section.step.active")).to_have_attribute("data-step", "run")
    active = page.locator("section.step.active")
    assert active.evaluate("element => getComputedStyle(element).boxShadow") != "none", "the active step is plain"
    container_id = docker_client.api.create_container("cowserv:latest")["Id"]
    engine_cleanup.container(container_id)
    expect(page.locator(f'[data-container-id="{container_id}"]')).to_be_visible(timeout=10_000)
    expect(page.locator("section.step.active")).to_have_count(1)
    expect(page.locator("section.step.active")).to_have_attribute("data-step", "run")
    # Announced once, politely, rather than the whole refreshed list being read out.
    announce = page.locator("#announce")
    expect(announce).to_have_attribute("aria-live", "polite")
    expect(announce).to_have_text(re.compile(r"^[12] of 2 steps done; \d+ containers?\.$"))


def font_px(locator):
    return float(locator.evaluate("element => getComputedStyle(element).fontSize").removesuffix("px"))


def test_the_build_log_reads_from_the_back_of_the_room(open_page, cowserv_image):
    """On the 1080p projector the build log is set at presenter size, as the commands are."""
    page = open_page("/present", viewport=FULL_HD)
    build_cowserv(page)
    log = page.locator("#build-panel ol.build-log")
    assert font_px(log) >= 18, f"the build log is {font_px(log)}px on the projector"
    assert font_px(log.locator("li").first) >= 18


def test_the_presenter_screen_follows_the_lesson(open_page, cowserv_image, engine_cleanup, free_port):
    """Build, then Run, as the instructor does in class: each time the screen shows the step the lesson is at,
    and after Run what it printed (the new container's id, its link and check), without anyone scrolling."""
    page = open_page("/present", viewport=FULL_HD)
    build_cowserv(page)
    expect(page.locator("section.step.active")).to_be_in_viewport()
    container_id = run_container(page, free_port, engine_cleanup)
    row = row_of(page, container_id)
    expect(row).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    expect(page.locator("section.step.active")).to_have_attribute("data-step", "run")
    expect(page.locator("#run-status [data-run-output]")).to_have_text(container_id)
    expect(page.locator("#run-status")).to_be_in_viewport(ratio=1)
    expect(page.locator("section.step.active")).to_be_in_viewport()


def test_the_presenter_screen_stays_where_it_was_scrolled_by_hand(
    open_page, cowserv_image, docker_client, engine_cleanup
):
    """Once the presenter has scrolled by hand (here, to the Dockerfile), a change of the lesson does not move
    the page: the presenter is showing something on purpose."""
    page = open_page("/present", instructor=False, viewport=FULL_HD)
    expect(page.locator("section.step.active")).to_have_count(1)
    expect(page.locator("section.step.active")).to_have_attribute("data-step", "run")
    expect(page.locator("section.step.active")).to_be_in_viewport(ratio=1)  # the page's own follow to it ended
    page.wait_for_timeout(SMOOTH_SCROLL_MS)  # (a smooth scroll still going would carry on past the hand's)
    build = page.locator("section.step[data-step='build']")
    page.mouse.move(900, 500)
    # By hand into the Dockerfile, 200 px into the build step, from wherever the page stands now.
    page.mouse.wheel(0, build.evaluate("element => element.getBoundingClientRect().top") + 200)
    page.wait_for_function("() => window.scrollY > 0")
    page.wait_for_timeout(SMOOTH_SCROLL_MS)
    expect(page.locator("section.step.active")).not_to_be_in_viewport(ratio=1)  # something else, on purpose
    scrolled_to = page.evaluate("() => window.scrollY")
    announced = page.locator("#announce").text_content()

    container_id = docker_client.api.create_container("cowserv:latest")["Id"]
    engine_cleanup.container(container_id)
    expect(row_of(page, container_id)).to_have_count(1, timeout=REFRESH_TIMEOUT_MS)
    expect(page.locator("#announce")).not_to_have_text(announced)  # the lesson moved on: a follow was due
    page.wait_for_timeout(SMOOTH_SCROLL_MS)
    assert page.evaluate("() => window.scrollY") == scrolled_to, "the page moved after the presenter scrolled"
    expect(page.locator("section.step.active")).not_to_be_in_viewport(ratio=1)


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
