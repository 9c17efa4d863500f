"""Bidirectional-text controls made visible wherever submitted text is shown.

A right-to-left override in a file name (`photo<U+202E>gpj.html` reads "photolmth.jpg") or a
subject disguises what it is. Every page, report and email we write shows each such control as
`[U+202E]`: the text reads in its stored order and the trick is in plain view (issue 24).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

# ALM, LRM, RLM, the embeddings and overrides (LRE RLE PDF LRO RLO), the isolates (LRI RLI FSI PDI).
BIDI_CONTROLS = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_VISIBLE = {code: f"[U+{code:04X}]" for code in BIDI_CONTROLS}


def show_bidi(text: str) -> str:
    """`text` with every bidi control written out as `[U+XXXX]`."""
    return text.translate(_VISIBLE)


def finalize(value: Any) -> Any:
    """A Jinja2 `finalize` hook: every printed string passes through `show_bidi`."""
    if isinstance(value, Markup):
        return Markup(show_bidi(str(value)))
    return show_bidi(value) if isinstance(value, str) else value
