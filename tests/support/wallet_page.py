"""The wallet page of parts 7 and 8 in the browser (Playwright): opened on its own origin, clicked as a student
would, each click's balance waited for."""

from playwright.sync_api import expect

ANSWER_TIMEOUT_MS = 15_000  # a click, the proxy, the API and Postgres, then the page's text


def open_wallet(context, watch, port):
    """The wallet page at the host's `port`, watched for console errors, showing a balance of 0; the watched page."""
    watched = watch(context.new_page(), "wallet")
    watched.page.goto(f"http://127.0.0.1:{port}/")
    expect(watched.page.get_by_role("heading", name="Wallet")).to_be_visible()
    expect(balance_shown(watched.page)).to_have_text("0", timeout=ANSWER_TIMEOUT_MS)
    return watched


def balance_shown(page):
    return page.locator("#balance")


def click_through(page, clicks):
    """Click each (button, balance expected after it) in turn, waiting for the page to show that balance."""
    for clicked, expected in clicks:
        page.get_by_role("button", name=clicked, exact=True).click()
        expect(balance_shown(page)).to_have_text(expected, timeout=ANSWER_TIMEOUT_MS)
