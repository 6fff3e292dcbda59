"""translate.backend llm and openai: the instruction model, where it runs, what is recorded.

``Instructed`` is the configured model and how it is reached; ``open_chat``
gives the ``scenes.Chat`` that asks it: an OpenAI-compatible server
(``openai_server.Server``), or the model loaded by transformers inside the
translate job (``LocalModel``), whose memory goes back when the job ends.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field

from autokr.core.defaults import schema_default
from autokr.core.devices import Placement
from autokr.core.errors import ConfigError, ModelError
from autokr.translation import prompt
from autokr.translation.openai_server import Server, check
from autokr.translation.scenes import SceneOptions

log = logging.getLogger("autokr.translate")

LLM_BACKENDS = ("llm", "openai")


@dataclass(frozen=True)
class Instructed:
    """The instruction model of a translation (translate.backend, translate.llm).

    ``folder`` is where backend llm loads it from (the download's manifest;
    empty: the configured name as it is). ``api_key_env`` names the variable
    that holds the key; the key itself is read when the chat opens.
    """

    backend: str
    model: str
    server: str = ""
    api_key_env: str = field(default="", repr=False)
    timeout: float = schema_default("translate.llm.timeout")
    retries: int = schema_default("translate.llm.retries")
    folder: str = ""
    scenes: SceneOptions = field(default_factory=SceneOptions)

    @classmethod
    def from_config(cls, backend: str, llm: dict, instructions: str, folder: str = ""):
        """From translate.llm's settings and translate.instructions."""
        scene_keys = ("scene_pause", "batch_sentences", "batch_chars", "context_sentences")
        return cls(
            backend,
            llm["model"],
            llm["server"] if backend == "openai" else "",
            llm["api_key_env"],
            llm["timeout"],
            llm["retries"],
            folder,
            SceneOptions(**{k: llm[k] for k in scene_keys}, instructions=instructions),
        )

    def record(self) -> dict:
        """What a translation records of it: never the key, nor where it was loaded from."""
        where = {"server": self.server} if self.backend == "openai" else {}
        return {
            "backend": self.backend,
            "model": self.model,
            **where,
            "prompt_version": prompt.PROMPT_VERSION,
            **asdict(self.scenes),
        }

    def api_key(self) -> str:
        """The key from the environment variable the config names ("" when none is named)."""
        if not self.api_key_env:
            return ""
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise ConfigError(
                f"translate.llm.api_key_env: the environment variable {self.api_key_env} is not set"
            )
        return key


def open_chat(model: Instructed, placement: Placement | None = None):
    """The chat that asks ``model``: its server, or the model loaded here on ``placement``."""
    if model.backend == "openai":
        return Server(model.server, model.model, model.api_key(), model.timeout, model.retries)
    return LocalModel(model.folder or model.model, placement)


class LocalModel:
    """An instruction model run by transformers in this process (greedy decoding)."""

    def __init__(self, folder: str, placement: Placement | None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = placement.device if placement else "cpu"
        dtype = torch.float32
        if device != "cpu":  # bfloat16 where the card has it (Ampere on), else float16
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device)
        except (OSError, ValueError) as exc:
            raise ModelError(f"translate.llm.model {folder}: cannot be loaded ({exc})") from None
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelError(
                f"translate.llm.model {folder}: its tokenizer has no chat template; "
                "use an instruction-tuned (chat) model"
            )
        self.model.eval()
        self.device = device

    def complete(self, messages: list[dict], schema: dict | None, max_tokens: int) -> str:
        """The model's answer to ``messages`` (``schema`` is the prompt's to state here)."""
        import torch

        encoded = {k: v.to(self.device) for k, v in self._encode(messages).items()}
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode():
            out = self.model.generate(
                **encoded,
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.eos_token_id if pad is None else pad,
            )
        new = out[0, encoded["input_ids"].shape[1] :]
        return self.tokenizer.decode(new, skip_special_tokens=True)

    def _encode(self, messages: list[dict]):
        """The chat template's tokens; a template with no system role (Gemma's) gets the
        instructions at the head of the user's message."""
        from jinja2 import TemplateError

        options = {"add_generation_prompt": True, "return_tensors": "pt", "return_dict": True}
        try:
            return self.tokenizer.apply_chat_template(messages, enable_thinking=False, **options)
        except TemplateError:
            system, user = messages
            merged = [{"role": "user", "content": f"{system['content']}\n\n{user['content']}"}]
            return self.tokenizer.apply_chat_template(merged, enable_thinking=False, **options)


def free(chat) -> None:
    """Let a model loaded in this process go, its card memory too, before another loads."""
    if isinstance(chat, LocalModel):
        import gc

        import torch

        chat.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def check_server(llm: dict) -> str | None:
    """Why translate.llm's server cannot be used (one line), or None (``openai_server.check``)."""
    model = Instructed.from_config("openai", llm, "")
    try:
        key = model.api_key()
    except ConfigError as exc:
        return str(exc)
    return check(Server(model.server, model.model, key, model.timeout, retries=1))
