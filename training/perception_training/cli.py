"""``perception-train <task> [options]``: one entry point for every trainer.

Each subcommand lives in its own module with a ``main(argv, prog) -> int``; it is imported only
when chosen, so ``perception-train detector`` does not pay for the captioner's imports.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "detector": ("perception_training.detector.train", "YOLO detector on the synthetic world"),
    "classify": ("perception_training.classification.train", "image classifier (glass, Tiny-ImageNet)"),
    "caption": ("perception_training.captioning.train", "image captioner (English/Korean)"),
    "caption-encoder": (
        "perception_training.captioning.encoder_pretrain",
        "pretrain the captioner's encoder on object boxes (YOLO data)",
    ),
    "sign": ("perception_training.sign.train", "sign-word video classifier (AIHub format)"),
    "export-onnx": (
        "perception_training.onnx_export.cli",
        "export an artifact to ONNX beside it (domain score in the graph)",
    ),
    "ood-calibrate": (
        "perception_training.ood.calibrate",
        "add out-of-domain statistics to an artifact (no retraining)",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the chosen trainer's ``main``; ``perception-train <task> --help`` shows its options."""
    listing = "\n".join(f"  {name:<12} {text}" for name, (_, text) in sorted(COMMANDS.items()))
    parser = argparse.ArgumentParser(
        prog="perception-train",
        description="Train the models the perception nodes load.",
        epilog=f"tasks:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("task", choices=sorted(COMMANDS), help="what to train")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of that task (see <task> --help)")
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.task][0])
    return module.main(args.options, prog=f"perception-train {args.task}")


if __name__ == "__main__":
    raise SystemExit(main())
