"""Part 7's wallet in the browser: with the monolith running (by the lesson's run button), the page Caddy serves on
the host's port 8100 shows the balance, BUY and SELL change it, SELL at 0 says "nothing to sell", the lesson's buy
check passes from the page's BUY, and the page logs no console error.

The container and port are the lesson's (`wallet`, 8100): tests/test_lesson_monolith.py's fixtures give the image
(built once for the module) and remove the lesson's containers before and after.
"""

import pytest
from playwright.sync_api import expect

from tests.test_lesson_monolith import (
    LESSON,
    PORT,
    balance_answers,
    monolith,  # noqa: F401  (a fixture)
    wallet,
    wallet_image,  # noqa: F401  (a fixture)
    wallet_layers,  # noqa: F401  (a fixture)
)
from tests.support.wallet_page import ANSWER_TIMEOUT_MS, balance_shown, click_through, open_wallet
from tests.test_lessons_by_button import assert_fails, assert_passes, done

pytestmark = [pytest.mark.e2e, pytest.mark.engine]


def test_buy_and_sell_on_the_monolith_s_wallet_page(client, wallet_image, browser, watch):
    done(client, LESSON, "run")
    assert balance_answers() == 0
    assert_fails(client, LESSON, "buy")
    context = browser.new_context()  # the wallet's own origin: not the dashboard's
    try:
        watched = open_wallet(context, watch, PORT)
        page = watched.page
        shown, note = balance_shown(page), page.locator("#note")
        click_through(page, (("BUY", "1"), ("BUY", "2"), ("SELL", "1")))
        expect(note).to_have_text(f"answered by {wallet('GET', '/balance').json()['served_by']}")
        assert assert_passes(client, LESSON, "buy") == "The balance is 1."  # the page's BUY passes the step

        click_through(page, (("SELL", "0"),))
        page.get_by_role("button", name="SELL", exact=True).click()  # at 0: the API answers 409
        expect(note).to_have_text("nothing to sell", timeout=ANSWER_TIMEOUT_MS)
        expect(shown).to_have_text("0")
        assert balance_answers() == 0
        # The 409 is the one console line Chromium writes for a failed fetch; nothing else went wrong.
        assert [error for error in watched.errors if "409" not in error] == [], watched.errors
    finally:
        context.close()
