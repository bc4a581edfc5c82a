"""dashboard/web/filters.py: the template filters for ages and the host a browser used."""

from datetime import datetime, timedelta, timezone

import pytest

from dashboard.web.filters import ago, browser_host, size


def before_now(**delta):
    return datetime.now(timezone.utc) - timedelta(**delta)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        ({"seconds": 0}, "0 seconds ago"),
        ({"seconds": 42, "milliseconds": 300}, "42 seconds ago"),
        ({"seconds": 60, "milliseconds": 300}, "1 minute ago"),
        ({"minutes": 5, "seconds": 10}, "5 minutes ago"),
        ({"minutes": 59, "seconds": 59}, "59 minutes ago"),
        ({"hours": 1, "seconds": 1}, "1 hour ago"),
        ({"hours": 23, "minutes": 59}, "23 hours ago"),
        ({"days": 1, "seconds": 1}, "1 day ago"),
        ({"days": 3, "hours": 5}, "3 days ago"),
    ],
)
def test_ago(delta, expected):
    assert ago(before_now(**delta)) == expected


def test_ago_one_second_is_singular():
    assert ago(before_now(seconds=1, milliseconds=300)) == "1 second ago"


def test_ago_of_a_moment_in_the_future_is_zero_seconds():
    # A clock skew between the engine and the dashboard must not give "-3 seconds ago".
    assert ago(datetime.now(timezone.utc) + timedelta(seconds=30)) == "0 seconds ago"


def test_ago_of_a_moment_in_another_timezone():
    cet = timezone(timedelta(hours=1))

    assert ago(datetime.now(cet) - timedelta(minutes=2, seconds=5)) == "2 minutes ago"


def test_size_reads_as_docker_history_does():
    assert size(0) == "0B"
    assert size(263) == "263B"
    assert size(137_130_179) == "137MB"
    assert size(1_250_000) == "1.25MB"
    assert size(2_500_000_000) == "2.5GB"


@pytest.mark.parametrize(
    ("host_header", "expected"),
    [
        ("127.0.0.1:5000", "127.0.0.1"),
        ("[::1]:5000", "[::1]"),
        ("[::1]", "[::1]"),
        ("example.org", "example.org"),
        ("example.org:8080", "example.org"),
        ("Classroom.Example.ORG:5000", "classroom.example.org"),
        ("localhost:5000", "localhost"),
        ("", "localhost"),  # what Werkzeug gives for a missing or invalid Host header
    ],
)
def test_browser_host(host_header, expected):
    assert browser_host(host_header) == expected


def test_browser_host_of_a_malformed_ipv6_host_falls_back_to_localhost():
    assert browser_host("[1:2:3]:5000") == "localhost"
