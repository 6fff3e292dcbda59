"""Which files of a Hub repository autokr fetches, tried on the repositories as the Hub serves them.

The file lists are pinned in ``data/hub_files.json`` (with where and when
they were read), so the selection a real first run makes is tested offline.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
from huggingface_hub.utils import filter_repo_objects

from autokr.core.errors import ModelError
from autokr.models import locate
from autokr.translation import conversion
from conftest import ROOT

HUB_FILES = json.loads(
    (Path(__file__).parent / "data" / "hub_files.json").read_text(encoding="utf-8")
)["repos"]
NLLB_REPOS = [repo for repo in HUB_FILES if repo.startswith("facebook/nllb-")]
WHISPER_REPOS = [repo for repo in HUB_FILES if "whisper" in repo]


def test_every_model_the_config_names_by_default_is_pinned():
    import yaml
    from faster_whisper.utils import _MODELS

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert config["translate"]["model"] in NLLB_REPOS
    assert _MODELS[config["transcribe"]["model"]] in WHISPER_REPOS


@pytest.mark.parametrize("repo", NLLB_REPOS)
def test_a_pinned_nllb_repository_gets_weights_config_and_tokenizer(repo):
    files = HUB_FILES[repo]["files"]
    chosen = locate.checkpoint_files(files, repo)
    assert {"config.json", "tokenizer.json", "sentencepiece.bpe.model"} <= set(chosen)
    weights = locate.weight_files(chosen)
    assert weights and set(weights) <= set(chosen)
    assert len({Path(w).suffix for w in weights if not w.endswith(".json")}) == 1
    assert not {".gitattributes", "README.md"} & set(chosen)


def test_the_default_nllb_gets_its_pytorch_model_bin():
    # Its main branch holds no safetensors: asking for *.safetensors fetched no weights.
    chosen = locate.checkpoint_files(HUB_FILES["facebook/nllb-200-distilled-600M"]["files"])
    assert chosen == [
        "config.json",
        "generation_config.json",
        "pytorch_model.bin",
        "sentencepiece.bpe.model",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]


def faster_whisper_patterns(monkeypatch) -> list[str]:
    """The allow_patterns faster-whisper's own download_model asks the Hub for."""
    from faster_whisper import utils

    asked = {}
    monkeypatch.setattr(
        utils.huggingface_hub,
        "snapshot_download",
        lambda repo_id, **kwargs: asked.update(kwargs) or "/nowhere",
    )
    utils.download_model("large-v3")
    return asked["allow_patterns"]


@pytest.mark.parametrize("repo", WHISPER_REPOS)
def test_faster_whisper_gets_a_whole_model_from_a_pinned_repository(repo, monkeypatch):
    patterns = faster_whisper_patterns(monkeypatch)
    chosen = set(filter_repo_objects(HUB_FILES[repo]["files"], allow_patterns=patterns))
    assert {"model.bin", "config.json", "tokenizer.json"} <= chosen
    assert any(f.startswith("vocabulary.") for f in chosen)


EVERY_FORMAT = [
    ".gitattributes",
    "README.md",
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "tf_model.h5",
    "flax_model.msgpack",
    "rust_model.ot",
    "onnx/config.json",
    "onnx/encoder_model.onnx",
    "sentencepiece.bpe.model",
    "tokenizer.json",
    "tokenizer_config.json",
]


def test_a_repository_with_both_formats_gets_safetensors_only():
    chosen = locate.checkpoint_files(EVERY_FORMAT)
    assert chosen == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "sentencepiece.bpe.model",
        "tokenizer.json",
        "tokenizer_config.json",
    ]


SHARDED_BIN = [
    "config.json",
    "pytorch_model-00001-of-00003.bin",
    "pytorch_model-00002-of-00003.bin",
    "pytorch_model-00003-of-00003.bin",
    "pytorch_model.bin.index.json",
    "sentencepiece.bpe.model",
    "tokenizer.json",
]


def test_a_sharded_bin_repository_gets_every_shard_and_the_index():
    assert locate.checkpoint_files([*SHARDED_BIN, "README.md", "tf_model.h5"]) == SHARDED_BIN


def test_sharded_safetensors_win_over_a_bin_copy_and_bring_their_index_only():
    safetensors = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]
    chosen = locate.checkpoint_files([*SHARDED_BIN, *safetensors])
    assert chosen == sorted(
        ["config.json", "sentencepiece.bpe.model", "tokenizer.json", *safetensors]
    )


def test_shards_without_their_index_are_not_weights():
    with pytest.raises(ModelError, match="holds no weights"):
        locate.checkpoint_files([f for f in SHARDED_BIN if not f.endswith(".index.json")])


def test_a_repository_without_usable_weights_is_a_clear_error():
    files = ["config.json", "tokenizer.json", "tf_model.h5", "onnx/model.onnx"]
    with pytest.raises(ModelError) as caught:
        locate.checkpoint_files(files, "org/tf-only")
    message = str(caught.value)
    assert message.startswith("org/tf-only holds no weights transformers can load")
    assert "model.safetensors or pytorch_model.bin" in message and "tf_model.h5" in message


def test_a_download_asks_the_hub_for_the_chosen_files_only(tmp_path, monkeypatch):
    listing = HUB_FILES["facebook/nllb-200-distilled-600M"]["files"]
    asked = []

    def snapshot_download(repo_id, dry_run=False, allow_patterns=None, **kwargs):
        if dry_run:
            return [SimpleNamespace(filename=f) for f in listing]
        asked.append(allow_patterns)
        folder = tmp_path / "snapshot"
        folder.mkdir()
        for name in filter_repo_objects(listing, allow_patterns=allow_patterns):
            (folder / name).touch()
        return str(folder)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    folder = conversion.download_checkpoint("facebook/nllb-200-distilled-600M")
    assert asked == [locate.checkpoint_files(listing)]
    assert (folder / "pytorch_model.bin").exists() and not (folder / "README.md").exists()


def fake_cache(root: Path, repo: str, files: list[str]) -> Path:
    """A Hugging Face cache holding one snapshot of ``repo`` with ``files`` (empty)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    storage = root / f"models--{repo.replace('/', '--')}"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(commit)
    snapshot = storage / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).touch()
    return snapshot


def test_offline_a_cached_snapshot_without_weights_is_not_found(tmp_path, monkeypatch):
    # What an earlier autokr left in the cache: no weights for the default model.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot = fake_cache(tmp_path, "org/nllb", ["config.json", "tokenizer.json"])
    with pytest.raises(ModelError) as caught:
        conversion.download_checkpoint("org/nllb")
    message = str(caught.value)
    assert "'org/nllb' (translate.model)" in message and str(tmp_path) in message
    assert "holds no weights" in message and "make models" in message
    (snapshot / "pytorch_model.bin").touch()
    assert conversion.download_checkpoint("org/nllb") == snapshot


def test_offline_a_model_never_downloaded_is_not_found(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"'org/absent' \(translate.model\) is not a local folder"):
        conversion.download_checkpoint("org/absent")


def test_a_converted_folder_is_told_from_checkpoints(tmp_path):
    def folder(name, files):
        path = tmp_path / name
        path.mkdir()
        for f in files:
            (path / f).touch()
        return path

    assert conversion.is_ctranslate2_folder(folder("ct2", ["model.bin", "config.json"]))
    for name, files in {
        "bin": ["pytorch_model.bin"],
        "bin-shards": ["pytorch_model-00001-of-00002.bin", "pytorch_model.bin.index.json"],
        "st-shards": ["model-00001-of-00002.safetensors", "model.safetensors.index.json"],
        "st": ["model.safetensors"],
    }.items():
        # model.bin beside checkpoint weights: a checkpoint (with a stray file), not converted.
        assert not conversion.is_ctranslate2_folder(
            folder(name, ["model.bin", "config.json", *files])
        )
    assert not conversion.is_ctranslate2_folder(tmp_path / "missing")
