"""``perception-train caption-encoder``: pretrain the captioner's MobileNetV3-Small on object boxes.

No ImageNet weights are available offline, and captions alone teach a from-scratch encoder thin
objects (a knife is a few pixels wide at 112 px) very slowly. This stage trains the same encoder
(``perception.core.caption_model.CaptionEncoder``) on a YOLO dataset: every cell of its output
grid predicts which classes overlap it, and the image level (max over cells) predicts which
classes are in the picture. The result is a torchvision-style ``features.*`` state
(``OUT/encoder.safetensors``, an artifact with metadata, rewritten every epoch) that
``perception-train caption --encoder-weights`` starts from, with the frozen-then-fine-tuned
schedule. Outputs beside it: metrics.csv, loss_curve.png, last.ckpt (``--resume``), tensorboard/.
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import lightning as L

from perception_training.captioning.encoder_module import EncoderPretrainModule, GridDataModule, load_split
from perception_training.captioning.train import parse_args, plain_settings
from perception_training.captioning.yolo_grid import read_yolo_dataset
from perception_training.engine.callbacks import ArtifactExport, CurvePlots, MetricsCsv, PreciseBatchNorm
from perception_training.engine.flags import flag, parse_counts, parse_size
from perception_training.engine.plots import Chart
from perception_training.engine.run import (
    RunPaths,
    TrainerOptions,
    dataset_provenance,
    recipe_trainer,
    resume_from,
    start_process,
    synthetic_once,
)
from perception_training.synthetic.writers.yolo import write_yolo_dataset

LOG = logging.getLogger(__name__)
CHART = Chart(
    "loss_curve.png",
    ("train_loss", "val_loss"),
    "binary cross-entropy",
    "caption encoder pretraining",
    ("mAP",),
)


@dataclass(frozen=True)
class PretrainConfig(TrainerOptions):
    """Every setting of an encoder pretraining run; each field is a command-line flag."""

    data: Path | None = flag(None, "YOLO data.yaml (train and val splits)")
    synthetic: str | None = flag(None, "TRAIN,VAL: write caption scenes as a YOLO dataset to OUT/data")
    synthetic_seed: int = 0
    synthetic_size: str = flag("320x240", "WxH render size of synthetic scenes")
    sim2real: tuple[str, ...] = flag(
        (), "sim-to-real options of the --synthetic world (parse_args: bare = all)"
    )
    out: Path = Path("runs/caption_encoder")
    epochs: int = 20
    batch_size: int = flag(64, "images per step", aliases=("--batch",))
    lr: float = flag(3e-3, "peak of the one-cycle schedule (AdamW)")
    weight_decay: float = 1e-4
    image_size: int = flag(112, "the captioner's --image-size")
    flip: bool = flag(True, "mirror half of each batch left-right (boxes with it)")
    seed: int = 0
    resume: bool = flag(False, "continue from OUT/last.ckpt")


def main(argv: Sequence[str] | None = None, prog: str = "perception-train caption-encoder") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    config = parse_args(argv, prog, PretrainConfig, __doc__)
    start_process(config.threads)
    artifact = pretrain(config, shlex.join([*prog.split(), *argv]))
    if artifact is not None:
        print(f"caption encoder artifact: {artifact}")
    return 0


def pretrain(config: PretrainConfig, command: str) -> Path | None:
    """Train, measure per-class AP on val every epoch, write ``OUT/encoder.safetensors`` (None on
    ranks other than 0)."""
    paths = RunPaths(config.out)
    checkpoint = resume_from(paths, config.resume)
    L.seed_everything(config.seed, workers=True)  # the initial weights
    data_yaml = _data_yaml(config)
    data = read_yolo_dataset(data_yaml)
    dataset = {"data": str(data_yaml), **dataset_provenance(data_yaml.parent)}
    module = EncoderPretrainModule(plain_settings(config), data.classes, dataset)
    train, val = (
        load_split(data.splits[name], len(data.classes), module.grid, config.image_size, name)
        for name in ("train", "val")
    )
    LOG.info(
        "%d train / %d val images, %s grid, classes %s",
        len(train.images),
        len(val.images),
        module.grid,
        data.classes,
    )
    datamodule = GridDataModule(train, val, module.grid, config.batch_size, config.flip, config.seed)
    artifact = config.out / "encoder.safetensors"
    callbacks = [
        MetricsCsv(paths.metrics_csv, epoch_offset=1),
        ArtifactExport(artifact, command, None, epoch_offset=1, history=paths.metrics_csv),
        CurvePlots(paths.metrics_csv, charts=[CHART]),
        PreciseBatchNorm(),
    ]
    trainer = recipe_trainer(paths, config, config.epochs, "mAP", callbacks)
    trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint)
    return artifact if trainer.is_global_zero else None


def _data_yaml(config: PretrainConfig) -> Path:
    if config.synthetic:
        counts = parse_counts(config.synthetic, ("train", "val"), "--synthetic")
        size = parse_size(config.synthetic_size, "--synthetic-size")
        root = config.out / "-".join(["data", *config.sim2real])  # data, data-camera, ...
        settings = {
            "seed": config.synthetic_seed,
            "counts": counts,
            "size": list(size),
            "kinds": ["caption"],
            **({"sim2real": list(config.sim2real)} if config.sim2real else {}),  # as the writer records it
        }
        write = partial(
            write_yolo_dataset, root, config.synthetic_seed, counts, size, ("caption",), config.sim2real
        )
        return synthetic_once(root, settings, write, entry="data.yaml")
    if config.data is None:
        raise SystemExit("caption-encoder: give --data data.yaml or --synthetic TRAIN,VAL")
    return config.data


if __name__ == "__main__":
    raise SystemExit(main())
