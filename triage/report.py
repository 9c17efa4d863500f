"""The triage report: verdict, summary and findings, in the contract's JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from triage.findings import Finding, verdict_for


@dataclass(frozen=True)
class Source:
    kind: str  # "attachment" | "link" | "zip" | "folder"
    name: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "url": self.url}


@dataclass(frozen=True)
class DocumentInfo:
    """One extracted document as the database and the report record it."""

    path: str  # posix path inside the submission
    size: int
    sha256: str
    mime: str  # sniffed from content
    element: str | None  # element number it is filed under, or None
    date: str | None = None  # ISO date of the document (triage.documentation), or None
    dated_by: str | None = None  # "name" | "text" | "metadata"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "mime": self.mime,
                "element": self.element, "date": self.date, "dated_by": self.dated_by}


@dataclass(frozen=True)
class Report:
    source: Source
    findings: list[Finding]
    summary: dict[str, Any] = field(default_factory=dict)
    documents: list[DocumentInfo] = field(default_factory=list)
    tracking_number: str | None = None

    @property
    def verdict(self) -> str:
        return verdict_for(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_number": self.tracking_number,
            "verdict": self.verdict,
            "source": self.source.to_dict(),
            "summary": self.summary,
            "findings": [f.to_dict() for f in self.findings],
            "documents": [d.to_dict() for d in self.documents],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The inverse of to_dict (the verdict is derived, so it is not read back)."""
        return cls(
            source=Source(**data["source"]),
            findings=[Finding(**f) for f in data.get("findings", [])],
            summary=dict(data.get("summary", {})),
            documents=[DocumentInfo(**d) for d in data.get("documents", [])],
            tracking_number=data.get("tracking_number"),
        )
