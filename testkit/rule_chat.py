"""Train a tiny chat model to answer autokr's translation prompt by rule_nllb's rule.

autokr's instruction-model backends ask for one JSON object of numbered
translations (``autokr.translation.prompt``). This model is trained on that
prompt exactly as autokr writes it, and answers each numbered line with the
substitution ``rule_nllb.Rule`` computes, so a test can tell what every
subtitle cue should say whoever translated it: this model, or the rule NLLB
model as its fallback.

Its tokenizer is chat_model's, whose normalizer applies the rule: the weights
learn the prompt's shape (skip the instructions and the context, find the
numbered lines, copy each into its JSON key, stop) and copying, which a model
with LFM2's short convolutions learns in a few hundred steps. The files on
disk are those of a Hub chat checkpoint (an LFM2 causal LM in safetensors,
``generation_config.json``, ``tokenizer.json`` with a chat template), loaded
by ``AutoModelForCausalLM`` and ``transformers serve`` as one from the Hub.

Training stops when greedy decoding answers every known request (the test
videos' sentences, batched as the tests batch them) exactly, and all but a
few of a held-out set of random requests; it raises when ``max_steps`` run
out first.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import chat_model
import rule_nllb

if TYPE_CHECKING:
    from autokr.translation import prompt

#: The language names autokr puts in the prompt for Japanese speech subtitled in Korean.
SOURCE_LANGUAGE = "Japanese"
TARGET_LANGUAGE = "Korean"
#: The user's own words a request may carry (``translate.instructions``).
INSTRUCTIONS = ("친구끼리는 반말로.", "Keep the speakers' tone.", "존댓말로 옮겨 주세요.")
#: Notes a glossary term may carry.
NOTES = ("", "", "a name", "料理の名前")


@dataclass(frozen=True)
class Training:
    """The model's shape, the requests it is trained on, when it stops."""

    #: LFM2's short convolutions hand each position the characters before it,
    #: which attention matches to find the next character to copy.
    #: Two of them first: attention then matches a character and the six
    #: before it, enough to tell apart the places a short run of them recurs.
    layer_types: tuple[str, ...] = ("conv", "conv", "full_attention", "conv", "full_attention")
    conv: int = 4
    hidden: int = 128
    heads: int = 4
    ffn: int = 256
    lr: float = 2e-3
    warmup: int = 30
    batch: int = 24
    #: The tests' shapes: batches of at most three lines after two of context
    #: (``known_requests`` asks them so), lines of at most 48 characters (the
    #: test videos' longest sentence has 35).
    max_lines: int = 3
    max_context: int = 2
    max_chars: int = 48
    max_terms: int = 2
    #: First ``drill_steps`` of drills (``_Requests.drill``) of lines at most
    #: ``first_chars`` long, ``drill_batch`` a step: copying is learned there,
    #: cheaply. Then whole requests, their lines reaching ``max_chars`` over
    #: ``ramp`` steps; the rate falls to a tenth over ``decay`` steps.
    drill_steps: int = 300
    drill_batch: int = 32
    first_chars: int = 16
    ramp: int = 200
    decay_from: int = 600
    decay: int = 300
    #: Shares of requests that are a batch of a test video (``known_requests``,
    #: with instructions or not), of lines from the test texts (whole, a piece,
    #: or misheard), of requests with glossary terms, and with instructions.
    script_share: float = 0.2
    text_share: float = 0.3
    terms_share: float = 0.3
    instructions_share: float = 0.3
    check_every: int = 50
    #: Random requests it must get right all but ``held_out_wrong`` of (by
    #: teacher forcing): the few it misses are pieces of a test text with a
    #: character changed, which it writes as the text it knows. A sentence
    #: Whisper hears otherwise than the tests list could so come out wrong.
    held_out: int = 48
    held_out_wrong: int = 3
    #: Steps before giving up: a count, so that whether it gets there depends
    #: on the code, never on how busy the machine is.
    max_steps: int = 2000
    seed: int = 0


class _Requests:
    """Requests as autokr writes them: random ones over the rule's alphabet and pieces of
    the test texts, and a share of ``batches``, the tests' own."""

    def __init__(self, rule, texts: list[str], batches: list, training: Training, seed: int):
        self.rule, self.texts, self.batches, self.training = rule, texts, batches, training
        self.random = random.Random(seed)
        strings = rule_nllb.Training(max_chars=training.max_chars)
        self.strings = rule_nllb._Strings(rule, strings, seed)
        self.strings.random = self.random
        # Hangul the rule keeps as it is: what a glossary's target terms are made of.
        self.hangul = [c for c, s in rule.syllables.items() if c == s]

    def line(self, longest: int) -> str:
        """A line at most ``longest`` characters: a test text, a piece of one, or random."""
        r = self.random
        if self.texts and r.random() < self.training.text_share:
            text = r.choice(self.texts)
            if len(text) > max(longest, 2) or (len(text) > 2 and r.random() < 0.3):
                size = r.randint(2, min(longest, len(text)))  # as Whisper may cut elsewhere
                start = r.randint(0, len(text) - size)
                text = text[start : start + size]
            if r.random() < 0.3:  # misheard: a few characters changed
                chars = list(text)
                for _ in range(r.randint(1, 3)):
                    chars[r.randrange(len(chars))] = r.choice(self.strings.chars)
                text = "".join(chars)
            return text
        return self.strings(max(2, longest))

    def drill(self, longest: int) -> tuple[prompt.Request, None]:
        """One or two short lines, no system message: the copying alone, in few tokens."""
        from autokr.translation import prompt

        lines = (self.line(longest) for _ in range(self.random.randint(1, 2)))
        return prompt.Request(tuple(lines)), None

    def __call__(self, longest: int) -> tuple[prompt.Request, str]:
        """A request and the user's instructions."""
        from autokr.translation import prompt

        r, t = self.random, self.training
        instructions = r.choice(INSTRUCTIONS) if r.random() < t.instructions_share else ""
        if self.batches and r.random() < t.script_share:
            return r.choice(self.batches), instructions
        lines = [self.line(longest) for _ in range(r.randint(1, t.max_lines))]
        terms = []
        if self.hangul and r.random() < t.terms_share:
            for _ in range(r.randint(1, t.max_terms)):
                i = r.randrange(len(lines))
                start = r.randrange(len(lines[i]))
                term = lines[i][start : start + r.randint(1, 4)].strip()
                if term:
                    target = "".join(r.choice(self.hangul) for _ in range(r.randint(1, 3)))
                    lines[i] = lines[i].replace(term, target)  # autokr writes the target in
                    terms.append((term, target, r.choice(NOTES)))
        context = tuple(
            (source, self.rule.apply(source))
            for source in (self.line(longest) for _ in range(r.randint(0, t.max_context)))
        )
        return prompt.Request(tuple(lines), context, tuple(terms)), instructions


def messages(request: prompt.Request, instructions: str = "") -> list[dict]:
    """The chat messages autokr sends for ``request`` (Japanese into Korean)."""
    from autokr.translation import prompt

    return prompt.messages(SOURCE_LANGUAGE, TARGET_LANGUAGE, instructions, request)


def expected_answer(rule: rule_nllb.Rule, request: prompt.Request) -> str:
    """The answer by the rule: each line's substitution, as autokr asks for it."""
    from autokr.translation import prompt

    return prompt.answer(len(request.lines), [rule.apply(line) for line in request.lines])


def known_requests(
    rule: rule_nllb.Rule,
    scripts: list[list[str]],
    glossary: dict[str, str],
    training: Training,
) -> list[tuple[prompt.Request, str]]:
    """Requests the model must answer exactly: each video's sentences batched as autokr
    batches them for the tests (each run of one to ``max_lines`` sentences after up to
    ``max_context`` before it as context), with the glossary's terms (no note) that the
    batch's lines hold written in."""
    from autokr.translation import prompt

    shapes = []
    for sentences in scripts:
        for size in range(1, training.max_lines + 1):
            for i in range(len(sentences) - size + 1):
                start = max(0, i - training.max_context)
                before = tuple((s, rule.apply(s)) for s in sentences[start:i])
                lines = tuple(sentences[i : i + size])
                terms = tuple(
                    dict.fromkeys(
                        (source, target, "")
                        for line in lines
                        for source, target in glossary.items()
                        if target in line
                    )
                )
                shapes.append((prompt.Request(lines, before, terms), ""))
    return shapes


def _config(tokenizer, training: Training):
    from transformers import Lfm2Config

    return Lfm2Config(
        vocab_size=len(tokenizer),
        hidden_size=training.hidden,
        intermediate_size=training.ffn,
        block_auto_adjust_ff_dim=False,
        conv_L_cache=training.conv,
        num_hidden_layers=len(training.layer_types),
        layer_types=list(training.layer_types),
        num_attention_heads=training.heads,
        num_key_value_heads=training.heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
    )


class _Encoder:
    """(prompt ids, answer ids and EOS) of a request, through the chat template as autokr's."""

    def __init__(self, tokenizer, rule: rule_nllb.Rule):
        self.tokenizer, self.rule = tokenizer, rule

    def __call__(self, request: prompt.Request, instructions: str | None):
        """(prompt ids, answer ids and EOS); ``instructions`` None: no system message."""
        chat = messages(request, instructions or "")
        ids = self.tokenizer.apply_chat_template(
            chat[1:] if instructions is None else chat,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=False,
            enable_thinking=False,
        )
        answer = expected_answer(self.rule, request)
        return ids, [
            *self.tokenizer.encode(answer, add_special_tokens=False),
            self.tokenizer.eos_token_id,
        ]

    def tensors(self, examples):
        """Input ids and labels (the answers' tokens), padded on the right."""
        import torch

        rows = [self(request, instructions) for request, instructions in examples]
        width = max(len(p) + len(a) for p, a in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad_token_id)
        labels = torch.full((len(rows), width), -100)
        for row, (p, a) in enumerate(rows):
            ids[row, : len(p) + len(a)] = torch.tensor(p + a)
            labels[row, len(p) : len(p) + len(a)] = torch.tensor(a)
        return ids, labels


def _check_spelling(encoder: _Encoder, request: prompt.Request, instructions: str) -> None:
    """That the tokenizer reads each line as the rule writes it, and spells the answer:
    else answering by copying would not be answering by the rule, and the tests void."""
    prompt_ids, answer_ids = encoder(request, instructions)
    read = encoder.tokenizer.decode(prompt_ids).split("\n")
    for number, line in enumerate(request.lines, 1):
        numbered = f"{number}. {encoder.rule.apply(line)}"
        if not any(r == numbered or r.startswith(f"{numbered}<|") for r in read):
            raise AssertionError(f"the tokenizer does not read {line!r} as {numbered!r}")
    spelled = encoder.tokenizer.decode(answer_ids, skip_special_tokens=True)
    if spelled != expected_answer(encoder.rule, request):
        raise AssertionError(f"the tokenizer does not spell the answer to {request.lines}")


def _teacher_forced_mistakes(model, encoder: _Encoder, examples, size: int = 16) -> list[str]:
    """The first wrong token of each of ``examples`` whose answer has one when the right
    tokens go before it (``…said[right not guessed]``)."""
    import torch

    decode, wrong = encoder.tokenizer.decode, []
    for start in range(0, len(examples), size):
        ids, labels = encoder.tensors(examples[start : start + size])
        with torch.inference_mode():
            guess = model(input_ids=ids).logits[:, :-1].argmax(-1)
        truth = labels[:, 1:]
        for row in range(len(ids)):
            answer = truth[row] != -100
            bad = ((guess[row] != truth[row]) & answer).nonzero()
            if len(bad):
                at, first = int(bad[0]), int(answer.nonzero()[0])
                said = decode(truth[row, first:at])[-24:]
                wrong.append(f"…{said}[{decode(truth[row, at])!r} not {decode(guess[row, at])!r}]")
    return wrong


def build(
    texts: list[str],
    scripts: list[list[str]],
    glossary: dict[str, str],
    out: Path,
    training: Training | None = None,
    log=print,
) -> Path:
    """Train the chat model until it answers ``scripts`` (each a video's sentences, in
    order, asked with ``glossary``'s terms) exactly; save it to ``out``.

    Its rule is ``Rule.over(texts)``: the rule NLLB model's, given the same texts.
    Training runs on two threads whatever the machine has, so that a machine
    with more cores does the same arithmetic (another CPU or torch may still
    round differently, and stop at another step).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return _train(texts, scripts, glossary, out, training or Training(), log)
    finally:
        torch.set_num_threads(threads)


def _train(texts, scripts, glossary, out: Path, training: Training, log) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    started = time.monotonic()
    torch.manual_seed(training.seed)
    rule = rule_nllb.Rule.over(texts)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = chat_model.build_tokenizer(texts, out)
    encoder = _Encoder(tokenizer, rule)
    known = known_requests(rule, scripts, glossary, training)
    # The held-out requests are random only: the tests' batches are ``known``.
    requests = _Requests(rule, texts, [r for r, _ in known], training, training.seed)
    held = _Requests(rule, texts, [], training, training.seed + 1)
    held_out = [held(training.max_chars) for _ in range(training.held_out)]
    for request, instructions in known + held_out:
        _check_spelling(encoder, request, instructions)

    model = AutoModelForCausalLM.from_config(_config(tokenizer, training))
    model.generation_config = chat_model.generation_config(tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.lr, betas=(0.9, 0.98))

    def rate(step: int) -> float:
        falling = min(1.0, max(0, step - training.decay_from) / training.decay)
        return min(1.0, (step + 1) / training.warmup) * (1 - 0.9 * falling)

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)

    def longest(step: int) -> int:
        reach = min(1.0, max(0.0, (step - training.drill_steps) / training.ramp))
        return int(training.first_chars + (training.max_chars - training.first_chars) * reach)

    def examples(step: int) -> list:
        if step <= training.drill_steps:
            return [requests.drill(training.first_chars) for _ in range(training.drill_batch)]
        return [requests(longest(step)) for _ in range(training.batch)]

    for step in range(1, training.max_steps + 1):
        model.train()
        ids, labels = encoder.tensors(examples(step))
        # Padding is on the right, after every token that counts: causal
        # attention alone keeps it out of the loss.
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % training.check_every:
            continue
        if longest(step) < training.max_chars:
            log(f"step {step}: loss {loss.item():.4f}, {time.monotonic() - started:.0f} s")
            continue
        model.eval()
        wrong_known = _teacher_forced_mistakes(model, encoder, known)
        wrong_held = _teacher_forced_mistakes(model, encoder, held_out)
        seconds = time.monotonic() - started
        log(
            f"step {step}: loss {loss.item():.4f}, {seconds:.0f} s, wrong "
            f"{len(wrong_known)}/{len(known)} known, {len(wrong_held)}/{len(held_out)} held out"
            + "".join(f"\n  known {w}" for w in wrong_known[:2])
            + "".join(f"\n  held out {w}" for w in wrong_held[:2])
        )
        if wrong_known or len(wrong_held) > training.held_out_wrong:
            continue
        model.save_pretrained(str(out))
        wrong = generation_mistakes(out, rule, known)
        if not wrong:
            done = f"{step} steps, {seconds:.0f} s, loss {loss.item():.5f}\n"
            (out / "training.txt").write_text(done)
            return out
        log(f"{len(wrong)} wrong by greedy decoding, the first: {wrong[0]}")
    model.save_pretrained(str(out))
    raise AssertionError(
        f"the rule chat model is not exact after {training.max_steps} steps "
        f"({time.monotonic() - started:.0f} s; its log and weights: {out}): "
        "raise Training.max_steps or make it larger"
    )


def generation_mistakes(
    folder: Path, rule: rule_nllb.Rule, examples: list[tuple[prompt.Request, str]]
) -> list[tuple[tuple[str, ...], str, str]]:
    """(lines, expected answer, answer) of each request greedy decoding answers wrong,
    loading ``folder`` as autokr's in-process backend loads a model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    wrong = []
    for request, instructions in examples:
        expected = expected_answer(rule, request)
        encoded = tokenizer.apply_chat_template(
            messages(request, instructions),
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
            enable_thinking=False,
        )
        budget = len(tokenizer.encode(expected, add_special_tokens=False)) + 8
        with torch.inference_mode():
            ids = model.generate(**encoded, max_new_tokens=budget, do_sample=False)
        got = tokenizer.decode(ids[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
        if got != expected:
            wrong.append((request.lines, expected, got))
    return wrong
