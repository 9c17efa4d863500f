"""Dates as people write them on forms and in file names.

`find_dates` finds every date in a text in the shapes Alberta employers use: ISO (`2026-03-14`,
`2026/03/14`), month names (`March 14, 2026`, `Mar. 14 2026`, `14 March 2026`, `14-Mar-2026`,
`14-Mar-26`), numeric in North American order (`03/14/2026`; `14/03/2026` only when the first number
cannot be a month), compact (`20260314`, file names only) and month-only (`2026-06`, `June 2026`,
file names only: they date a month's minutes, not a day). A date that does not exist
(`2026-02-30`) or lies outside 2000-2099 is no date.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Iterator

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?" \
         r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_SEP = r"[-/._ ]"
_D = r"(?:0?[1-9]|[12]\d|3[01])"
_M = r"(?:0?[1-9]|1[0-2])"
_Y = r"20\d\d"
# Digits around a date must not run into it, nor letters into a month's name or after a date; a word
# may run into a numeric date (`partner11/26/2026`: a form's label and value printed without a gap).
_LN = r"(?<![0-9])"
_LM = r"(?:(?<![0-9A-Za-z])|(?<=[a-z])(?=[A-Z]))"  # a month's name, or `partnerMay` (camel-case join)
_R = r"(?![0-9A-Za-z])"

_PATTERNS = [  # (kind, regex); tried together, leftmost match wins
    ("ymd", rf"{_LN}(?P<ymd_y>{_Y})(?P<ymd_s>[-/.])(?P<ymd_m>{_M})(?P=ymd_s)(?P<ymd_d>{_D}){_R}"),
    ("ymd_", rf"{_LN}(?P<ymdu_y>{_Y})[_ ](?P<ymdu_m>{_M})[_ ](?P<ymdu_d>{_D}){_R}"),
    ("mdy_name", rf"{_LM}(?P<mn_m>{_MONTH})[ ]?(?P<mn_d>{_D})(?:st|nd|rd|th)?,?[ ,]+(?P<mn_y>{_Y}){_R}"),
    ("dmy_name", rf"{_LN}(?P<dn_d>{_D})(?:st|nd|rd|th)?(?:[- ]|\s+of\s+)(?P<dn_m>{_MONTH})[-, ]+(?P<dn_y>{_Y}|\d\d){_R}"),
    ("numeric", rf"{_LN}(?P<nu_a>\d{{1,2}})(?P<nu_s>[-/.])(?P<nu_b>\d{{1,2}})(?P=nu_s)(?P<nu_y>{_Y}){_R}"),
]
_NAME_ONLY = [
    ("compact", rf"(?<!\d)(?P<co_y>{_Y})(?P<co_m>0[1-9]|1[0-2])(?P<co_d>0[1-9]|[12]\d|3[01])(?!\d)"),
    ("ym", rf"{_LN}(?P<ym_y>{_Y}){_SEP}(?P<ym_m>0[1-9]|1[0-2]){_R}"),
    ("month_year", rf"{_LM}(?P<my_m>{_MONTH})[-_ ,]+(?P<my_y>{_Y}){_R}"),
]


def _compile(patterns: list[tuple[str, str]]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<{kind}>{regex})" for kind, regex in patterns), re.I)


_TEXT_DATE = _compile(_PATTERNS)


@cache
def name_date_pattern() -> re.Pattern[str]:
    """Every date shape of a file name. Compiled on first use (~25 M instructions, a tenth of a
    one-file `triage`): most names have no year and never need it."""
    return _compile(_PATTERNS + _NAME_ONLY)


def _month(word: str) -> int:
    return _MONTHS[word.lower().rstrip(".")]


def month_number(word: str) -> int | None:
    """1-12 for a month's name or abbreviation (`Mar`, `Sept.`, `MARCH`), else None."""
    return _MONTHS.get(word.lower().rstrip("."))


def _make(year: str | int, month: int | str, day: int | str) -> date | None:
    year = int(year)
    if year < 100:
        year += 2000
    try:
        value = date(year, int(month), int(day))
    except ValueError:
        return None
    return value if 2000 <= value.year <= 2099 else None


def _from_match(m: re.Match[str]) -> date | None:
    g = m.group
    kind = m.lastgroup
    if kind == "ymd":
        return _make(g("ymd_y"), g("ymd_m"), g("ymd_d"))
    if kind == "ymd_":
        return _make(g("ymdu_y"), g("ymdu_m"), g("ymdu_d"))
    if kind == "mdy_name":
        return _make(g("mn_y"), _month(g("mn_m")), g("mn_d"))
    if kind == "dmy_name":
        return _make(g("dn_y"), _month(g("dn_m")), g("dn_d"))
    if kind == "numeric":  # North American month/day/year unless the first number cannot be a month
        a, b = int(g("nu_a")), int(g("nu_b"))
        return _make(g("nu_y"), b, a) if a > 12 else _make(g("nu_y"), a, b)
    if kind == "compact":
        return _make(g("co_y"), g("co_m"), g("co_d"))
    if kind == "ym":
        return _make(g("ym_y"), g("ym_m"), 1)
    if kind == "month_year":
        return _make(g("my_y"), _month(g("my_m")), 1)
    return None


def find_dates(text: str) -> Iterator[tuple[date, int, int]]:
    """Every full date in `text`, in order, with where it starts and ends."""
    for m in _TEXT_DATE.finditer(text):
        value = _from_match(m)
        if value is not None:
            yield value, m.start(), m.end()


def parse_date(text: str) -> date | None:
    """The first full date in `text` (a form field's value), or None."""
    return next((value for value, _, _ in find_dates(text)), None)


# The common shape first, by a pattern that starts with a literal (the regex engine then skips ahead
# to each "20" instead of trying every alternative at every position): 5,000 names in ~7 ms, not 34.
_ISO_FIRST = re.compile(rf"{_Y}([-/._ ])({_M})\1({_D})(?![0-9A-Za-z])")
# Every shape has a year: `20yy`, or two digits standing alone (`14-Mar-26`). A name with neither
# (`Record 0001.pdf`, most names) skips the full pattern, which costs ~15 us a name.
_YEAR = re.compile(_Y)
_TWO_DIGIT_YEAR = re.compile(r"(?<![0-9])\d\d(?![0-9])")


def name_date(name: str) -> date | None:
    """The date a file name carries (`2026-03-14 Site Inspection.pdf`, `Toolbox Talk March 3 2026.pdf`,
    `FLHA_20260402.pdf`, `Minutes 2026-06.pdf` = 1 June), or None. A bare year is no date."""
    if not (_YEAR.search(name) or _TWO_DIGIT_YEAR.search(name)):
        return None
    m = _ISO_FIRST.search(name)
    if m and (m.start() == 0 or not name[m.start() - 1].isdigit()):
        value = _make(name[m.start():m.start() + 4], m.group(2), m.group(3))
        if value is not None:
            return value
    for m in name_date_pattern().finditer(name):
        value = _from_match(m)
        if value is not None:
            return value
    return None


def months_between(start: date, end: date) -> float:
    """The span in months (average month length), one decimal: 2026-01-01 to 2026-04-01 is 3.0."""
    return round((end - start).days / 30.436875, 1)
