"""Build a tiny NLLB-architecture model that follows a rule, so any input has one right output.

The pair-trained model of ``tiny_nllb`` knows only its memorised sentences;
whatever Whisper hears across pauses and segments is new to it. This model
learns a character substitution instead: each source character becomes one
fixed Hangul syllable, with a space after particles and punctuation (so that
Korean word boundaries exist for ``share_text`` to cut at). A test can then
tell what every cue should say from its own source text.

The files on disk are those of an NLLB checkpoint (M2M100 weights, an
NllbTokenizer ``tokenizer.json`` with every FAIRSEQ language code), so autokr
loads it through the code that loads ``facebook/nllb-200-distilled-600M``, on
both backends. Its vocabulary holds one token per character: a source
character is one token, and its substitution is one token too (``X▁`` where a
space follows), so the model only has to learn a lookup along the diagonal.
"""

from __future__ import annotations

import random
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

SOURCE = "jpn_Jpan"
TARGET = "kor_Hang"

#: Kana Whisper may write for any Japanese, whatever the test texts say.
HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097))
KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30FB)) + "ー"
PUNCTUATION = "、。!?「」・"
#: Characters followed by a space in the substitution: particles and punctuation.
SPACE_AFTER = frozenset("はがをにでとのもへ、。!?")
#: What a run of characters the model does not know becomes (NLLB's tokenizer
#: fuses such a run into one <unk>).
FALLBACK = "힣"
#: Hangul syllables without a final consonant: 가, 개, 갸 ... (399 of them).
_FIRST_SYLLABLE, _STEP = 0xAC00, 28


@dataclass(frozen=True)
class Rule:
    """The substitution: each known character's syllable; unknown runs become FALLBACK."""

    syllables: dict[str, str]

    @classmethod
    def over(cls, texts: list[str]) -> Rule:
        """The rule over all kana, the rule's punctuation and every character of ``texts``."""
        chars = set(HIRAGANA + KATAKANA + PUNCTUATION)
        chars |= {c for t in texts for c in normalize(t) if not c.isspace()}
        # Hangul stays as it is: a glossary's target terms, which autokr
        # writes into a source sentence before translating it, come out as written.
        hangul = {c for c in chars if is_hangul(c)}
        alphabet = sorted(chars - hangul)
        if len(alphabet) > 0x2BA4 // _STEP:
            raise ValueError(f"{len(alphabet)} characters: more than there are syllables")
        syllables = {c: chr(_FIRST_SYLLABLE + _STEP * i) for i, c in enumerate(alphabet)}
        return cls({**syllables, **{c: c for c in sorted(hangul)}})

    def token(self, char: str) -> str:
        """The output token of one known source character."""
        return self.syllables[char] + ("▁" if char in SPACE_AFTER else "")

    def apply(self, text: str) -> str:
        """The substitution of ``text``, spaces collapsed as share_text collapses them."""
        out, unknown = [], False
        for char in normalize(text):
            if char.isspace():
                out.append(" ")
            elif char in self.syllables:
                out.append(self.token(char).replace("▁", " "))
            elif not unknown:
                out.append(FALLBACK)
            unknown = not char.isspace() and char not in self.syllables
        return " ".join("".join(out).split())


def is_hangul(char: str) -> bool:
    """Whether ``char`` is a Hangul syllable."""
    return "\uac00" <= char <= "\ud7a3"


def normalize(text: str) -> str:
    """The text as the tokenizer sees it (its normalizer is NFKC)."""
    return unicodedata.normalize("NFKC", text)


def build_tokenizer(rule: Rule, out: Path):
    """An NllbTokenizer whose vocabulary is ``▁``, the alphabet and its substitutions."""
    from tokenizers import Regex, normalizers
    from transformers import AutoTokenizer, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    tokens = ["<s>", "<pad>", "</s>", "<unk>", "▁", *rule.syllables]
    tokens += [rule.token(c) for c in rule.syllables] + [FALLBACK]
    tokens = list(dict.fromkeys(tokens))  # Hangul is a source character and its own output
    tokenizer = NllbTokenizer(
        vocab={t: i for i, t in enumerate(tokens)},
        merges=[],
        src_lang=SOURCE,
        tgt_lang=TARGET,
        additional_special_tokens=FAIRSEQ_LANGUAGE_CODES,
    )
    # As NLLB's own: NFKC (its sentencepiece map is NFKC's kin), runs of spaces as one.
    tokenizer.backend_tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.save_pretrained(str(out))
    return AutoTokenizer.from_pretrained(str(out), src_lang=SOURCE, tgt_lang=TARGET)


@dataclass(frozen=True)
class Training:
    """How the model is trained: its shape, the random strings it sees, when it stops."""

    d_model: int = 128
    layers: int = 3
    ffn: int = 256
    heads: int = 4
    batch: int = 64
    min_chars: int = 2
    max_chars: int = 84  # autokr cuts sentences at 80
    lr: float = 1e-3
    warmup: int = 50
    #: Strings are at most first_chars long for the first short_steps (short
    #: ones teach the alignment), then reach max_chars over ramp steps (long
    #: ones teach its reach); the learning rate then falls to a tenth over decay steps.
    first_chars: int = 10
    short_steps: int = 400
    ramp: int = 500
    decay: int = 600
    check_every: int = 50
    held_out: int = 256
    #: Steps before giving up. A count, not seconds: training is seeded, so
    #: whether it gets there depends on the code, never on how busy the
    #: machine is (it needed 1350 steps, about 10 minutes on two idle cores).
    max_steps: int = 4000
    seed: int = 0


class _Strings:
    """Random strings over the alphabet, with a few spaces and unknown characters."""

    UNKNOWN = "龘鬱齉Ωж"  # outside any test text; each run is one <unk>

    def __init__(self, rule: Rule, training: Training, seed: int):
        self.chars = list(rule.syllables)
        self.training = training
        self.random = random.Random(seed)

    def __call__(self, longest: int | None = None) -> str:
        r, t = self.random, self.training
        n = r.randint(t.min_chars, longest or t.max_chars)
        out = []
        for _ in range(n):
            x = r.random()
            out.append(
                " " if x < 0.03 else r.choice(self.UNKNOWN) if x < 0.05 else r.choice(self.chars)
            )
        return "".join(out).strip() or r.choice(self.chars)


def build(texts: list[str], out: Path, training: Training | None = None, log=None) -> Path:
    """Train the rule model over ``texts``' characters until it is exact; save it to ``out``.

    Raises AssertionError when ``max_steps`` run out before it translates every
    one of ``texts`` and a held-out set of random strings exactly.
    """
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    training = training or Training()
    started = time.monotonic()
    rule = Rule.over(texts)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(rule, out)
    backend = tokenizer.backend_tokenizer
    src_code, tgt_code = (tokenizer.convert_tokens_to_ids(c) for c in (SOURCE, TARGET))
    eos, pad, unk = tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id
    fallback = tokenizer.convert_tokens_to_ids(FALLBACK)
    output_of = {
        tokenizer.convert_tokens_to_ids(c): tokenizer.convert_tokens_to_ids(rule.token(c))
        for c in rule.syllables
    }
    output_of[tokenizer.convert_tokens_to_ids("▁")] = tokenizer.convert_tokens_to_ids("▁")
    output_of[unk] = fallback

    def pair(text: str) -> tuple[list[int], list[int]]:
        ids = backend.encode(text, add_special_tokens=False).ids
        return [src_code, *ids, eos], [tgt_code, *(output_of[i] for i in ids), eos]

    def tensors(pairs):
        width = max(len(s) for s, _ in pairs)
        height = max(len(t) for _, t in pairs)
        src = torch.tensor([s + [pad] * (width - len(s)) for s, _ in pairs])
        labels = torch.tensor([t + [-100] * (height - len(t)) for _, t in pairs])
        return src, labels

    for text in texts:  # the rule holds through the tokenizer, or the test is void
        _, target = pair(text)
        if backend.decode(target, skip_special_tokens=True).strip() != rule.apply(text):
            raise AssertionError(f"the tokenizer does not spell the rule for {text!r}")

    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=training.d_model,
        encoder_layers=training.layers,
        decoder_layers=training.layers,
        encoder_attention_heads=training.heads,
        decoder_attention_heads=training.heads,
        encoder_ffn_dim=training.ffn,
        decoder_ffn_dim=training.ffn,
        max_position_embeddings=256,
        dropout=0.0,
        scale_embedding=True,
        pad_token_id=pad,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos,
        decoder_start_token_id=eos,
    )
    torch.manual_seed(training.seed)
    model = M2M100ForConditionalGeneration(config)
    with torch.no_grad():
        # Each output token starts where its source character is: the model
        # then has to learn where to look more than what to say, and breaks
        # through in a few hundred steps rather than thousands.
        embeddings = model.get_input_embeddings().weight
        for source, output in output_of.items():
            embeddings[output] = embeddings[source]
    strings = _Strings(rule, training, training.seed)
    held_texts = [strings() for _ in range(training.held_out)]
    held_out = tensors([pair(t) for t in held_texts])
    known = tensors([pair(t) for t in texts])
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=training.lr, betas=(0.9, 0.98), weight_decay=0.0
    )
    grown = training.short_steps + training.ramp

    def rate(step: int) -> float:
        falling = min(1.0, max(0, step - grown) / training.decay)
        return min(1.0, (step + 1) / training.warmup) * (1 - 0.9 * falling)

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)

    def exact(batch) -> bool:
        # All tokens right under teacher forcing is what greedy decoding gives.
        src, labels = batch
        with torch.inference_mode():
            logits = model(input_ids=src, attention_mask=src != pad, labels=labels).logits
        right = (logits.argmax(-1) == labels) | (labels == -100)
        return bool(right.all())

    step, passed = 0, 0
    while True:
        model.train()
        reach = min(1.0, max(0, step - training.short_steps) / training.ramp)
        longest = training.first_chars + (training.max_chars - training.first_chars) * reach
        src, labels = tensors([pair(strings(int(longest))) for _ in range(training.batch)])
        loss = model(input_ids=src, attention_mask=src != pad, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        step += 1
        if step % training.check_every:
            continue
        model.eval()
        right = step >= grown and exact(held_out), step >= grown and exact(known)
        passed = passed + 1 if all(right) else 0
        seconds = time.monotonic() - started
        if log:
            log(f"step {step}: loss {loss.item():.4f}, {seconds:.0f} s, exact {right}")
        if passed >= 2:
            model.save_pretrained(str(out))
            wrong = backend_mistakes(out, rule, [*texts, *held_texts[:64]])
            if not wrong:
                break
            passed = 0
            if log:
                log(f"{len(wrong)} wrong through the backends, first {wrong[0]}")
        if step >= training.max_steps:
            raise AssertionError(
                f"the rule model is not exact on every test text after {step} steps "
                f"({seconds:.0f} s, loss {loss.item():.4f}): raise Training.max_steps "
                "or make it larger"
            )
    (out / "training.txt").write_text(
        f"{step} steps, {time.monotonic() - started:.0f} s, loss {loss.item():.5f}\n"
    )
    return out


def backend_mistakes(folder: Path, rule: Rule, texts: list[str]) -> list[tuple[str, str, str]]:
    """(backend and beams, text, output) for each text either backend does not substitute exactly.

    Runs of spaces count as one, as share_text counts them.

    Greedy and four beams, through autokr's own loading code (CTranslate2
    converted to int8 as a CPU run does), repeats allowed: the rule repeats
    whatever its source repeats.
    """
    import os
    import tempfile

    from autokr.core.devices import Placement
    from autokr.translation import mt

    wrong = []
    with tempfile.TemporaryDirectory() as cache:
        before = os.environ.get("AUTOKR_CACHE")
        os.environ["AUTOKR_CACHE"] = cache  # a conversion of a folder that is renamed next
        try:
            for backend, compute_type in (("transformers", "float32"), ("ctranslate2", "int8")):
                options = mt.TranslateOptions(
                    model=str(folder), backend=backend, batch_size=16, no_repeat_ngram_size=0
                )
                translator = mt.load_translator(options, Placement("cpu", compute_type), 2)
                for beams in (1, 4):
                    outputs = translator.translate(texts, SOURCE, TARGET, beams)
                    wrong += [
                        (f"{backend}, beam {beams}", text, output)
                        for text, output in zip(texts, outputs, strict=True)
                        if " ".join(output.split()) != rule.apply(text)
                    ]
        finally:
            if before is None:
                os.environ.pop("AUTOKR_CACHE", None)
            else:
                os.environ["AUTOKR_CACHE"] = before
    return wrong
