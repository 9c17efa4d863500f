"""How the registers compare people and WCB accounts.

WCB account numbers by their digits (`12-345 67` = `1234567`). Person names without case, diacritics,
punctuation or extra spaces, in either order (`Nguyen, Tom` = `Tom Nguyen`): the key is the name's
words, sorted. A name that only *may* be the same person (`T. Nguyen` and `Tom Nguyen`, `Tom Nguyen`
and `Tom A. Nguyen`) is a possible match: shown to QA, never a finding either way.
"""

from __future__ import annotations

import re
import unicodedata

ACCOUNT_DIGITS = (6, 10)  # a WCB account number's length, as triage.tool_facts reads it
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def account_digits(text: str | None) -> str | None:
    """The WCB account number in `text` as its digits, or None when it is not 6 to 10 digits."""
    digits = "".join(ch for ch in text or "" if ch.isdigit())
    low, high = ACCOUNT_DIGITS
    return digits if low <= len(digits) <= high else None


def name_words(name: str) -> list[str]:
    """The words of a person's name, lower case, without diacritics or punctuation (`Nguyễn, Tom` ->
    ['nguyen', 'tom'])."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return [w for w in _NOT_WORD.split(plain.casefold()) if w]


def name_key(name: str) -> str:
    """What two names must share to be the same person: their words in sorted order."""
    return " ".join(sorted(name_words(name)))


def _word_fits(short: str, long: str) -> bool:
    return short == long or (len(short) == 1 and long.startswith(short)) or (len(long) == 1 and short.startswith(long))


def possible_match(a: str, b: str) -> bool:
    """Whether two names that are not the same key may still name one person: each word of the shorter
    name fits a different word of the longer one (the same word, or an initial of it), at least one
    full word is the same, and both have two words or more."""
    left, right = name_words(a), name_words(b)
    if len(left) < 2 or len(right) < 2 or sorted(left) == sorted(right):
        return False
    short, long = (left, right) if len(left) <= len(right) else (right, left)
    if not set(w for w in short if len(w) > 1) & set(long):
        return False
    return _assign(short, long)


def _assign(short: list[str], long: list[str]) -> bool:
    """Each word of `short` fits a distinct word of `long` (a small matching: names have few words)."""
    if not short:
        return True
    first, rest = short[0], short[1:]
    return any(_word_fits(first, w) and _assign(rest, long[:i] + long[i + 1:]) for i, w in enumerate(long))


def search_words(name: str) -> list[str]:
    """The full words of a name (not initials): a look-up narrows candidates by them before comparing."""
    return sorted({w for w in name_words(name) if len(w) > 1})
