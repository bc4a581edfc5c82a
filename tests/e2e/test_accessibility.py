"""Every page checked with axe-core: no serious or critical violation, signed out and in, on a laptop and a phone.

axe-core comes from the npm registry (scripts/test installs it into .test-tools/). The page's CSP rightly refuses
inline script, so the pages are opened in contexts that bypass it, for axe's script alone.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import free_tcp_port

from .test_lesson import REFRESH_TIMEOUT_MS, build_cowserv, row_of, run_container

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / ".test-tools" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = ["/", "/present", "/room", "/signin", "/no-such-page",
         "/lessons", "/lessons/running", "/lessons/realistic"]
VIEWPORTS = {"laptop-1280x720": (1280, 720), "phone-390x844": (390, 844)}

# The serious and critical violations, each with up to five of the elements at fault.
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v =>
    `${v.impact} ${v.id}: ${v.help}\\n` +
    v.nodes.slice(0, 5).map(node => `    ${node.target.join(" ")}: ${node.failureSummary.replace(/\\s+/g, " ")}`)
      .join("\\n"));
}"""


@pytest.fixture(scope="session")
def axe_script():
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: scripts/test installs it (npm install --prefix .test-tools axe-core@4)")
    return AXE


def axe_violations(page, axe_script):
    """What axe finds wrong, serious or critical, on the page as it is now."""
    page.add_script_tag(path=axe_script)
    return page.evaluate(RUN_AXE)


@pytest.fixture
def lesson_in_progress(open_page, cowserv_image, engine_cleanup, free_port):
    """Something for axe to look at: a build's log, a running container (row, transcript entry, the run step's
    status with its check) and a step's printed output on the running-containers lesson, all made through the page; returns the instructor's page and the container's id."""
    page = open_page("/", bypass_csp=True)
    build_cowserv(page)
    container_id = run_container(page, free_port, engine_cleanup)
    expect(row_of(page, container_id)).to_be_visible(timeout=REFRESH_TIMEOUT_MS)

    page.goto("/lessons/running")  # `docker ps` lists, and starts nothing
    page.locator("#step-ps").get_by_role("button", name="List", exact=True).click()
    expect(page.locator("#ps-status [data-step-output]")).to_be_visible(timeout=REFRESH_TIMEOUT_MS)

    page.goto("/")
    return page, container_id


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_no_serious_accessibility_violation_on_any_page(
    lesson_in_progress, open_page, allowed_console_errors, axe_script, viewport
):
    allowed_console_errors.append(r"status of 404")  # the error page is one
    width, height = VIEWPORTS[viewport]
    found = []
    for role, instructor in (("read-only", False), ("instructor", True)):
        page = open_page(None, instructor=instructor, bypass_csp=True, viewport={"width": width, "height": height})
        for path in PAGES:
            page.goto(path)
            found += [f"{role} {path}: {violation}" for violation in axe_violations(page, axe_script)]
    assert not found, "axe found serious or critical violations:\n" + "\n".join(found)


def test_no_serious_accessibility_violation_after_run_logs_and_cow(open_page, cowserv_image, engine_cleanup, axe_script):
    """What Run prints, then a row's logs and its cow, on the lesson page and on the presenter view."""
    page = open_page(None, bypass_csp=True)
    found = []
    for path in ("/", "/present"):
        page.goto(path)
        container_id = run_container(page, free_tcp_port(), engine_cleanup)
        row = page.locator("#containers tbody.container").filter(
            has=page.locator(f'tr[data-container-id="{container_id}"]'))
        for button, shown in (("Logs", "Logs of"), ("Is it answering?", f"Is {container_id[:12]} answering?")):
            row.get_by_role("button", name=button).click()
            expect(page.locator("#container-detail")).to_contain_text(shown, timeout=REFRESH_TIMEOUT_MS)
            found += [f"{path} after {button}: {violation}" for violation in axe_violations(page, axe_script)]
    assert not found, "axe found serious or critical violations:\n" + "\n".join(found)
