"""``perception-train classify``: train an image classifier from a recipe, or resume a run.

Every :class:`TrainConfig` field is also an option (``--lr``, ``--freeze-epochs`` ...) that
overrides the recipe; a resumed run starts from its stored config instead of the recipe.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import types
import typing
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from perception.core.artifacts import read_metadata
from perception_training.classification.readers import read_dataset
from perception_training.classification.recipes import RECIPES, TrainConfig
from perception_training.classification.trainer import LATEST, ClassificationTrainer, new_run_dir
from perception_training.ood.calibrate import DEFAULT_CALIBRATION, calibrate_trained


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument(
        "--recipe", choices=sorted(RECIPES), default="glass-synthetic", help="preset settings"
    )
    parser.add_argument("--data", type=Path, help="ImageFolder or Tiny-ImageNet-200 folder")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="runs go to OUT/<recipe>/<timestamp>/")
    parser.add_argument("--resume", type=Path, help="a run folder (or its latest.safetensors) to continue")
    parser.add_argument("--stop-after", type=int, help="end this session after that epoch (resume later)")
    parser.add_argument(
        "--export", type=Path, help="also copy the best checkpoint here (e.g. models/glass/...)"
    )
    parser.add_argument(
        "--ood-calibration",
        type=int,
        default=DEFAULT_CALIBRATION,
        metavar="N",
        help="held-out crops that calibrate the exported artifact's out-of-domain threshold when the "
        "data came from the synthetic world (docs/ood.md); 0 = export without domain statistics",
    )
    options = parser.add_argument_group("settings (override the recipe)")
    hints = typing.get_type_hints(TrainConfig)
    for spec in fields(TrainConfig):
        flag = "--" + spec.name.replace("_", "-")
        kind = _scalar_type(hints[spec.name])
        if kind is bool:
            options.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            options.add_argument(flag, type=kind, default=None, metavar=kind.__name__.upper())
    return parser


def _scalar_type(hint: Any) -> type:
    """``float | None`` -> float; plain types unchanged."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def main(argv: Sequence[str] | None = None, prog: str = "perception-train classify") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {spec.name: getattr(args, spec.name) for spec in fields(TrainConfig)}
    if args.resume:
        checkpoint = args.resume / LATEST if args.resume.is_dir() else args.resume
        stored = read_metadata(checkpoint)
        config = TrainConfig.from_dict(stored["training"]["config"]).with_overrides(overrides)
        data_root, task, run_dir = (
            args.data or Path(stored["dataset"]["root"]),
            stored["task"],
            checkpoint.parent,
        )
    else:
        if args.data is None:
            raise SystemExit(f"{prog}: --data is required unless --resume is given")
        config = RECIPES[args.recipe].with_overrides(overrides)
        data_root, task, run_dir, checkpoint = (
            args.data,
            args.recipe,
            new_run_dir(args.out, args.recipe),
            None,
        )
    data = read_dataset(data_root, config.val_fraction, config.seed)
    command = shlex.join(["perception-train", "classify", *(argv if argv is not None else sys.argv[1:])])
    trainer = ClassificationTrainer(data, config, run_dir, task, command, _dataset_info(data_root))
    if checkpoint is not None:
        trainer.resume(checkpoint)
    result = trainer.fit(stop_after=args.stop_after)
    if args.export:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        args.export.write_bytes(result.best.read_bytes())
        logging.info("exported %s -> %s", result.best, args.export)
        calibrate_trained(args.export, args.ood_calibration)
    print(json.dumps({"run_dir": str(result.run_dir), **_scalars(result.metrics)}, indent=2))
    return 0


def _dataset_info(root: Path) -> dict[str, Any]:
    """Generator and seed of a synthetic dataset (its ``synthetic.json``), if it has one."""
    info = root / "synthetic.json"
    return json.loads(info.read_text()) if info.is_file() else {}


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


if __name__ == "__main__":
    raise SystemExit(main())
