"""Tiny chat checkpoints laid out as Hub instruction models: their tokenizer, and one with
random weights.

The files are those of a Hugging Face chat model: the weights in safetensors,
``generation_config.json``, and a ``tokenizer.json`` of one token a character
whose ``tokenizer_config.json`` holds a ``chat_template`` (which takes and
ignores ``enable_thinking``). ``AutoModelForCausalLM``, ``AutoTokenizer`` and
``transformers serve`` load them as they load a model from the Hub, so
autokr's ``backend: llm`` and ``backend: openai`` run through their real code.

``build_random`` saves a ``LlamaForCausalLM`` with random weights: its answers
are no JSON, which is what the tests of the NLLB fallback need. rule_chat
trains an LFM2 model with the same tokenizer to answer by the rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import rule_nllb

UNK, PAD, EOS = "<unk>", "<pad>", "<|end|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
#: ASCII the model reads and writes: digits and the JSON answer's punctuation.
ASCII = '0123456789 \n{}":,.=>'
#: Each message between its role's token and EOS; ``enable_thinking`` and any
#: other keyword are ignored, as a template with no thinking ignores them.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>' }}{%- endif -%}"
)


def build_tokenizer(texts: list[str], out: Path):
    """A chat tokenizer over ``texts``' characters whose normalizer applies rule_nllb's rule,
    saved to ``out``.

    The normalizer writes each source character as its Hangul syllable (and a
    space after particles and punctuation), each run of characters the rule
    does not know as FALLBACK, drops the ASCII letters and punctuation of the
    English instructions, and folds spaces as ``Rule.apply`` folds them. So a
    line's tokens are those of its translation: answering by the rule is
    copying each numbered line into the JSON answer, which a tiny model learns
    in minutes (rule_chat); it does not have to learn the substitution as well.

    Where it reads a line otherwise than ``Rule.apply`` writes it (the test
    texts are Japanese, so none of them does): ASCII letters and ASCII
    punctuation outside the prompt's own (``.,:=>"{}``) are dropped, where the
    rule writes FALLBACK; digits and that punctuation stay as they are, and
    split a run of unknown characters in two. ``rule_chat`` checks every line
    it trains and checks on against the rule before training.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    rule = rule_nllb.Rule.over(texts)
    clash = sorted(set(rule.syllables) & set(ASCII))
    if clash:
        raise ValueError(f"the texts hold {clash}, which the prompt and answer need as they are")
    syllables = sorted(set(rule.syllables.values()) | {rule_nllb.FALLBACK})
    vocab = list(dict.fromkeys([UNK, PAD, EOS, *ROLE_TOKENS, *ASCII, *syllables]))
    model = models.BPE(
        vocab={t: i for i, t in enumerate(vocab)}, merges=[], unk_token=UNK, fuse_unk=True
    )
    backend = Tokenizer(model)
    english = "".join(
        c for c in map(chr, range(0x21, 0x7F)) if c not in ASCII and c not in rule.syllables
    )
    known = re.escape("".join([*ASCII, *rule.syllables, *syllables]))
    substitutions = [
        normalizers.Replace(char, rule.token(char).replace("▁", " "))
        for char in rule.syllables
        if not rule_nllb.is_hangul(char)
    ]
    backend.normalizer = normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.Replace(Regex(r"[\t\r\f\v]"), " "),
            normalizers.Replace(Regex(f"[{re.escape(english)}]"), ""),
            normalizers.Replace(Regex(f"[^{known}]+"), rule_nllb.FALLBACK),
            *substitutions,
            normalizers.Replace(Regex(" {2,}"), " "),
            normalizers.Replace(Regex(" *\n *"), "\n"),
            normalizers.Strip(),
        ]
    )
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=UNK,
        pad_token=PAD,
        eos_token=EOS,
        additional_special_tokens=list(ROLE_TOKENS),
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
    # The template in tokenizer_config.json, where every server looks for it.
    tokenizer.save_pretrained(str(out), save_jinja_files=False)
    return AutoTokenizer.from_pretrained(str(out))


def build_random(texts: list[str], out: Path, seed: int = 0) -> Path:
    """The chat checkpoint with random (seeded) weights, saved to ``out``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(texts, out)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(str(out))
    generation_config(tokenizer).save_pretrained(str(out))
    return out


def generation_config(tokenizer):
    """Greedy decoding, stopping at the end of the assistant's turn."""
    from transformers import GenerationConfig

    return GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
