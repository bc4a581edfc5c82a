"""Part 8's wallet in the browser: with the project up (by the lesson's `up` button), the page the webserver serves
on the host's port 8200 shows the balance, BUY and SELL change it, each answer names the API container that served
it, and the page logs no console error.

The project is the lesson's (`microservices`, fixed names and port 8200): tests/test_lesson_microservices.py's
fixture takes it down with its volume before and after, and removes the images it built.
"""

import pytest
from playwright.sync_api import expect

from tests.test_lesson_microservices import (
    LESSON,
    PORT,
    STARTS,
    balance,
    built,  # noqa: F401  (a fixture)
    micro_lesson,  # noqa: F401  (a fixture)
)
from tests.support.wallet_page import click_through, open_wallet
from tests.test_lessons_by_button import assert_passes, done

pytestmark = [pytest.mark.e2e, pytest.mark.engine]


def test_buy_and_sell_on_the_wallet_page(client, micro_lesson, browser, watch):
    done(client, LESSON, "up")
    assert_passes(client, LESSON, "up", timeout=STARTS)
    assert balance() == 0
    context = browser.new_context()  # the wallet's own origin: not the dashboard's
    try:
        watched = open_wallet(context, watch, PORT)
        page = watched.page
        click_through(page, (("BUY", "1"), ("BUY", "2"), ("SELL", "1")))
        expect(page.locator("#served")).to_have_text("answered by microservices-api-1")
        expect(page.locator("#error")).to_have_text("")
        assert balance() == 1  # the page's clicks reached the database
        assert watched.errors == []
    finally:
        context.close()
