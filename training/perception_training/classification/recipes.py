"""Training settings as one dataclass, and the named presets (recipes) the CLI starts from."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from perception.core.classifier_models import ARCHITECTURES
from perception_training.engine.flags import flag
from perception_training.engine.optim import OPTIMIZERS
from perception_training.engine.run import TrainerOptions


@dataclass(frozen=True)
class TrainConfig(TrainerOptions):
    """Everything that decides how a classifier is trained; stored with every run (run.json).

    Each field is also a ``perception-train classify`` option that overrides the recipe.
    """

    architecture: str = flag("resnet18", "network", choices=ARCHITECTURES)
    image_size: int = 64
    epochs: int = 30
    batch_size: int = 64
    optimizer: str = flag("adamw", "optimizer", choices=OPTIMIZERS)
    lr: float = flag(1e-3, "the head's learning rate (and the backbone's unless --backbone-lr)")
    backbone_lr: float | None = None
    weight_decay: float = 0.05
    momentum: float = flag(0.9, "sgd only")
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    drop_rate: float | None = flag(None, "dropout before the head (default: the architecture's own)")
    attn_drop_rate: float = flag(0.0, "attention dropout (vit_small, deit_small, swin_tiny)")
    drop_path_rate: float = flag(0.0, "stochastic depth (vit_small, deit_small, swin_tiny)")
    cutmix_alpha: float = 0.0
    mixup_alpha: float = 0.0
    mix_prob: float = flag(0.5, "share of batches that get CutMix or MixUp at full augmentation strength")
    aug_start: float = flag(0.2, "augmentation strength at the first epoch ...")
    aug_end: float = flag(1.0, "... rising on a cosine to this at the last")
    # Before each validation, recompute BatchNorm statistics on this many clean training images:
    # from scratch, running averages lag the weights and validation sits at chance.
    bn_recalibration: int = flag(2000, "training images re-estimating BatchNorm before validation (0: off)")
    freeze_epochs: int = flag(0, "transfer learning: train only the head for this many epochs")
    pretrained: str | None = flag(None, "local weights file (safetensors or torch state dict)")
    val_fraction: float = flag(0.1, "ImageFolder without a val folder: seeded split of train")
    seed: int = 0
    workers: int = flag(0, "DataLoader worker processes")

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not 0 <= self.freeze_epochs <= self.epochs:
            raise ValueError(f"freeze_epochs must lie in [0, epochs={self.epochs}], got {self.freeze_epochs}")

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """A copy with the given fields changed (None values are ignored: 'not given')."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild from a run's stored config, ignoring fields this version does not know."""
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
