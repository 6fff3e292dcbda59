"""A glossary: names, places and recurring terms that every translation keeps as written.

``translate.glossary`` names a UTF-8 file with one term a line: the source
term, a tab, the target term, and optionally a tab and a note; a line that
starts with ``#`` is a comment, and blank lines are skipped::

    # source<TAB>target<TAB>note
    千尋	치히로	the heroine
    湯婆婆	유바바

NLLB cannot be told a term, so before a sentence is translated each source
term in it is written in the target's spelling (``write_in``): a model copies
a word already in the target language through, and it chooses the particles
around the real word (이/가, 을/를), which a placeholder put back afterwards
would not. Each translation is then checked for each term (``missing``): one
that did not come through is recorded with the translation, listed in the QA
and counted in the summary.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autokr.core.errors import ConfigError


@dataclass(frozen=True)
class Term:
    """One line of a glossary: the term, how the target language writes it, a note,
    and the line's number in its file (0: not from a file)."""

    source: str
    target: str
    note: str = ""
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Glossary:
    """The terms of a glossary file, and where it is."""

    terms: tuple[Term, ...] = ()
    path: str = ""

    @property
    def digest(self) -> str:
        """A SHA-256 of the terms (not of the file: comments and order change nothing)."""
        terms = sorted((t.source, t.target, t.note) for t in self.terms)
        return hashlib.sha256(json.dumps(terms, ensure_ascii=False).encode()).hexdigest()

    def record(self) -> dict:
        """What a translation records of its glossary."""
        return {"file": self.path, "sha256": self.digest, "terms": len(self.terms)}

    def _pattern(self, spaced: bool) -> re.Pattern[str] | None:
        """Every source term as one pattern (see ``_compiled``); None for no terms."""
        return _compiled(tuple(t.source for t in self.terms), spaced) if self.terms else None

    def _term_of(self, match: re.Match[str]) -> Term:
        return self.terms[int(match.lastgroup[1:])]

    def found(self, text: str, spaced: bool = False) -> list[Term]:
        """The terms in ``text``, once for each time one stands in it."""
        pattern = self._pattern(spaced)
        if pattern is None:
            return []
        return [self._term_of(m) for m in pattern.finditer(_normal(text))]

    def write_in(self, text: str, spaced: bool = False) -> str:
        """``text`` with each source term written as its target (NFKC, as NLLB reads it)."""
        pattern = self._pattern(spaced)
        if pattern is None:
            return text
        return pattern.sub(lambda m: self._term_of(m).target, _normal(text))

    def missing(self, source: str, translation: str, spaced: bool = False) -> list[Term]:
        """The terms of ``source`` whose target ``translation`` holds fewer times than it should."""
        said = _fold(translation)
        counted = Counter(self.found(source, spaced))
        return [term for term, times in counted.items() if said.count(_fold(term.target)) < times]


@functools.lru_cache(maxsize=8)
def _compiled(sources: tuple[str, ...], spaced: bool) -> re.Pattern[str]:
    """Every source term as a group of its own (``t3``: the fourth), the longest first.

    Built once per glossary, not once per sentence. A term written all in
    lower case matches in any case; any other only as written (the name Will is
    not the word will). In a language written with spaces, only whole words match.
    """
    order = sorted(range(len(sources)), key=lambda i: -len(_normal(sources[i])))
    parts = []
    for i in order:
        term = _normal(sources[i])
        body = re.escape(term)
        parts.append(f"(?P<t{i}>{f'(?i:{body})' if term == term.lower() else body})")
    pattern = "|".join(parts)
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)" if spaced else pattern)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _fold(text: str) -> str:
    return _normal(text).casefold()


def read_glossary(path: str | os.PathLike) -> Glossary:
    """The glossary in ``path`` (``~`` is the home folder); ConfigError naming the file
    and line of what is wrong."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the glossary ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (save the glossary as UTF-8)") from None
    seen: dict[str, Term] = {}
    # Lines end at \n (and \r\n) only: a note may hold any other character.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        term = _term(path, number, line)
        first = seen.setdefault(_fold(term.source), term)
        if first.target != term.target:
            raise ConfigError(
                f"{path}:{number}: {term.source!r} is on line {first.line} already, "
                f"with another target ({first.target!r})"
            )
    return Glossary(tuple(seen.values()), str(path))


def _term(path, number: int, line: str) -> Term:
    """One term line: source, tab, target, and an optional note."""
    columns = [column.strip() for column in line.split("\t")]
    while len(columns) > 2 and not columns[-1]:  # tabs after the last column
        columns.pop()
    if len(columns) < 2:
        raise ConfigError(
            f"{path}:{number}: no tab between the term and its target ({line.strip()!r})"
        )
    if len(columns) > 3:
        raise ConfigError(
            f"{path}:{number}: {len(columns)} columns; a line is term, target and a note"
        )
    if not columns[0] or not columns[1]:
        empty = "term" if not columns[0] else "target"
        raise ConfigError(f"{path}:{number}: the {empty} is empty ({line.strip()!r})")
    note = columns[2] if len(columns) == 3 else ""
    return Term(columns[0], columns[1], note, number)
