"""`pip install .` (not only editable) gives a working app: the wheel carries templates, static files and the lessons."""

import subprocess
import sys
import zipfile
from pathlib import Path

from dashboard.domain.lessons import load_catalog

ROOT = Path(__file__).resolve().parent.parent
# Every file of every shipped lesson (dashboard/lessons/**): the lesson files and the files their steps use.
LESSON_FILES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "dashboard" / "lessons").rglob("*")
                      if path.is_file() and "__pycache__" not in path.parts)
SHIPPED_LESSON_IDS = load_catalog(ROOT / "dashboard" / "lessons").ids  # running, cowserv, realistic


def test_installed_wheel_serves_the_page_and_its_static_files(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, ROOT], check=True)
    [wheel] = tmp_path.glob("cowserv_dashboard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("dashboard/templates/lesson.html", "dashboard/templates/step.html",
                     "dashboard/templates/steps/port_run.html", "dashboard/static/dashboard.js",
                     "dashboard/static/vendor/htmx-2.0.11.min.js", *LESSON_FILES):
        assert expected in names

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel], check=True)
    probe = (
        "import dashboard, pathlib\n"
        "assert pathlib.Path(dashboard.__file__).is_relative_to(pathlib.Path.cwd()), dashboard.__file__\n"
        "client = dashboard.create_app({'TESTING': True}).test_client()\n"
        "page = client.get('/')\n"
        "assert page.status_code == 200 and b'data-cli' in page.data, page.status_code\n"
        "catalog = client.application.extensions['catalog']\n"
        "assert catalog.errors == [], catalog.errors\n"
        "for lesson in catalog.lessons:\n"
        "    assert client.get(f'/lessons/{lesson.id}').status_code == 200, lesson.id\n"
        "print(' '.join(catalog.ids))\n"
        "assert client.get('/static/vendor/htmx-2.0.11.min.js').status_code == 200\n"
        "print(dashboard.create_app().config['BUILD_CONTEXT'])\n"
    )
    home = tmp_path / "home"
    result = subprocess.run([sys.executable, "-c", probe], cwd=target, capture_output=True, text=True,
                            env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(home)})
    assert result.returncode == 0, result.stderr
    ids, context = result.stdout.strip().splitlines()
    assert len(SHIPPED_LESSON_IDS) >= 3
    assert ids.split() == SHIPPED_LESSON_IDS  # every shipped lesson loads from the installed package, in order
    # The images lesson is built from the workshop folder, written from the files the wheel ships.
    assert context == str(home / "docker-workshop" / "images")
    shipped = (target / "dashboard" / "lessons" / "03-images" / "Dockerfile").read_text()
    assert shipped == (ROOT / "dashboard" / "lessons" / "03-images" / "Dockerfile").read_text()
    assert (home / "docker-workshop" / "images" / "Dockerfile").read_text() == shipped
