"""Command-line flags derived from a frozen config dataclass, so the two never drift apart.

Each field becomes ``--<field_name>`` with the field's type and default; ``help`` and
``choices`` come from the field's metadata; ``bool`` fields become ``--x / --no-x``.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Sequence
from dataclasses import MISSING, fields
from typing import Any, TypeVar

Config = TypeVar("Config")


def build_parser(
    config_type: type[Config], prog: str, description: str | None = None
) -> argparse.ArgumentParser:
    """An ArgumentParser with one option per field of ``config_type``."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    hints = typing.get_type_hints(config_type)
    for spec in fields(config_type):
        kind = _scalar_type(hints[spec.name])
        default = spec.default if spec.default is not MISSING else None
        options: dict[str, Any] = {"default": default, "help": spec.metadata.get("help", " ")}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options.update(type=kind, choices=spec.metadata.get("choices"))
        parser.add_argument("--" + spec.name, **options)
    return parser


def parse_config(
    config_type: type[Config], argv: Sequence[str] | None, prog: str, description: str
) -> Config:
    """Parse ``argv`` into a ``config_type`` instance."""
    args = build_parser(config_type, prog, description).parse_args(argv)
    return config_type(**{spec.name: getattr(args, spec.name) for spec in fields(config_type)})


def _scalar_type(hint: Any) -> type:
    """``Path | None`` -> Path; plain types unchanged."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint
