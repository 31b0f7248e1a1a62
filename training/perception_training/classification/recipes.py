"""Training settings as one dataclass, and the named presets (recipes) the CLI starts from."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a classifier is trained; stored inside every checkpoint."""

    architecture: str = "resnet18"
    image_size: int = 64
    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adamw"  # adamw | sgd
    lr: float = 1e-3  # the head's learning rate (and the backbone's unless backbone_lr is set)
    backbone_lr: float | None = None
    weight_decay: float = 0.05
    momentum: float = 0.9  # sgd only
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    cutmix_alpha: float = 0.0
    mixup_alpha: float = 0.0
    mix_prob: float = 0.5  # share of batches that get CutMix or MixUp
    aug_start: float = 0.2  # augmentation strength at the first epoch ...
    aug_end: float = 1.0  # ... rising on a cosine to this at the last
    # Recompute BatchNorm statistics on this many clean training images before each validation
    # (0 = off): from scratch, running averages lag the weights and validation sits at chance.
    bn_recalibration: int = 2000
    freeze_epochs: int = 0  # transfer learning: train only the head for this many epochs
    pretrained: str | None = None  # local weights file (safetensors or torch state dict)
    val_fraction: float = 0.1  # ImageFolder without a val folder: seeded split of train
    seed: int = 0
    workers: int = 0
    threads: int = 0  # CPU threads for torch; 0 keeps torch's default (1 is far faster on a busy CPU)
    device: str = "auto"
    amp: bool = True  # mixed precision, used on CUDA only
    wandb: bool = False  # log to Weights & Biases too (offline unless WANDB_MODE says otherwise)

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {self.optimizer!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not 0 <= self.freeze_epochs <= self.epochs:
            raise ValueError(f"freeze_epochs must lie in [0, epochs={self.epochs}], got {self.freeze_epochs}")

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """A copy with the given fields changed (None values are ignored: 'not given')."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild from a checkpoint's stored config, ignoring fields this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


RECIPES: dict[str, TrainConfig] = {
    # The original glass system: ImageNet-pretrained MobileNetV2 (give --pretrained FILE),
    # head first with the backbone frozen, then everything fine-tuned at lr 1e-5, 30 epochs, 224 px.
    "glass": TrainConfig(
        architecture="mobilenet_v2",
        image_size=224,
        epochs=30,
        batch_size=32,
        lr=1e-3,
        backbone_lr=1e-5,
        weight_decay=1e-4,
        label_smoothing=0.0,
        freeze_epochs=5,
        aug_start=0.1,
        aug_end=0.5,
    ),
    # The demo artifact: no pretrained weights exist offline, so a frozen random backbone
    # would learn nothing and lr 1e-5 would barely move it; train the whole net from scratch
    # at lr 3e-3 on 96 px crops instead (CPU-sized: a few minutes with --threads 1).
    "glass-synthetic": TrainConfig(
        architecture="mobilenet_v2",
        image_size=96,
        epochs=30,
        batch_size=32,
        lr=3e-3,
        weight_decay=1e-4,
        label_smoothing=0.05,
        warmup_epochs=1.0,
        aug_start=0.1,
        aug_end=0.6,
    ),
    # The Tiny-ImageNet-200 recipe: AdamW + cosine, CutMix/MixUp, progressive augmentation.
    "tiny-imagenet": TrainConfig(
        architecture="resnet18",
        image_size=64,
        epochs=30,
        batch_size=128,
        lr=2e-3,
        weight_decay=0.05,
        warmup_epochs=2.0,
        label_smoothing=0.1,
        cutmix_alpha=1.0,
        mixup_alpha=0.2,
        mix_prob=0.5,
        aug_start=0.2,
        aug_end=1.0,
    ),
}
