"""Tracking numbers: format, per-year counters, rollbacks, and two allocators racing on one database."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from intake.cases.tracking import allocate_tracking_number, find_tracking_numbers, format_tracking_number
from intake.db import TrackingCounter

PER_ALLOCATOR = 200


def test_numbers_count_up_per_year_in_the_contract_format(db_sessions) -> None:
    with db_sessions.begin() as session:
        first = allocate_tracking_number(session, 2026)
        second = allocate_tracking_number(session, 2026)
        other_year = allocate_tracking_number(session, 2027)
    assert (first, second, other_year) == ("SECOR-2026-000001", "SECOR-2026-000002", "SECOR-2027-000001")
    assert re.fullmatch(r"SECOR-\d{4}-\d{6}", first)
    with db_sessions() as session:
        assert dict(session.execute(select(TrackingCounter.year, TrackingCounter.last_value)).all()) == \
            {2026: 2, 2027: 1}


def test_a_rolled_back_allocation_never_causes_a_duplicate(db_sessions) -> None:
    with db_sessions.begin() as session:
        kept = allocate_tracking_number(session, 2026)
    with db_sessions() as session:
        allocate_tracking_number(session, 2026)
        session.rollback()
    with db_sessions.begin() as session:
        after = allocate_tracking_number(session, 2026)
    assert after != kept and after > kept


def test_two_allocators_at_once_never_share_a_number(db_sessions) -> None:
    """Two threads, each with its own connection and one transaction per number, start together."""
    start = threading.Barrier(2)
    results: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def allocate(out: list[str]) -> None:
        try:
            start.wait()
            for _ in range(PER_ALLOCATOR):
                with db_sessions.begin() as session:
                    out.append(allocate_tracking_number(session, 2026))
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=allocate, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every = results[0] + results[1]
    assert len(every) == 2 * PER_ALLOCATOR
    assert len(set(every)) == len(every), "a tracking number was handed out twice"
    # no rollbacks here, so no gaps either
    assert sorted(every) == [format_tracking_number(2026, n) for n in range(1, 2 * PER_ALLOCATOR + 1)]
    assert results[0] == sorted(results[0]) and results[1] == sorted(results[1])


def test_format_tracking_number_refuses_what_does_not_fit() -> None:
    assert format_tracking_number(2026, 42) == "SECOR-2026-000042"
    with pytest.raises(ValueError):
        format_tracking_number(2026, 1_000_000)
    with pytest.raises(ValueError):
        format_tracking_number(26, 1)


def test_find_tracking_numbers_in_subjects_references_and_bodies() -> None:
    assert find_tracking_numbers("Re: Acme SECOR 2026 [SECOR-2026-000042]") == ["SECOR-2026-000042"]
    references = "<CAF=abc@mail.gmail.com> <SECOR-2026-000042.9f8e7d6c5b4a3921@youracsa.ca>"
    assert find_tracking_numbers(references) == ["SECOR-2026-000042"]
    body = ("Hello, about secor-2026-000007 (our earlier case) and SECOR-2025-000310.\n"
            "> Your tracking number is SECOR-2026-000007.")
    assert find_tracking_numbers(body) == ["SECOR-2026-000007", "SECOR-2025-000310"]


@pytest.mark.parametrize("text", ["SECOR-2026-0000421", "XSECOR-2026-000042", "SECOR-26-000042",
                                  "SECOR 2026 000042", "COR-2026-000042", ""])
def test_find_tracking_numbers_ignores_near_misses(text: str) -> None:
    assert find_tracking_numbers(text) == []
