"""What an instruction model is asked, and how its answer is read.

One scene's sentences go as numbered lines, after the few lines translated
just before them (context, not to be translated again); the answer is one
JSON object, ``{"1": "...", "2": "..."}``. ``PROMPT_VERSION`` is recorded
with each translation: a change of the words below reruns translation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

#: Raise with any change to what the model is asked or how its answer is read.
PROMPT_VERSION = "1"

#: A reasoning model's thinking, which some servers leave in the answer; a
#: template that opens the block in the prompt leaves only its end.
_REASONING = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.DOTALL | re.IGNORECASE)
_REASONING_END = re.compile(r"^.*</(think|thinking|reasoning)>", re.DOTALL | re.IGNORECASE)
#: A fenced block some models wrap JSON in.
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class AnswerError(ValueError):
    """An answer that is no JSON object of the numbered lines."""


@dataclass(frozen=True)
class Request:
    """One batch: the lines to translate, in order, and the lines before them as context.

    ``context`` holds (source, translation) pairs; ``terms`` (source, target,
    note) glossary terms said in ``lines``.
    """

    lines: tuple[str, ...]
    context: tuple[tuple[str, str], ...] = ()
    terms: tuple[tuple[str, str, str], ...] = ()


def system_message(source: str, target: str, instructions: str, request: Request) -> str:
    """The instructions: the task, the answer's shape, the glossary, the user's own words."""
    parts = [
        f"You translate the subtitles of a video from {source} into {target}.",
        f"Translate each numbered line into natural spoken {target} that fits the dialogue "
        "around it. Keep each line's meaning in that line; do not merge or split lines.",
        "Answer with one JSON object and nothing else: each key is a line's number, each "
        f"value that line's {target} translation. Every number gets exactly one translation.",
    ]
    if request.terms:
        listed = "\n".join(
            f"{source_term} = {target_term}" + (f" ({note})" if note else "")
            for source_term, target_term, note in request.terms
        )
        parts.append(f"Write these names and terms exactly so:\n{listed}")
    if instructions.strip():
        parts.append(instructions.strip())
    return "\n\n".join(parts)


def user_message(request: Request) -> str:
    """The lines before (context, if any) and the numbered lines to translate."""
    parts = []
    if request.context:
        before = "\n".join(f"{src} => {out}" for src, out in request.context)
        parts.append(f"Translated just before (context only):\n{before}")
    # A line is one line: subtitles read from a file may hold line breaks.
    lines = [" ".join(line.split()) for line in request.lines]
    numbered = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    parts.append(f"Translate:\n{numbered}")
    return "\n\n".join(parts)


def messages(source: str, target: str, instructions: str, request: Request) -> list[dict]:
    """The chat messages for one batch; ``source`` and ``target`` are language names."""
    return [
        {"role": "system", "content": system_message(source, target, instructions, request)},
        {"role": "user", "content": user_message(request)},
    ]


def answer_schema(count: int) -> dict:
    """The JSON schema of the answer to a batch of ``count`` lines."""
    keys = [str(i) for i in range(1, count + 1)]
    return {
        "type": "object",
        "properties": {key: {"type": "string"} for key in keys},
        "required": keys,
        "additionalProperties": False,
    }


def answer(count: int, translations: list[str]) -> str:
    """The answer a model should give (what the tests' model is trained on)."""
    if len(translations) != count:
        raise ValueError(f"{count} lines, {len(translations)} translations")
    body = {str(i): text for i, text in enumerate(translations, 1)}
    return json.dumps(body, ensure_ascii=False)


def strip_reasoning(text: str) -> str:
    """The answer without any reasoning block (<think>...</think> and its kin)."""
    return _REASONING_END.sub("", _REASONING.sub("", text)).strip()


def read_answer(text: str, count: int) -> dict[int, str]:
    """The translations an answer gives, by line number (1 to ``count``).

    Reasoning and a code fence are taken off first. A number missing is left
    to the caller; an answer with no JSON object of strings, or with numbers
    that were not asked for (lines split), is an ``AnswerError``.
    """
    text = strip_reasoning(text)
    fenced = _FENCE.search(text)
    text = fenced.group(1) if fenced else text
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise AnswerError(f"no JSON object in the answer: {text[:80]!r}")
    try:
        body = json.loads(text[start : end + 1])
    except ValueError as exc:
        raise AnswerError(f"the answer is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise AnswerError("the answer is not a JSON object")
    found, unasked = {}, []
    for key, value in body.items():
        number = key.strip().rstrip(".")
        if number.isdigit() and 1 <= int(number) <= count and isinstance(value, str):
            found[int(number)] = value.strip()
        else:
            unasked.append(key)
    if unasked:
        raise AnswerError(f"the answer has keys that were not asked for: {unasked[:5]}")
    return found
