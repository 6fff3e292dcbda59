"""Reading and writing autokr's JSON files: each field checked against the record's
dataclass on the way in, every file written atomically on the way out.

Every file is UTF-8 JSON with a top-level ``version``. Writes go through a
temporary file beside the final one and a rename, so a killed step never leaves
a half-written file under the final name. Reads check every field against the
dataclass that describes it and name the first bad one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import types
import typing
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from autokr.core.errors import RecordError

VERSION = 1

R = TypeVar("R")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RecordError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected a JSON object at the top")
    if data.get("version") != VERSION:
        raise RecordError(
            f"{path}: version {data.get('version')!r} is not {VERSION}; "
            "delete it and run the workflow again"
        )
    return data


def _at(where: str, message: str) -> str:
    """``message`` prefixed with the field it is about (``segments[0].start``)."""
    where = where.lstrip(".")
    return f"{where}: {message}" if where else message


def _convert(value: Any, kind: Any, where: str) -> Any:
    """``value`` as type ``kind``, or RecordError naming ``where``."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _convert(value, option, where)
            except RecordError as exc:
                errors.append(exc)
        raise errors[0]
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise RecordError(_at(where, f"should be an object, not {type(value).__name__}"))
        return _from_dict(kind, value, where)
    if origin is tuple or origin is list:
        if not isinstance(value, list):
            raise RecordError(_at(where, f"should be a list, not {type(value).__name__}"))
        item = typing.get_args(kind)[0]
        items = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(_at(where, f"should be an object, not {type(value).__name__}"))
        _, item = typing.get_args(kind)
        return {k: _convert(v, item, f"{where}.{k}") for k, v in value.items()}
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecordError(_at(where, f"should be a number, not {type(value).__name__}"))
        return float(value)
    if kind in (int, str, bool):
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise RecordError(_at(where, f"should be {kind.__name__}, not {type(value).__name__}"))
        return value
    raise TypeError(f"records cannot read type {kind!r}")  # a bug in this module


def _from_dict(cls: type[R], data: dict[str, Any], where: str) -> R:
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(_at(where, f"missing field {f.name!r}"))
            continue
        values[f.name] = _convert(data[f.name], hints[f.name], f"{where}.{f.name}")
    return cls(**values)


def read_record(cls: type[R], path: str | os.PathLike) -> R:
    """Read and check a record of type ``cls`` (errors name the file and the field)."""
    path = Path(path)
    data = _load(path)
    try:
        return _from_dict(cls, data, "")
    except RecordError as exc:
        raise RecordError(f"{path}: {exc}") from None


def write_record(record: Any, path: str | os.PathLike) -> None:
    """Write a record as JSON, atomically."""
    write_text_atomic(path, json.dumps(asdict(record), ensure_ascii=False, indent=1) + "\n")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write text to ``path`` through a temporary file beside it and a rename, so readers
    see all or nothing.

    The temporary name is this writer's own (``NAME.<pid>.<random>.tmp``): two
    processes writing one file at once (two runs sharing a models folder) each
    rename a whole file of their own, the last one winning, and never write
    into each other's. A write that fails removes its temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
