"""The shipped lessons, a folder each (`NN-name/lesson.toml` and its files); `python -m dashboard.lessons check DIR`
validates lesson folders before a start (see domain/lessons.py for the format)."""
