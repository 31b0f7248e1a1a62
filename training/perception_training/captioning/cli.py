"""``perception-train caption``: train the captioner from a captions.txt dataset.

Either ``--data ROOT`` (the synthetic-world layout: ``ROOT/images``,
``ROOT/<lang>/<format>/captions.txt``, ``ROOT/splits/{train,val,test}.txt``) or explicit
``--captions FILE --images DIR [--splits DIR]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from perception_training.captioning.train import TrainConfig, train
from perception_training.ood.calibrate import DEFAULT_CALIBRATION


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``caption`` subcommand (shared by the dispatcher and ``python -m``)."""
    source = parser.add_argument_group("data")
    source.add_argument("--data", type=Path, help="dataset root in the synthetic-world layout")
    source.add_argument(
        "--synthetic",
        metavar="TRAIN,VAL,TEST",
        help="write this many synthetic captioned scenes to OUT/data, train on them",
    )
    source.add_argument(
        "--synthetic-size",
        default="320x240",
        metavar="WxH",
        help="render size of the synthetic scenes: a camera's 4:3 frame, squashed to --image-size "
        "for the model exactly as the caption node squashes camera frames",
    )
    source.add_argument("--synthetic-seed", type=int, default=0, help="seed of the synthetic world")
    source.add_argument(
        "--format", default="csv", choices=("csv", "tsv", "flickr"), help="which captions.txt under --data"
    )
    source.add_argument(
        "--captions", type=Path, help="captions.txt (csv, tsv or flickr layout, auto-detected)"
    )
    source.add_argument("--images", type=Path, help="folder holding the images named in captions.txt")
    source.add_argument(
        "--splits", type=Path, help="folder with train.txt/val.txt/test.txt (else 80/10/10 split)"
    )
    source.add_argument(
        "--language", default="en", choices=("en", "ko"), help="ko tokenizes into Kiwi morphemes"
    )
    run = parser.add_argument_group("training")
    run.add_argument(
        "--out", type=Path, default=Path("runs/captioner"), help="metrics.csv, loss_curve.png, checkpoints"
    )
    run.add_argument("--artifact", type=Path, help="final artifact path (default OUT/captioner.safetensors)")
    run.add_argument("--epochs", type=int, default=10)
    run.add_argument("--batch", type=int, default=64)
    run.add_argument("--lr", type=float, default=4e-4)
    run.add_argument(
        "--encoder-lr", type=float, default=1e-4, help="learning rate once the encoder is unfrozen"
    )
    run.add_argument("--unfreeze-after", type=int, default=5, help="encoder frozen for this many epochs")
    run.add_argument(
        "--captions-per-image", type=int, default=0, help="captions sampled per image each epoch (0: all)"
    )
    run.add_argument(
        "--shift", type=float, default=0.0, help="random translation augmentation, fraction of size"
    )
    run.add_argument(
        "--concept-weight", type=float, default=1.0, help="auxiliary bag-of-words loss weight (0: off)"
    )
    run.add_argument(
        "--lr-schedule",
        default="cosine",
        choices=("cosine", "constant"),
        help="cosine: both learning rates decay to 0 over the run, per step",
    )
    run.add_argument("--max-len", type=int, default=50, help="longest caption in tokens, incl. <start>/<end>")
    run.add_argument("--min-freq", type=int, default=2, help="rarer tokens become <unk>")
    run.add_argument("--image-size", type=int, default=224)
    run.add_argument("--embed-dim", type=int, default=300)
    run.add_argument("--hidden-dim", type=int, default=512)
    run.add_argument("--attention-dim", type=int, default=256)
    run.add_argument(
        "--glove", type=Path, help="local GloVe text file (e.g. glove.6B.300d.txt) for embeddings"
    )
    run.add_argument("--encoder-weights", type=Path, help="local torchvision mobilenet_v3_small weights")
    run.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] | mps")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--beam", type=int, default=3, help="beam size for the extra test-split evaluation")
    run.add_argument(
        "--ood-calibration",
        type=int,
        default=DEFAULT_CALIBRATION,
        metavar="N",
        help="held-out scenes that calibrate the artifact's out-of-domain threshold when the data came "
        "from the synthetic world (docs/ood.md); 0 = write no domain statistics",
    )
    run.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    run.add_argument("--no-meteor", action="store_true", help="skip METEOR (it starts a Java process)")
    run.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a busy 2-core machine)")


def config_from_args(args: argparse.Namespace, command: str) -> TrainConfig:
    """Resolve the data options into paths and build the training configuration."""
    if args.synthetic:
        args.data = _write_synthetic(args)
    if args.data:
        captions = args.data / args.language / args.format / "captions.txt"
        images, splits = args.data / "images", args.data / "splits"
        splits = splits if splits.is_dir() else None
    elif args.captions and args.images:
        captions, images, splits = args.captions, args.images, args.splits
    else:
        raise SystemExit("caption: give --data ROOT, or --captions FILE and --images DIR")
    return TrainConfig(
        captions=captions,
        images=images,
        splits=splits,
        out_dir=args.out,
        artifact=args.artifact,
        language=args.language,
        epochs=args.epochs,
        batch_size=args.batch,
        lr=args.lr,
        encoder_lr=args.encoder_lr,
        unfreeze_after=args.unfreeze_after,
        max_len=args.max_len,
        min_freq=args.min_freq,
        image_size=args.image_size,
        embed_dim=args.embed_dim,
        hidden_dim=args.hidden_dim,
        attention_dim=args.attention_dim,
        glove=args.glove,
        encoder_weights=args.encoder_weights,
        device=args.device,
        seed=args.seed,
        resume=args.resume,
        meteor=not args.no_meteor,
        beam_size=args.beam,
        ood_calibration=args.ood_calibration,
        captions_per_image=args.captions_per_image,
        shift=args.shift,
        concept_weight=args.concept_weight,
        lr_schedule=args.lr_schedule,
        command=command,
        dataset={
            "captions": str(captions),
            "images": str(images),
            "splits": str(splits) if splits else None,
            **synthetic_info(args.data),
        },
    )


def _write_synthetic(args: argparse.Namespace) -> Path:
    from perception_training.synthetic import write_caption_dataset

    try:
        train, val, test = (int(count) for count in args.synthetic.split(","))
    except ValueError as error:
        raise SystemExit(f"--synthetic wants TRAIN,VAL,TEST image counts, got {args.synthetic!r}") from error
    return write_caption_dataset(
        args.out / "data",
        seed=args.synthetic_seed,
        counts={"train": train, "val": val, "test": test},
        size=parse_size(args.synthetic_size),
    )


def parse_size(text: str) -> tuple[int, int]:
    """``"320x240"`` -> ``(320, 240)``, or exit with what is wrong."""
    try:
        width, height = (int(value) for value in text.lower().split("x"))
    except ValueError as error:
        raise SystemExit(f"--synthetic-size wants WIDTHxHEIGHT, e.g. 320x240, got {text!r}") from error
    return width, height


def synthetic_info(root: Path | None) -> dict[str, Any]:
    """The generator, seed and counts the synthetic writer recorded, if the data came from it."""
    info = root / "synthetic.json" if root else None
    return json.loads(info.read_text(encoding="utf-8")) if info and info.is_file() else {}


def run(args: argparse.Namespace, command: str) -> int:
    """Train and print where the artifact went."""
    if args.threads:
        torch.set_num_threads(args.threads)
    result = train(config_from_args(args, command))
    print(f"captioner artifact: {result.artifact}")
    print("test metrics (greedy):", result.test_metrics or "no test split")
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "perception-train caption") -> int:
    """Entry point with the dispatcher's signature (``perception_training.cli``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    add_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    return run(parser.parse_args(argv), command=shlex.join([*prog.split(), *argv]))
