"""The `Authentication-Results` header (RFC 8601) of our own mail server: SPF, DKIM and DMARC results.

Anyone can write such a header into an email, so only the one whose authserv-id is our server's
(`[mailbox] authserv_id`) counts, and of those only the topmost (the one our server added last; a
conforming server removes older ones that claim its id). Comments are dropped, quoted strings kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("spf", "dkim", "dmarc")


@dataclass(frozen=True)
class AuthResults:
    """Per method, the result our server wrote (`pass`, `fail`, `none`, `temperror`...), or None."""

    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    properties: dict[str, dict[str, str]] = field(default_factory=dict)  # method -> {"header.from": ...}

    def as_dict(self) -> dict[str, str | None]:
        return {"spf": self.spf, "dkim": self.dkim, "dmarc": self.dmarc}


def _strip_comments(value: str) -> str:
    """The value without (comments), nested ones included; quoted strings and escapes kept."""
    out, depth, quoted, escaped = [], 0, False, False
    for ch in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            quoted = ch != '"'
            out.append(ch)
        elif ch == '"' and depth == 0:
            quoted = True
            out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _split(value: str, separator: str) -> list[str]:
    """`value` split on `separator` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """One header value as (authserv-id, [(method, result, {property: value})])."""
    parts = _split(_strip_comments(value).replace("\r", " ").replace("\n", " "), ";")
    authserv_id = (parts[0].split() or [""])[0].strip('"').lower()
    results = []
    for resinfo in parts[1:]:
        tokens = [t for t in _split(resinfo.strip(), " ") if t]
        if not tokens or "=" not in tokens[0]:
            continue  # "none", or something that is not a result
        method, _, result = tokens[0].partition("=")
        properties = {}
        for token in tokens[1:]:
            name, sep, prop = token.partition("=")
            if sep:
                properties[name.lower()] = prop.strip('"')
        results.append((method.split("/")[0].strip().lower(), result.strip().lower(), properties))
    return authserv_id, results


def from_headers(headers: list[tuple[str, str]], authserv_id: str) -> AuthResults | None:
    """What our server (`authserv_id`) wrote about this email; None when it wrote nothing we can read
    (or no authserv_id is configured)."""
    if not authserv_id:
        return None
    ours = authserv_id.strip().lower()
    for name, value in headers:
        if name.lower() != "authentication-results":
            continue
        server, results = parse(value)
        if server != ours:
            continue  # written by someone else: anyone can add such a header
        found: dict[str, str] = {}
        properties: dict[str, dict[str, str]] = {}
        for method, result, props in results:
            if method not in METHODS:
                continue
            # Several DKIM signatures: one that passes is enough.
            if method not in found or (result == "pass" and found[method] != "pass"):
                found[method], properties[method] = result, props
        return AuthResults(properties=properties, **found)
    return None
