"""``perception_bag write-synthetic``: camera bags of the synthetic world with their ground truth.

The runtime's ``perception_bag`` command (``perception.bags.cli``) finds this command through
the entry-point group ``perception.bag_commands`` (training/pyproject.toml), so the runtime
package never imports the training package. Examples:

    perception_bag write-synthetic OUT --frames 50 --fps 10 --seed 0 --kind glass
    perception_bag write-synthetic OUT --frames 150 --fps 15 --kind sign
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from perception.bags.cli import add_storage_options
from perception.bags.reading import bag_info
from perception_training.bags.synthetic import write_synthetic_bag
from perception_training.bags.synthetic_sign import write_synthetic_sign_bag
from perception_training.engine.flags import parse_size


def add_write_synthetic(commands: Any) -> None:
    """Add ``write-synthetic`` to ``perception_bag``'s subparsers."""
    write = commands.add_parser("write-synthetic", help="write frames + ground truth of the synthetic world")
    write.add_argument("out", type=Path, help="new bag folder")
    write.add_argument("--frames", type=int, default=30)
    write.add_argument("--fps", type=float, default=10.0)
    write.add_argument("--seed", type=int, default=0)
    write.add_argument("--split", default="test")
    write.add_argument(
        "--kind", default="mixed", help="scene kind: mixed | glass | plain, or sign (continuous signing)"
    )
    write.add_argument("--include", action="append", default=[], help="force a class (repeatable)")
    write.add_argument("--exclude", action="append", default=[], help="forbid a class (repeatable)")
    write.add_argument(
        "--size",
        type=partial(parse_size, flag="--size"),
        default=(640, 480),
        help="WIDTHxHEIGHT, default 640x480",
    )
    write.add_argument("--compressed", action="store_true", help="jpeg CompressedImage instead of raw bgr8")
    add_storage_options(write)
    write.set_defaults(run=_write)


def _write(args: argparse.Namespace, _: list[str]) -> int:
    out = _write_sign(args) if args.kind == "sign" else _write_scenes(args)
    print(bag_info(out).format())
    return 0


def _write_scenes(args: argparse.Namespace) -> Path:
    return write_synthetic_bag(
        args.out,
        args.frames,
        fps=args.fps,
        seed=args.seed,
        split=args.split,
        kind=args.kind,
        include=args.include,
        exclude=args.exclude,
        size=args.size,
        compressed=args.compressed,
        storage=args.storage,
        version=args.bag_version,
    )


def _write_sign(args: argparse.Namespace) -> Path:
    if args.include or args.exclude:
        raise ValueError("--include/--exclude choose scene objects; a sign bag has none")
    return write_synthetic_sign_bag(
        args.out,
        args.frames,
        fps=args.fps,
        seed=args.seed,
        split=args.split,
        size=args.size,
        compressed=args.compressed,
        storage=args.storage,
        version=args.bag_version,
    )
