"""Every page: each docker command readable whole beside its Copy button, and an obvious way back to the lesson."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

WIDTHS = {"laptop-1366x768": (1366, 768), "phone-390x844": (390, 844)}
BACK = "← Back to the lesson"

# For every visible command box: where its code ends, where its Copy button starts, and whether the code's text
# stays inside the code element (wrapped) or can be scrolled to there.
COMMAND_BOXES = """() => [...document.querySelectorAll(".cli")].filter(cli => cli.getClientRects().length).map(cli => {
  const code = cli.querySelector("code[data-cli]"), button = cli.querySelector("button.copy");
  const [box, codeBox, buttonBox] = [cli, code, button].map(element => element.getBoundingClientRect());
  const overflowX = getComputedStyle(code).overflowX;
  return {text: code.textContent, codeRight: codeBox.right, buttonLeft: buttonBox.left,
          buttonRight: buttonBox.right, boxRight: box.right,
          hiddenText: code.scrollWidth > code.clientWidth + 1 && !["auto", "scroll"].includes(overflowX)};
})"""


def assert_commands_clear_of_their_buttons(page):
    boxes = page.evaluate(COMMAND_BOXES)
    assert boxes, "no command on the page"
    wrong = []
    for box in boxes:
        if box["codeRight"] > box["buttonLeft"] + 0.5:
            wrong.append(f"runs {box['codeRight'] - box['buttonLeft']:.0f}px under its Copy button: {box['text']}")
        if box["hiddenText"]:
            wrong.append(f"overflows its box, neither wrapped nor scrollable: {box['text']}")
        if box["buttonRight"] > box["boxRight"] + 0.5:
            wrong.append(f"pushes its Copy button out of the box: {box['text']}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", ["/", "/present", "/lessons/running", "/lessons/realistic"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_long_commands_never_run_under_the_copy_button(open_page, path, width):
    """The build command with `--build-arg BASE_IMAGE=…`, the bind-mount run and the edit's
    heredoc: wrapped in their box, beside the button."""
    w, h = WIDTHS[width]
    page = open_page(path, viewport={"width": w, "height": h})
    expect(page.locator(".cli").first).to_be_visible()
    assert_commands_clear_of_their_buttons(page)


@pytest.mark.parametrize("path", ["/room", "/signin", "/no-such-page", "/lessons"])
@pytest.mark.parametrize("instructor", [False, True], ids=["read-only", "instructor"])
def test_every_page_leads_back_to_the_lesson(open_page, allowed_console_errors, path, instructor):
    """The room page, the sign-in page, an error page and the list of lessons each show a
    link back to "/", the current lesson (the images lesson unless the instructor picked another)."""
    allowed_console_errors.append(r"status of 404")  # the error page is one
    page = open_page(path, instructor=instructor)
    back = page.get_by_role("link", name=BACK, exact=True)
    expect(back).to_be_visible()
    expect(back).to_have_attribute("href", "/")
    back.click()
    expect(page.locator("section.intro[data-lesson='cowserv']")).to_be_visible()
    expect(page.locator("section.step[data-step='build']")).to_be_visible()
