"""Build a tiny NLLB-architecture model that translates the test sentences exactly.

Real NLLB-200 weights cannot be downloaded where the tests run. This model has
the same architecture (M2M100), the same tokenizer class (NllbTokenizer with
all FAIRSEQ language codes) and the same files on disk, so autokr loads it
through exactly the code that loads ``facebook/nllb-200-distilled-600M``. It is
trained until it reproduces the test pairs; on anything else it gives noise.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

SOURCE = "jpn_Jpan"
TARGET = "kor_Hang"


#: Words Whisper may write in kana or kanji, depending on the decoder.
SPELLINGS = {"良い": "よい"}


def variants(japanese: str) -> list[str]:
    """Spellings Whisper may give a sentence: with or without punctuation, kana or kanji."""
    forms = {japanese}
    for kanji, kana in SPELLINGS.items():
        forms.add(japanese.replace(kanji, kana))
    found = set()
    for form in forms:
        bare = re.sub(r"[。、!?！？]", "", form)
        spaced = re.sub(r"[。、]", " ", form).strip()
        found |= {form, form.rstrip("。"), bare, spaced}
    return sorted(found)


def save_tokenizer(out: Path, lines: list[str], vocab_size: int) -> None:
    """Save in ``out`` an NllbTokenizer whose sentencepiece BPE is trained on ``lines``.

    NLLB-200's tokenizer class, with all FAIRSEQ language codes and Japanese as
    the source; only its vocabulary (at most ``vocab_size`` pieces) is small.
    """
    import sentencepiece as spm
    from transformers import NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    out.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 4),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    # NllbTokenizer(vocab_file=...) ignores the sentencepiece model in
    # transformers 5; from_pretrained on a folder that holds it does not.
    with tempfile.TemporaryDirectory() as pieces:
        (Path(pieces) / "sentencepiece.bpe.model").write_bytes(model.getvalue())
        tokenizer = NllbTokenizer.from_pretrained(
            pieces, src_lang=SOURCE, additional_special_tokens=FAIRSEQ_LANGUAGE_CODES
        )
    tokenizer.save_pretrained(str(out))


def build(pairs: list[tuple[str, str]], out: Path, steps: int = 400, seed: int = 0) -> Path:
    """Train the model on ``pairs`` (and their punctuation variants); save it to ``out``."""
    import torch
    from transformers import AutoTokenizer, M2M100Config, M2M100ForConditionalGeneration

    examples = [(v, ko) for ja, ko in pairs for v in variants(ja)]
    save_tokenizer(out, [text for pair in examples for text in pair], vocab_size=160)
    tokenizer = AutoTokenizer.from_pretrained(str(out), src_lang=SOURCE, tgt_lang=TARGET)
    unk = tokenizer.unk_token_id
    if unk in tokenizer(pairs[0][0]).input_ids:
        raise AssertionError("the test tokenizer turns Japanese into <unk>")

    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=256,
        dropout=0.0,
        scale_embedding=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    batch = tokenizer(
        [ja for ja, _ in examples],
        text_target=[ko for _, ko in examples],
        return_tensors="pt",
        padding=True,
    )
    batch["labels"][batch["labels"] == tokenizer.pad_token_id] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(str(out))
    return out
