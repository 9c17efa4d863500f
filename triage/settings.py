"""Triage settings: the `[limits]` and `[triage]` configuration sections."""

from __future__ import annotations

from dataclasses import dataclass, field

MB = 1_000_000


@dataclass(frozen=True)
class ArchiveLimits:
    """`[limits]`: what a submission may weigh. Decided from the zip's directory before inflating."""

    max_archive_bytes: int = 300 * MB  # compressed size of one zip (or one download)
    max_unpacked_bytes: int = 2_000 * MB  # everything extracted, nested zips included
    max_entries: int = 10_000  # files and folders, nested zips included
    max_ratio: int = 100  # uncompressed:compressed, per entry
    max_nesting: int = 1  # zips inside the zip (element folders zipped one by one)
    max_message_bytes: int = 40 * MB  # an email larger than this is not downloaded whole


@dataclass(frozen=True)
class RuleSettings:
    """`[triage]`: the rules' vocabulary, thresholds and the operator's severity overrides."""

    vocabulary: str = "alberta-8"  # a file name in config/vocabularies/ without .toml
    max_employees: int = 10  # SECOR is for employers with at most 10 workers
    max_documents_per_folder: int = 26  # sampling guide: two a week for the busiest three months
    late_submission_days: int = 21  # days after the evaluation end a submission is on time (timing.late_submission)
    severities: dict[str, str] = field(default_factory=dict)  # code -> reject | warn | info
