"""The limit on wrong guesses (domain/failures.py), with no web: failures only count, per address, within the
window; past the limit every wrong try of that address is refused with how long to wait, while a right one still
passes; memory stays bounded."""

import threading

import pytest

from dashboard.domain.failures import FailureLimit, TooManyFailures


def test_the_eleventh_wrong_try_after_ten_failures_is_refused_with_when_to_try_again():
    limit = FailureLimit(10, 300)
    for second in range(10):
        assert limit.attempt("192.0.2.1", False, now=1000 + second) is False
    with pytest.raises(TooManyFailures) as refused:
        limit.attempt("192.0.2.1", False, now=1010)
    assert refused.value.retry_after == 290  # the first failure leaves the window at 1300
    assert "try again in 290 s" in str(refused.value)
    assert limit.attempt("192.0.2.2", False, now=1010) is False  # another address is not held back
    assert limit.attempt("192.0.2.1", False, now=1300) is False  # the first failure left the window


def test_a_right_guess_passes_even_past_the_limit():
    """One student behind the class's NAT sending junk cannot lock the class out of its own links: a right guess
    is unguessable, so letting it through costs nothing, and wrong ones keep getting refused."""
    limit = FailureLimit(10, 300)
    for second in range(10):
        limit.attempt("192.0.2.1", False, now=1000 + second)
    assert limit.attempt("192.0.2.1", True, now=1011) is True
    with pytest.raises(TooManyFailures):
        limit.attempt("192.0.2.1", False, now=1012)
    assert limit.attempt("192.0.2.1", True, now=1013) is True


def test_successes_never_count():
    limit = FailureLimit(10, 300)
    for second in range(1000):  # a class behind one address opening its links
        assert limit.attempt("192.0.2.1", True, now=second / 10)
    for _ in range(10):
        assert limit.attempt("192.0.2.1", False, now=100) is False  # the ten failures allowed, all still there


def test_a_failure_that_does_not_count_is_not_counted():
    limit = FailureLimit(2, 60)
    for _ in range(5):
        assert limit.attempt("a", False, counts=False, now=1) is False
    assert limit.attempt("a", False, now=1) is False


def test_the_addresses_tracked_are_capped_oldest_first():
    limit = FailureLimit(1, 300, max_clients=100)
    for number in range(1000):
        limit.attempt(f"198.51.100.{number}", False, now=1)
    assert limit.attempt("198.51.100.899", False, now=1) is False  # forgotten: the oldest 900 went first
    with pytest.raises(TooManyFailures):
        limit.attempt("198.51.100.901", False, now=1)  # the newest 100 are still tracked


def test_failures_from_many_threads_are_all_counted():
    limit = FailureLimit(400, 300)
    workers = [threading.Thread(target=lambda: [limit.attempt("a", False, now=1) for _ in range(100)])
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with pytest.raises(TooManyFailures):
        limit.attempt("a", False, now=2)


def test_the_limit_and_window_must_make_sense():
    for limit, window, clients in ((0, 300, 10), (10, 0, 10), (10, 300, 0)):
        with pytest.raises(ValueError):
            FailureLimit(limit, window, clients)
