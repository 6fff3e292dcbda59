"""Validate the workflow config against ``config/schema.yaml`` and fill defaults.

Errors come out as one line naming the key, before any job starts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autokr.core import languages
from autokr.core.defaults import SCHEMA
from autokr.core.devices import backend_library, check_compute_type
from autokr.core.errors import ConfigError


def load_schema() -> dict[str, Any]:
    """The config schema as a dict."""
    import yaml

    return yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))


def validate_config(config: dict[str, Any], check_targets: bool = True) -> dict[str, Any]:
    """Return a copy of ``config`` with defaults filled in; raise ConfigError naming the bad key.

    ``check_targets=False`` leaves out the target languages' checks, for a
    step run by hand that never reads them (transcribe a Korean video, say).
    """
    import jsonschema

    schema = load_schema()
    config = copy.deepcopy(config)
    _fill_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(_describe(error))
    translate = config["translate"]
    check_compute_type(backend_library(nllb_backend(translate)), translate["compute_type"])
    _check_llm(translate)
    targets = target_codes(config) if check_targets else []
    if len(set(targets)) != len(targets):
        raise ConfigError("target_language: a language is listed twice")
    try:
        languages.source_language(config["source_language"])
    except ConfigError as exc:
        raise ConfigError(f"source_language: {exc}") from None
    if config["transcribe"]["source"] == "subtitles" and config["source_language"] == "auto":
        raise ConfigError(
            "transcribe.source: subtitles needs source_language to name the language "
            "of the subtitles to read, not auto"
        )
    for code in targets:
        try:
            languages.target_language(code)
        except ConfigError as exc:
            raise ConfigError(f"target_language: {exc}") from None
        if code == config["source_language"]:
            raise ConfigError(f"target_language: {code!r} is also the source language")
    _check_glossary(translate["glossary"], targets)
    return config


#: The backends that run NLLB. ``llm`` and ``openai`` ask an instruction model,
#: and NLLB (translate.model, by CTranslate2) translates what it fails.
NLLB_BACKENDS = ("ctranslate2", "transformers")
#: Settings of translate.llm that change how a job runs, not what it writes.
LLM_RUN_ONLY = frozenset({"api_key_env", "jobs", "timeout", "retries"})


def nllb_backend(translate: dict[str, Any]) -> str:
    """The runtime of translate's NLLB model: the backend, or CTranslate2 beside an LLM."""
    backend = translate["backend"]
    return backend if backend in NLLB_BACKENDS else "ctranslate2"


def _check_llm(translate: dict[str, Any]) -> None:
    """backend openai needs a server and a model's name."""
    if translate["backend"] != "openai":
        return
    llm = translate["llm"]
    if not llm["server"].strip():
        raise ConfigError(
            "translate.llm.server: backend openai needs the server's URL, "
            "such as http://localhost:11434/v1"
        )
    if llm["model"] in ("", "auto"):
        raise ConfigError(
            "translate.llm.model: backend openai needs the name of a model the server "
            "has (auto picks only for backend llm)"
        )


def glossary_path(config: dict[str, Any], target: str) -> str:
    """The glossary file of target language ``target``; "" for none.

    translate.glossary is one file (for a config with one target language) or
    one a language (``{ko: names.ko.tsv}``): a glossary's targets are written
    in one language.
    """
    value = config["translate"]["glossary"]
    return value.get(target, "") if isinstance(value, dict) else value


def _check_glossary(value: str | dict[str, str], targets: list[str]) -> None:
    """One glossary file serves one target language."""
    if isinstance(value, str):
        if value and len(targets) > 1:
            raise ConfigError(
                f"translate.glossary: one file for {len(targets)} target languages "
                f"({', '.join(targets)}); give each its own, such as {{{targets[0]}: {value}}}"
            )
        return
    for code in value:
        if targets and code not in targets:
            raise ConfigError(
                f"translate.glossary: {code!r} is not a target language ({', '.join(targets)})"
            )


def read_config(paths: list[str], base: str = "config/config.yaml") -> dict[str, Any]:
    """The config as Snakemake builds it from ``--configfile`` files, checked and filled.

    Later files override earlier ones key by key, nested keys too.
    """
    merged: dict[str, Any] = {}
    for path in [base, *paths]:
        _merge(merged, read_config_file(path))
    return validate_config(merged)


def read_config_file(path: str) -> dict[str, Any]:
    """One config file's keys; ConfigError naming the file (and the line) when it is no
    YAML mapping. OSError when it cannot be read."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start and (not mark or start.line != mark.line):
            problem += f" ({context} from line {start.line + 1})"
        raise ConfigError(f"{path}: {where}{problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a mapping of keys (videos: ..., publish: ...)")
    return data


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def target_codes(config: dict[str, Any]) -> list[str]:
    """The target languages as a list, whether the config gave one code or several."""
    value = config["target_language"]
    return [value] if isinstance(value, str) else list(value)


def source_label(config: dict[str, Any]) -> str:
    """The label of the source-language subtitle file: the code, or ``orig`` for auto."""
    code = config["source_language"]
    return "orig" if code == languages.AUTO else code


def _fill_defaults(config: dict[str, Any], schema: dict[str, Any]) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(config[key], sub)


def _describe(error) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        where = f"{path}.{extra[0]}" if path else extra[0]
        return f"{where}: unknown key (known here: {', '.join(known)})"
    if error.validator == "oneOf" and path == "target_language":
        return "target_language: should be a language code or a list of codes"
    return f"{path or 'config'}: {error.message}"


#: Settings that say how a step runs on a machine, not what it makes. They
#: reach the step only in its ``run_with`` param (which Snakemake never
#: compares), never in its ``settings`` param, so changing one reruns nothing.
RUN_ONLY: dict[str, frozenset[str]] = {
    "transcribe": frozenset({"device", "compute_type", "threads"}),
    "translate": frozenset({"device", "compute_type", "threads", "batch_size", "batch_tokens"}),
}
#: Settings that choose which rule makes a step's output, not what the rule makes:
#: transcribe.source picks read_subtitles or transcribe per video, and a change
#: reruns only the videos whose rule, and so whose inputs, it changes.
RULE_CHOICE: dict[str, frozenset[str]] = {"transcribe": frozenset({"source"})}


@dataclass(frozen=True)
class RunWith:
    """The config a step's job runs with (the keys its rule names, checked and filled).

    A rule hands it to the job as a param. Snakemake decides reruns by comparing
    the params that are plain values (strings, numbers, lists, dicts) and passes
    over any other object, so this one decides none: the rule's plain params do.
    """

    config: dict[str, Any]


def run_with(config: dict[str, Any], *keys: str) -> RunWith:
    """``RunWith`` holding ``keys`` of the (validated) workflow config."""
    return RunWith({key: copy.deepcopy(config[key]) for key in keys if key in config})


def output_settings(config: dict[str, Any], step: str) -> dict[str, Any]:
    """The settings of ``step`` that shape its output and differ from their defaults.

    These are the step's Snakemake params, so they decide reruns: changing one
    reruns the step, while a key that a newer autokr adds with a default that
    keeps today's output changes nothing, and neither do run-only settings.
    """
    left_out = RUN_ONLY.get(step, frozenset()) | RULE_CHOICE.get(step, frozenset())
    section = {k: v for k, v in config[step].items() if k not in left_out}
    if step == "translate":
        section = _translate_output(section)
    return _differences(section, load_schema()["properties"][step])


def _translate_output(section: dict[str, Any]) -> dict[str, Any]:
    """translate's settings that shape its output: an NLLB backend's leave the
    instruction model's out; an instruction model's leave out how its server is reached."""
    if section["backend"] in NLLB_BACKENDS:
        return {k: v for k, v in section.items() if k not in ("llm", "instructions")}
    llm = {k: v for k, v in section["llm"].items() if k not in LLM_RUN_ONLY}
    return {**section, "llm": llm}


def audio_param(config: dict[str, Any]) -> Any:
    """extract_audio's audio settings as its one param (it decides reruns).

    While ``audio_channels`` is at its default this is ``audio_track`` alone,
    the param extract_audio had before audio_channels came: Snakemake compares
    the values of params, so an update of autokr reruns nothing.
    """
    default = load_schema()["properties"]["audio_channels"]["default"]
    if config["audio_channels"] == default:
        return config["audio_track"]
    return {"audio_channels": config["audio_channels"], "audio_track": config["audio_track"]}


def step_settings(config: dict[str, Any], step: str) -> dict[str, Any]:
    """Every setting of ``step``: what the step runs with.

    ``config`` is one the Snakefile validated and filled with defaults (a
    step's ``run_with`` param), so this needs neither the schema nor
    jsonschema in the step's environment.
    """
    return copy.deepcopy(config[step])


def _differences(values: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` not at the schema's default, nested objects compared key by key.

    Keys are sorted, so that the order of a config file never changes params.
    """
    found = {}
    for key, value in sorted(values.items()):
        sub = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and sub.get("properties"):
            nested = _differences(value, sub)
            if nested:
                found[key] = nested
        elif "default" not in sub or value != sub["default"]:
            found[key] = value
    return found


def add_config_options(parser, keys: list[str]) -> None:
    """Give ``parser`` an option for each config key under ``keys``, built from the schema.

    A section (``transcribe``) gives one option per key in it (``--beam-size``),
    a top-level key one option (``--source-language``); each option's help is
    the schema's description, so the options of a step run by hand cannot drift
    from the workflow's keys. Values are read as YAML unless the key is a
    string (``--temperature "[0.0, 0.2]"``, ``--vad-options "{threshold: 0.4}"``,
    ``--vad false``); a key left out takes its default.
    """
    for key in keys:
        section = _schema_at(key)
        if "properties" in section:
            items = [(f"{key}.{name}", prop) for name, prop in section["properties"].items()]
        else:
            items = [(key, section)]
        for dest, prop in items:
            name = dest.rsplit(".", 1)[-1]
            parser.add_argument(
                "--" + name.replace("_", "-"),
                dest=dest,
                type=str if _is_string(prop) else _yaml_value,
                help=f"{prop.get('description', '')} (default: {prop.get('default')!r})",
                metavar="VALUE",
            )


def config_from_options(args, keys: list[str], base: dict[str, Any] | None = None) -> dict:
    """The config that options from ``add_config_options`` describe, checked and filled.

    A model left at ``auto`` stays so: a model step run by hand asks
    ``autokr.models.choice.chosen_by_hand``.

    Target languages are checked only where ``keys`` or ``base`` name them.
    """
    config: dict[str, Any] = copy.deepcopy(base or {})
    for dest, value in vars(args).items():
        if value is None or not any(dest == k or dest.startswith(f"{k}.") for k in keys):
            continue
        *path, name = dest.split(".")
        into = config
        for part in path:
            into = into.setdefault(part, {})
        into[name] = value
    return validate_config(
        config, check_targets="target_language" in keys or "target_language" in config
    )


def _schema_at(key: str) -> dict[str, Any]:
    """The schema of a config key, dotted for a nested one (``translate.sentences``)."""
    schema = load_schema()
    for part in key.split("."):
        schema = schema["properties"][part]
    return schema


def _is_string(prop: dict[str, Any]) -> bool:
    """True for a key whose values are plain strings (a model path, a language code)."""
    kinds = prop.get("type")
    return (
        kinds == "string"
        or (isinstance(kinds, list) and "string" in kinds)
        or ("enum" in prop and all(isinstance(v, str) for v in prop["enum"]))
    )


def _yaml_value(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)
