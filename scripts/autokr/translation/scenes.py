"""Translation by an instruction model: a scene at a time, with the lines before it.

Sentences go in numbered batches that follow the video: a long pause starts
a new one, and each is capped by count and by characters (the model's
context). The few sentences translated just before a batch go with it as
context. Each answer is read (``prompt.read_answer``) and each translation
checked as NLLB's are (``checks.check_translation``), and also for a copy of
its source; an answer that is no JSON or lacks a number fails its whole
batch (lines merged or split shift the ones after them). A batch with failures
is asked again in halves, down to one sentence, and so is one the server
refuses as too long; a sentence that still fails is left for NLLB
(``Outcome.fallback``), and so is a batch the server never answered. After two
such batches in a row, or three batches in a row of which no sentence came
right, the rest of the video goes to NLLB without asking.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from autokr.core.defaults import schema_default
from autokr.core.records import Retry
from autokr.translation import prompt
from autokr.translation.checks import check_translation, letters_in
from autokr.translation.openai_server import ServerError

log = logging.getLogger("autokr.translate")

#: Batches in a row the server gave no answer to after which a job asks it no more
#: (and, plus one, scenes in a row whose answers all failed).
GIVE_UP_AFTER = 2
#: Statuses that may mean a batch too long for the model's context: asked again in halves.
TOO_MUCH = frozenset({400, 413, 422})
SMALLER = "smaller batch"
FALLBACK = "NLLB fallback"


class Chat(Protocol):
    """An instruction model: a server (``openai_server.Server``) or one in the job."""

    def complete(self, messages: list[dict], schema: dict | None, max_tokens: int) -> str: ...


@dataclass(frozen=True)
class SceneOptions:
    """How sentences are batched and asked (translate.llm, translate.instructions)."""

    scene_pause: float = schema_default("translate.llm.scene_pause")
    batch_sentences: int = schema_default("translate.llm.batch_sentences")
    batch_chars: int = schema_default("translate.llm.batch_chars")
    context_sentences: int = schema_default("translate.llm.context_sentences")
    instructions: str = schema_default("translate.instructions")


@dataclass(frozen=True)
class Languages:
    """The NLLB codes (for the checks) and English names (for the prompt) of both sides."""

    source: str
    target: str
    source_name: str
    target_name: str


@dataclass
class Outcome:
    """Each sentence's translation (None: left for NLLB), and what was tried again."""

    translated: list[str | None]
    retries: dict[int, Retry] = field(default_factory=dict)
    fallback: dict[int, str] = field(default_factory=dict)  # sentence -> why


def scenes(times: Sequence[tuple[float, float]], texts: Sequence[str], options: SceneOptions):
    """Sentence indices in batches: a pause of ``scene_pause`` starts a new one, and
    none holds more than ``batch_sentences`` sentences or ``batch_chars`` characters."""
    batches: list[list[int]] = []
    chars = 0
    for i, (start, _) in enumerate(times):
        new = (
            not batches
            or start - times[i - 1][1] >= options.scene_pause
            or len(batches[-1]) >= options.batch_sentences
            or chars + len(texts[i]) > options.batch_chars
        )
        if new:
            batches.append([])
            chars = 0
        batches[-1].append(i)
        chars += len(texts[i])
    return batches


def max_tokens(lines: Sequence[str]) -> int:
    """Tokens an answer may take: room for the JSON and a generous translation of each line
    (one to two tokens a character; kept small, as it counts against the model's context)."""
    return 64 + sum(16 + 2 * len(line) for line in lines)


class SceneTranslator:
    """Asks ``chat`` for ``texts`` (as written in, see ``glossary.write_in``) scene by scene."""

    def __init__(self, chat: Chat, texts: list[str], langs: Languages, options: SceneOptions):
        self.chat, self.texts, self.langs, self.options = chat, texts, langs, options
        self.outcome = Outcome([None] * len(texts))
        self.unanswered_in_a_row = 0  # batches the server gave no answer to
        self.useless_in_a_row = 0  # scenes of which no sentence came right
        self.given_up = ""

    def run(self, times: Sequence[tuple[float, float]], terms_of=lambda indices: ()) -> Outcome:
        """Translate every sentence; ``terms_of(indices)`` gives the glossary terms said there."""
        self.terms_of = terms_of
        for batch in scenes(times, self.texts, self.options):
            self._ask(batch, first=True)
            came_right = any(self.outcome.translated[i] is not None for i in batch)
            self.useless_in_a_row = 0 if came_right else self.useless_in_a_row + 1
            if self.useless_in_a_row > GIVE_UP_AFTER and not self.given_up:
                self.given_up = f"every answer failed {self.useless_in_a_row} batches in a row"
        return self.outcome

    def _ask(self, batch: list[int], first: bool) -> None:
        if self.unanswered_in_a_row >= GIVE_UP_AFTER and not self.given_up:
            self.given_up = "the server gave no answer to earlier batches"
        if self.given_up:
            for i in batch:
                self._fall_back(i, "", [self.given_up])
            return
        request = prompt.Request(
            tuple(self.texts[i] for i in batch), self._context(batch[0]), self.terms_of(batch)
        )
        messages = prompt.messages(
            self.langs.source_name, self.langs.target_name, self.options.instructions, request
        )
        try:
            answer = self.chat.complete(
                messages, prompt.answer_schema(len(batch)), max_tokens(request.lines)
            )
        except ServerError as exc:
            log.warning("sentences %s: %s", batch, exc)
            if exc.status in TOO_MUCH:  # perhaps too long for its context: ask in halves
                self._again(batch, [(i, "", [f"refused: {exc}"]) for i in batch])
                return
            self.unanswered_in_a_row += 1
            for i in batch:
                self._fall_back(i, "", [f"no answer: {exc}"])
            return
        self.unanswered_in_a_row = 0
        self._again(batch, self._read(batch, answer, first))

    def _read(self, batch: list[int], answer: str, first: bool) -> list[tuple[int, str, list]]:
        """Keep each translation that passes its checks; the failed sentences, with why.

        An answer that is no JSON, or lacks a number, fails the whole batch: a
        model that merged or split lines has shifted the ones after them.
        """
        try:
            found = prompt.read_answer(answer, len(batch))
            missing = [n for n in range(1, len(batch) + 1) if n not in found]
            if missing:
                raise prompt.AnswerError(f"no translation for numbers {missing}")
        except prompt.AnswerError as exc:
            return [(i, "", [str(exc)]) for i in batch]
        bad = []
        for number, i in enumerate(batch, 1):
            output = found[number]
            problems = self._problems(i, output)
            if problems:
                bad.append((i, output, problems))
            else:
                self.outcome.translated[i] = output
                if not first:
                    self._retried(i, SMALLER, output)
        return bad

    def _again(self, batch: list[int], bad: list[tuple[int, str, list[str]]]) -> None:
        """Ask again for the failed sentences in halves; one alone that failed goes to NLLB."""
        for i, output, problems in bad:  # the first failure is the one recorded
            self.outcome.retries.setdefault(
                i, Retry(i, self.texts[i], output, tuple(problems), "", "")
            )
        if len(batch) == 1:
            for i, output, problems in bad:
                self._fall_back(i, output, problems)
            return
        failed = [i for i, _, _ in bad]
        if failed:
            log.info("sentences %s failed; asking again in halves", failed)
        half = (len(failed) + 1) // 2
        for part in (failed[:half], failed[half:]):
            if part:
                self._ask(part, first=False)

    def _problems(self, i: int, output: str) -> list[str]:
        source = self.texts[i]
        # A copy is a failure where the source is in its own script: "OK", "100" or a
        # name written in the target's script come through as they are.
        source_script = self.langs.source.split("_")[-1]
        if output and _same(output, source) and letters_in(source, source_script) > 0.5:
            return ["the source copied"]
        return check_translation(source, output, self.langs.source, self.langs.target)

    def _context(self, first: int) -> tuple[tuple[str, str], ...]:
        """The sentences translated just before ``first``, with their translations."""
        pairs = []
        for i in range(first - 1, -1, -1):
            if len(pairs) >= self.options.context_sentences:
                break
            if self.outcome.translated[i] is not None:
                pairs.append((self.texts[i], self.outcome.translated[i]))
        return tuple(reversed(pairs))

    def _retried(self, i: int, method: str, final: str) -> None:
        first = self.outcome.retries.get(i) or Retry(i, self.texts[i], "", (), "", "")
        self.outcome.retries[i] = Retry(i, first.source, first.first, first.problems, method, final)

    def _fall_back(self, i: int, output: str, problems: list[str]) -> None:
        """Leave sentence ``i`` for NLLB; its first failure stays its record."""
        self.outcome.fallback[i] = "; ".join(problems)
        first = self.outcome.retries.get(i) or Retry(
            i, self.texts[i], output, tuple(problems), "", ""
        )
        self.outcome.retries[i] = Retry(i, first.source, first.first, first.problems, FALLBACK, "")


def _same(a: str, b: str) -> bool:
    """True when two texts are one once width, case and spacing are set aside."""
    fold = lambda text: "".join(unicodedata.normalize("NFKC", text).casefold().split())  # noqa: E731
    return fold(a) == fold(b)


def with_fallback(outcome: Outcome, fallen: dict[int, str]) -> tuple[list[str], list[Retry]]:
    """Every translation, NLLB's ``fallen`` put in, and the retries in sentence order."""
    translated = list(outcome.translated)
    retries = dict(outcome.retries)
    for i, text in fallen.items():
        translated[i] = text
        r = retries[i]
        retries[i] = Retry(i, r.source, r.first, r.problems, r.method, text)
    if any(t is None for t in translated):  # a sentence neither answered nor fallen back
        raise AssertionError("a sentence has no translation")
    return translated, [retries[i] for i in sorted(retries)]
