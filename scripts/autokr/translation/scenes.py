"""Translation by an instruction model: a scene at a time, with the lines before it.

Sentences go in numbered batches that follow the video: a long pause starts
a new one, and each is capped by count and by characters (the model's
context). The few sentences translated just before a batch go with it as
context. Each answer is read (``prompt.read_answer``) and each translation
checked as NLLB's are (``checks.check_translation``), and also for a copy of
its source. A batch with failures is asked again in halves, down to one
sentence; a sentence that still fails is left for NLLB (``Outcome.fallback``),
and so is a batch the server never answered. Two such batches in a row and
the server is asked no more in this job.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from autokr.core.records import Retry
from autokr.translation import prompt
from autokr.translation.checks import check_translation, letters_in
from autokr.translation.openai_server import ServerError

log = logging.getLogger("autokr.translate")

#: Server failures in a row after which a job asks the server no more.
GIVE_UP_AFTER = 2
SMALLER = "smaller batch"
FALLBACK = "NLLB fallback"


class Chat(Protocol):
    """An instruction model: a server (``openai_server.Server``) or one in the job."""

    def complete(self, messages: list[dict], schema: dict | None, max_tokens: int) -> str: ...


@dataclass(frozen=True)
class SceneOptions:
    """How sentences are batched and asked (translate.llm, translate.instructions)."""

    scene_pause: float = 3.0
    batch_sentences: int = 12
    batch_chars: int = 1500
    context_sentences: int = 3
    instructions: str = ""


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
    """Tokens an answer may take: room for the JSON and a generous translation of each line."""
    return 64 + sum(16 + 4 * len(line) for line in lines)


class SceneTranslator:
    """Asks ``chat`` for ``texts`` (as written in, see ``glossary.write_in``) scene by scene."""

    def __init__(self, chat: Chat, texts: list[str], langs: Languages, options: SceneOptions):
        self.chat, self.texts, self.langs, self.options = chat, texts, langs, options
        self.outcome = Outcome([None] * len(texts))
        self.failed_in_a_row = 0

    def run(self, times: Sequence[tuple[float, float]], terms_of=lambda indices: ()) -> Outcome:
        """Translate every sentence; ``terms_of(indices)`` gives the glossary terms said there."""
        self.terms_of = terms_of
        for batch in scenes(times, self.texts, self.options):
            self._ask(batch, first=True)
        return self.outcome

    def _ask(self, batch: list[int], first: bool) -> None:
        if self.failed_in_a_row >= GIVE_UP_AFTER:
            for i in batch:
                self._fall_back(i, "", ["the server gave no answer to earlier batches"])
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
            self.failed_in_a_row += 1
            log.warning("sentences %d-%d: %s", batch[0], batch[-1], exc)
            for i in batch:
                self._fall_back(i, "", [f"no answer: {exc}"])
            return
        self.failed_in_a_row = 0
        try:
            found = prompt.read_answer(answer, len(batch))
        except prompt.AnswerError as exc:
            found, whole = {}, str(exc)
        else:
            whole = ""
        bad = []
        for number, i in enumerate(batch, 1):
            output = found.get(number)
            problems = [whole or "no translation for its number"] if output is None else []
            problems = problems or self._problems(i, output)
            if problems:
                bad.append((i, output or "", problems))
            else:
                self.outcome.translated[i] = output
                if not first:
                    self._retried(i, SMALLER, output)
        self._again(batch, bad)

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
        # A line already in the target's script (a name written in) is kept as it is.
        target_script = self.langs.target.split("_")[-1]
        if output and _same(output, source) and letters_in(source, target_script) < 0.5:
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
        self.outcome.fallback[i] = "; ".join(problems)
        first = self.outcome.retries.get(i)
        self.outcome.retries[i] = Retry(
            i, self.texts[i], first.first if first else output, tuple(problems), FALLBACK, ""
        )


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
