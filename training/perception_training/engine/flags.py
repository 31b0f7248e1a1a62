"""Command-line flags derived from a frozen config dataclass, so the two never drift apart.

Each field becomes ``--field-name`` (``--field_name`` is accepted too) with the field's type
and default; ``aliases`` (older spellings such as ``--batch``) and any other argparse option
(``help``, ``choices``, ``nargs``, ``metavar``, ``type``) come from the field's metadata; ``bool``
fields become ``--x / --no-x``; ``tuple[X, ...]`` fields with ``nargs`` take X values; fields
with ``init=False`` are fixed by the recipe and have no flag.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Sequence
from dataclasses import MISSING, Field, field, fields
from typing import Any, TypeVar

Config = TypeVar("Config")


def flag(default: Any, help: str, **more: object) -> Any:
    """A config dataclass field with ``default`` whose flag has ``help`` (``aliases``, argparse options)."""
    return field(default=default, metadata={"help": help, **more})


def build_parser(
    config_type: type[Config], prog: str, description: str | None = None
) -> argparse.ArgumentParser:
    """An ArgumentParser with one option per field of ``config_type``."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add_flags(parser, config_type)
    return parser


def add_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, config_type: type, overrides: bool = False
) -> None:
    """One option per field of ``config_type``; with ``overrides`` every default is None ("not given"),
    for settings that a preset or a stored run supplies unless the command line changes them."""
    hints = typing.get_type_hints(config_type)
    for spec in _flag_fields(config_type):
        kind = _scalar_type(hints[spec.name])
        options: dict[str, Any] = {
            "dest": spec.name,
            "default": None if overrides else _default(spec),
            "help": " ",
            **({"action": argparse.BooleanOptionalAction} if kind is bool else {"type": kind}),
            **{key: value for key, value in spec.metadata.items() if key != "aliases"},
        }
        parser.add_argument(*_spellings(spec), **options)


def config_from(args: argparse.Namespace, config_type: type[Config]) -> Config:
    """The ``config_type`` instance of parsed ``args`` (every field read by its name; the lists of
    ``nargs`` flags become the tuples a frozen config holds)."""
    values = {spec.name: getattr(args, spec.name) for spec in _flag_fields(config_type)}
    return config_type(**{name: tuple(v) if isinstance(v, list) else v for name, v in values.items()})


def parse_config(
    config_type: type[Config], argv: Sequence[str] | None, prog: str, description: str
) -> Config:
    """Parse ``argv`` into a ``config_type`` instance."""
    return config_from(build_parser(config_type, prog, description).parse_args(argv), config_type)


def parse_size(text: str, flag: str) -> tuple[int, int]:
    """``"320x240"`` -> ``(320, 240)``, or SystemExit naming ``flag`` and what is wrong."""
    try:
        width, height = (int(value) for value in text.lower().split("x"))
    except ValueError as error:
        raise SystemExit(f"{flag} wants WIDTHxHEIGHT, e.g. 320x240, got {text!r}") from error
    return width, height


def parse_sizes(text: str, flag: str) -> list[tuple[int, int]]:
    """``"160x120,640x480"`` -> ``[(160, 120), (640, 480)]``, or SystemExit naming ``flag`` and the
    bad entry."""
    sizes = []
    for entry in text.split(","):
        width, _, height = entry.strip().lower().partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise SystemExit(f"{flag}: {entry!r} is not WIDTHxHEIGHT (e.g. 640x480)")
        sizes.append((int(width), int(height)))
    return sizes


def parse_counts(text: str, names: Sequence[str], flag: str) -> dict[str, int]:
    """``"20,4,4"`` -> ``{"train": 20, "val": 4, "test": 4}`` for ``names``, or SystemExit."""
    try:
        values = [int(value) for value in text.split(",")]
    except ValueError:
        values = []
    if len(values) != len(names):
        wanted = ",".join(name.upper() for name in names)
        raise SystemExit(f"{flag} wants {wanted} image counts, got {text!r}")
    return dict(zip(names, values, strict=True))


def _flag_fields(config_type: type) -> list[Field]:
    return [spec for spec in fields(config_type) if spec.init]


def _spellings(spec: Field) -> list[str]:
    dashed, underscored = "--" + spec.name.replace("_", "-"), "--" + spec.name
    return list(dict.fromkeys([dashed, underscored, *spec.metadata.get("aliases", ())]))


def _default(spec: Field) -> Any:
    if spec.default is not MISSING:
        return spec.default
    return spec.default_factory() if spec.default_factory is not MISSING else None


def _scalar_type(hint: Any) -> type:
    """``Path | None`` -> Path, ``tuple[str, ...]`` -> str (one value of an ``nargs`` flag); plain
    types unchanged."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0]
    return hint
