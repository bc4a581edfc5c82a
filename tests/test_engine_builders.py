"""The build command the page shows, run the way a student's terminal runs it on a current engine: with BuildKit.

Runs where scripts/engine26 made Docker Engine 26 with its own CLI and buildx (ENGINE26_ROOT, in scripts/test's
second pass): the shown command, pasted into bash in that root, builds with BuildKit, accepts every flag it
carries (--force-rm included), and prints what the page's builder note says it prints.
"""

import html
import os
import re
import subprocess
import uuid

import pytest

from dashboard import create_app
from dashboard.web.views import build_plan, current_lesson

pytestmark = [
    pytest.mark.engine,
    pytest.mark.engine_specific,  # BuildKit, as Engine 26's CLI builds
    pytest.mark.skipif(not os.environ.get("ENGINE26_ROOT"), reason="needs scripts/engine26's root (pass 2)"),
]


def in_engine26_root(command):
    """Run `command` in bash inside the Engine 26 root, whose docker CLI has buildx, as a student's would."""
    return subprocess.run(["chroot", os.environ["ENGINE26_ROOT"], "bash", "-c", command],
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_HOST": "unix:///run/docker.sock",
                               "BUILDKIT_PROGRESS": "plain"},
                          capture_output=True, text=True, timeout=600)


def test_the_shown_build_command_builds_with_buildkit_and_says_cached_when_rebuilt(tmp_path, docker_client):
    tag = f"test-{uuid.uuid4().hex[:10]}"
    app = create_app({"TESTING": True, "IMAGE": tag, "TRANSCRIPT_PATH": str(tmp_path / "t.sqlite3")})
    with app.test_request_context():
        command = build_plan(current_lesson()).command
    assert "--force-rm" in command
    try:
        first = in_engine26_root(command)
        assert first.returncode == 0, first.stderr
        again = in_engine26_root(command)
        assert again.returncode == 0, again.stderr
        assert "Step 1/" not in first.stderr + first.stdout  # BuildKit, not the classic builder
        assert "[1/3] FROM" in again.stderr and "CACHED" in again.stderr
        assert docker_client.images.get(tag).labels["classroom.lesson"] == "cowserv"
        # The page's builder note shows lines the student's terminal really printed.
        shown = re.findall(r"<code data-buildkit-line>([^<]*)</code>", app.test_client().get("/").text)
        assert len(shown) == 2, shown
        printed = again.stderr.splitlines()
        for line in shown:
            start = html.unescape(line).removesuffix("…").rstrip()
            assert any(real.startswith(start) for real in printed), (line, printed)
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
