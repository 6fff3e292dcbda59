"""Write docs/config.md, the config reference, from config/schema.yaml.

The schema holds every key's type, default and description; this page restates
them for reading and is never edited by hand. ``make docs`` writes it;
``--check`` exits 1 with one line when the page no longer matches the schema
(``tests/test_config_docs.py`` fails then too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "config" / "schema.yaml"
CONFIG_DOC = ROOT / "docs" / "config.md"

#: The name a key of a map (``additionalProperties``) takes in a dotted path.
MAP_KEY = {"layout": "LANG"}


def format_value(value: object) -> str:
    """A default as it is written in config.yaml (YAML flow style)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{key}: {format_value(item)}" for key, item in value.items())
        return "{" + inner + "}"
    return str(value)


def _bounds(schema: dict) -> str:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if low is not None and high is not None:
        return f" from {format_value(low)} to {format_value(high)}"
    if low is not None:
        return f" ≥ {format_value(low)}"
    if "exclusiveMinimum" in schema:
        return f" > {format_value(schema['exclusiveMinimum'])}"
    return ""


def format_type(schema: dict) -> str:
    """A key's type in words: ``integer ≥ 1``, ``one of `auto`, `cpu```, ``list of number``."""
    if "const" in schema:
        return f"`{format_value(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{format_value(item)}`" for item in schema["enum"])
    if "oneOf" in schema:
        return " or ".join(format_type(option) for option in schema["oneOf"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        words = [item + _bounds(schema) for item in kind if item != "null"]
        if "null" in kind:
            words.append("`null`")
        return " or ".join(words)
    if kind == "null":
        return "`null`"
    if kind == "array":
        items = schema.get("items", {})
        if "enum" in items:
            return "list of " + ", ".join(f"`{format_value(item)}`" for item in items["enum"])
        items = format_type(items)
        return f"list of ({items})" if " or " in items else f"list of {items}"
    if kind == "object" and "additionalProperties" in schema and "properties" not in schema:
        return "map"
    return kind + _bounds(schema)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _rows(schema: dict, path: str) -> list[str]:
    """One table row per key under ``schema``, nested keys by their dotted path."""
    rows = []
    for key, sub in schema.get("properties", {}).items():
        name = f"{path}{key}"
        default = f"`{format_value(sub['default'])}`" if "default" in sub else "-"
        description = sub.get("description", "(no description in the schema)")
        rows.append(f"| `{name}` | {format_type(sub)} | {default} | {_cell(description)} |")
        rows.extend(_rows(sub, f"{name}."))
        entry = sub.get("additionalProperties")
        if isinstance(entry, dict) and "properties" in entry:
            rows.extend(_rows(entry, f"{name}.{MAP_KEY.get(key, 'KEY')}."))
    return rows


def _table(rows: list[str]) -> list[str]:
    return ["| key | type | default | description |", "| --- | --- | --- | --- |", *rows, ""]


def config_reference(schema: dict) -> str:
    """The text of docs/config.md for a loaded schema: every key, its type, default and use."""
    lines = [
        "# Config reference",
        "",
        "<!-- Generated from config/schema.yaml by scripts/write_config_docs.py:",
        "     do not edit; change the schema and run `make docs`. -->",
        "",
        _cell(schema.get("description", "")),
        "",
        "The settings live in `config/config.yaml`, which the run checks against",
        "`config/schema.yaml` before any job starts; a mistake stops it with one line",
        "that names the key. A key of a map takes any name (`LANG`: a language code).",
        "",
        "## Top level",
        "",
    ]
    top = {key: sub for key, sub in schema["properties"].items() if "properties" not in sub}
    lines += _table(_rows({"properties": top}, ""))
    for key, sub in schema["properties"].items():
        if "properties" not in sub:
            continue
        lines += [f"## {key}", "", _cell(sub.get("description", "")), ""]
        lines += _table(_rows(sub, f"{key}."))
    return "\n".join(lines)


def load_schema(path: Path = SCHEMA) -> dict:
    """config/schema.yaml as a dict."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_config_docs(
    schema_path: Path = SCHEMA, doc_path: Path = CONFIG_DOC, check: bool = False
) -> bool:
    """Write the reference (or, with ``check``, only compare); True when the page was current."""
    text = config_reference(load_schema(schema_path))
    current = doc_path.exists() and doc_path.read_text(encoding="utf-8") == text
    if not check and not current:
        doc_path.parent.mkdir(parents=True, exist_ok=True)
        doc_path.write_text(text, encoding="utf-8")
    return current


def main(argv: list[str] | None = None) -> int:
    """Command line: write docs/config.md, or check it with ``--check``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/config.md is stale, write nothing"
    )
    args = parser.parse_args(argv)
    current = write_config_docs(check=args.check)
    if args.check and not current:
        print(
            f"autokr: {CONFIG_DOC.relative_to(ROOT)}: stale, it no longer matches "
            f"{SCHEMA.relative_to(ROOT)}: run make docs",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
