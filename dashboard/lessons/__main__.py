"""`python -m dashboard.lessons check [DIR]`: validate a lesson folder, or a folder of them (default: the shipped
lessons), naming the file, the step and the field of each mistake; exits 1 when any lesson is refused."""

import argparse
import sys
from pathlib import Path

from ..domain.lessons import LESSON_FILE, LessonError, load_catalog, load_lesson


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dashboard.lessons", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate lesson folders")
    check.add_argument("folder", nargs="?", default=str(Path(__file__).parent),
                       help="a lesson folder (with lesson.toml), or a folder of them")
    arguments = parser.parse_args(argv)
    folder = Path(arguments.folder)
    if (folder / LESSON_FILE).is_file():
        try:
            lessons, errors = [load_lesson(folder)], []
        except LessonError as error:
            lessons, errors = [], [str(error)]
    elif folder.is_dir():
        catalog = load_catalog(folder)
        lessons, errors = catalog.lessons, catalog.errors
    else:
        print(f"{folder}: not a folder", file=sys.stderr)
        return 2
    for lesson in lessons:
        print(f"ok: {lesson.source / LESSON_FILE}: {lesson.id} ({len(lesson.steps)} steps)")
    for message in errors:
        print(f"refused: {message}", file=sys.stderr)
    if not lessons and not errors:
        print(f"{folder}: no folder here holds a {LESSON_FILE}", file=sys.stderr)
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
