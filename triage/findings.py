"""Findings, severities and verdicts: the vocabulary every rule and report shares."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Mapping

REJECT = "reject"
WARN = "warn"
INFO = "info"
SEVERITIES = (REJECT, WARN, INFO)

ACCEPTED = "accepted"
NEEDS_REVIEW = "needs_review"
RETURNED = "returned"
VERDICTS = (ACCEPTED, NEEDS_REVIEW, RETURNED)


@dataclass(frozen=True)
class CodeInfo:
    code: str
    severity: str
    description: str
    audience: str = "submitter"  # "qa": internal (company history), never quoted to the submitter


@lru_cache(maxsize=1)
def known_codes() -> Mapping[str, CodeInfo]:
    """Every finding code with its default severity, read from config/severities.toml."""
    text = resources.files("secor_config").joinpath("severities.toml").read_text(encoding="utf-8")
    codes = tomllib.loads(text)["codes"]
    return {
        code: CodeInfo(code=code, severity=entry["severity"], description=entry["description"],
                       audience=entry.get("audience", "submitter"))
        for code, entry in codes.items()
    }


@dataclass(frozen=True)
class Finding:
    """One thing triage noticed. `message` is plain language, fit to quote to the submitter."""

    code: str
    severity: str
    path: str | None
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def finding(code: str, message: str, path: str | None = None) -> Finding:
    """A finding at its code's default severity; `apply_severities` applies the operator's overrides."""
    info = known_codes().get(code)
    if info is None:
        raise KeyError(f"unknown finding code {code!r}: add it to config/severities.toml")
    return Finding(code=code, severity=info.severity, path=path, message=message)


def apply_severities(findings: Iterable[Finding], overrides: Mapping[str, str]) -> list[Finding]:
    """Findings with the operator's configured severity per code."""
    out = []
    for f in findings:
        severity = overrides.get(f.code, f.severity)
        out.append(Finding(f.code, severity, f.path, f.message) if severity != f.severity else f)
    return out


def validate_severity_overrides(overrides: Mapping[str, str]) -> None:
    """Raise ValueError naming the first unknown code or severity."""
    codes = known_codes()
    for code, severity in overrides.items():
        if code not in codes:
            raise ValueError(f"unknown finding code {code!r}")
        if severity not in SEVERITIES:
            raise ValueError(f"severity for {code!r} must be one of {', '.join(SEVERITIES)}, not {severity!r}")


def for_submitter(findings: Iterable[Finding]) -> list[Finding]:
    """The findings a submitter may read (replies, report.txt): internal ones (audience "qa") left out."""
    codes = known_codes()
    return [f for f in findings if codes.get(f.code) is None or codes[f.code].audience != "qa"]


def verdict_for(findings: Iterable[Finding]) -> str:
    """returned if any finding rejects, needs_review if any warns, else accepted."""
    severities = {f.severity for f in findings}
    if REJECT in severities:
        return RETURNED
    if WARN in severities:
        return NEEDS_REVIEW
    return ACCEPTED
