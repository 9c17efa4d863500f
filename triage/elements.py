"""Element vocabularies and the matching of folder names to elements.

A vocabulary (config/vocabularies/<name>.toml) lists the elements of one certifying partner's tool,
each with a number, a name and aliases. A folder name matches an element:

- by number: a leading number (`1 - Policy`, `01_Management Leadership`, `1. Leadership`) or a
  number after an element word anywhere (`Element 01`, `E1`, `Elem. 1`, `Section 3`,
  `Policy (Element 1)`), leading zeros ignored, numbers outside the vocabulary ignored;
- by name: every word of the element's name or of one alias appears in the folder name
  (`Hazard Assessment documents`), or every word of the folder name belongs to the element's
  phrases (`Leadership`). Case, diacritics (`Élément 3`), punctuation, plurals and filler words are
  ignored. When two elements match equally well, the one whose words come first in the folder name
  wins; still tied: no match.

When the number and the name disagree (`Element 2 - Hazard Control`), the number wins: the
evaluation tool and QA refer to elements by number, and names vary between tool years. The match
then carries `conflict` (the element the name suggested) so a rule can say so.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

BY_NUMBER = "number"
BY_NAME = "name"
BY_NUMBER_AND_NAME = "number and name"

# Words that say nothing about which element a folder is.
_FILLER = frozenset(
    "a an and of the for to in on or our element elements elem ele el section sec folder folders "
    "document documents doc docs file files secor hsms".split()
)
_ELEMENT_WORD = r"(?:elements?|elem|ele|el|e|sections?|sec)"
_LEADING_NUMBER = re.compile(rf"^(?:{_ELEMENT_WORD}\s*)?0*(\d{{1,3}})(?!\d)\s*(.*)$")
_PREFIXED_NUMBER = re.compile(rf"\b{_ELEMENT_WORD}\s*0*(\d{{1,3}})(?!\d)")


@dataclass(frozen=True)
class Element:
    number: int
    name: str
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """`Element 2 - Hazard Identification and Assessment`."""
        return f"Element {self.number} - {self.name}"


@dataclass(frozen=True)
class Vocabulary:
    name: str
    title: str
    elements: tuple[Element, ...]

    def element(self, number: int) -> Element | None:
        """The element with this number, or None."""
        for element in self.elements:
            if element.number == number:
                return element
        return None


@dataclass(frozen=True)
class ElementMatch:
    """What one folder name matched: the element (or None), how, and a name that disagreed."""

    folder: str
    element: Element | None
    how: str | None  # BY_NUMBER | BY_NAME | BY_NUMBER_AND_NAME | None
    conflict: Element | None = None  # the element the name suggested when the number won

    def describe(self) -> str:
        """`folder 'E1' matched element 1 (Management Leadership ...) by number`."""
        if self.element is None:
            return f"folder '{self.folder}' matched no element"
        text = f"folder '{self.folder}' matched element {self.element.number} ({self.element.name}) by {self.how}"
        if self.conflict is not None:
            text += f"; its name suggests element {self.conflict.number} ({self.conflict.name}), the number wins"
        return text


class UnknownVocabulary(ValueError):
    """No config/vocabularies/<name>.toml."""


@lru_cache(maxsize=None)
def load_vocabulary(name: str) -> Vocabulary:
    """The vocabulary `config/vocabularies/<name>.toml` from the secor_config package."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise UnknownVocabulary(f"unknown vocabulary {name!r}")
    resource = resources.files("secor_config").joinpath("vocabularies", f"{name}.toml")
    try:
        data = tomllib.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnknownVocabulary(f"unknown vocabulary {name!r}: no config/vocabularies/{name}.toml") from None
    elements = tuple(
        Element(number=int(e["number"]), name=str(e["name"]), aliases=tuple(e.get("aliases", ())))
        for e in data["elements"]
    )
    return Vocabulary(name=data.get("name", name), title=data.get("title", name), elements=elements)


def _stem(word: str) -> str:
    """A crude singular: `inspections` -> `inspection`, so plurals match."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def normalize(text: str) -> str:
    """Lower case without diacritics (`Élément` is `element`), punctuation and underscores as
    spaces, spaces collapsed."""
    if not text.isascii():
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.casefold()).split())


def words(text: str) -> list[str]:
    """The meaningful words of a name, singular, filler dropped, in order."""
    return [_stem(w) for w in normalize(text).split() if w not in _FILLER and not w.isdigit()]


@lru_cache(maxsize=None)
def _phrases(element: Element) -> tuple[frozenset[str], ...]:
    phrases = (frozenset(words(p)) for p in (element.name, *element.aliases))
    return tuple(p for p in phrases if p)


def _name_score(name_words: list[str], element: Element) -> tuple[int, int, int]:
    """How well a name designates an element, comparable between elements; (0, 0, 0) for no match.

    (2 when a whole phrase of the element is in the name, 1 when only every word of the name is among
    the element's words; how many words matched; minus the position of the first matched word).
    """
    present = set(name_words)
    kind, count, matched = 0, 0, frozenset[str]()
    for phrase in _phrases(element):
        if phrase <= present and len(phrase) > count:
            kind, count, matched = 2, len(phrase), phrase
    if not kind and present <= frozenset().union(*_phrases(element)):
        kind, count, matched = 1, len(present), frozenset(present)
    if not kind:
        return (0, 0, 0)
    first = min(i for i, w in enumerate(name_words) if w in matched)
    return (kind, count, -first)


def match_by_name(text: str, vocabulary: Vocabulary) -> Element | None:
    """The element a name (without its number) designates, or None when none or several equally."""
    name_words = words(text)
    if not name_words:
        return None
    scored = sorted(((_name_score(name_words, e), e.number) for e in vocabulary.elements), reverse=True)
    best, number = scored[0]
    if best == (0, 0, 0) or (len(scored) > 1 and scored[1][0] == best):
        return None
    return vocabulary.element(number)


def _split_number(text: str, vocabulary: Vocabulary) -> tuple[Element | None, str]:
    """The element a number in the name designates, and the rest of the name."""
    leading = _LEADING_NUMBER.match(text)
    if leading:
        element = vocabulary.element(int(leading.group(1)))
        if element is not None:
            return element, leading.group(2)
    for found in _PREFIXED_NUMBER.finditer(text):
        element = vocabulary.element(int(found.group(1)))
        if element is not None:
            return element, text[: found.start()] + " " + text[found.end():]
    if leading:  # a number outside the vocabulary (`2023 Inspections`, `Element 9` of 8): only the name counts
        return None, leading.group(2)
    return None, text


def match_folder(folder_name: str, vocabulary: Vocabulary) -> ElementMatch:
    """Which element a folder name designates, and how (see the module docstring)."""
    text = normalize(folder_name)
    by_number, rest = _split_number(text, vocabulary)
    by_name = match_by_name(rest, vocabulary)
    if by_number is not None and by_name is not None:
        if by_number == by_name:
            return ElementMatch(folder_name, by_number, BY_NUMBER_AND_NAME)
        return ElementMatch(folder_name, by_number, BY_NUMBER, conflict=by_name)
    if by_number is not None:
        return ElementMatch(folder_name, by_number, BY_NUMBER)
    if by_name is not None:
        return ElementMatch(folder_name, by_name, BY_NAME)
    return ElementMatch(folder_name, None, None)
