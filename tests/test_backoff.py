"""The one backoff: doubling from a base, capped, and sane for any number of attempts."""

from datetime import timedelta

from intake.backoff import backoff


def test_backoff_doubles_from_the_base():
    assert [backoff(60, n, timedelta(hours=1)).total_seconds() for n in range(0, 5)] == [60, 60, 120, 240, 480]


def test_backoff_never_exceeds_its_cap_even_after_countless_attempts():
    cap = timedelta(hours=1)
    assert backoff(60, 7, cap) == cap
    assert backoff(60, 100_000, cap) == cap  # no OverflowError from 2 ** attempts
