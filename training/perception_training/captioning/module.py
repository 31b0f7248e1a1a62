"""The LightningModule that trains the captioner: teacher-forced cross-entropy plus the
bag-of-words loss, a frozen-then-fine-tuned encoder, and caption metrics every validation.

Its hyper-parameters are plain data (settings, vocabulary, provenance), so a Lightning
checkpoint loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import SumMetric

from perception.core.caption_decoding import decode_batch
from perception.core.caption_model import CaptionerConfig, CaptionModel
from perception.core.text import Tokenizer, Vocabulary, get_tokenizer
from perception_training.captioning.artifact import captioner_metadata
from perception_training.captioning.data import CaptionSplit, leading_batches
from perception_training.captioning.metrics import CaptionScorer, word_match
from perception_training.engine.optim import make_optimizer, per_step_schedule

LOG = logging.getLogger(__name__)
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]  # images, caption ids, concept targets


class CaptionerModule(L.LightningModule):
    """A :class:`CaptionModel` trained on ``settings`` (the run's config as plain data)."""

    def __init__(
        self,
        settings: dict[str, Any],
        vocabulary: dict[str, Any],
        dataset: dict[str, Any],
        extra: dict[str, Any],
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.settings = settings
        self.vocabulary = Vocabulary.from_metadata(vocabulary)
        self.tokenizer: Tokenizer = get_tokenizer(settings["language"])
        self.model = CaptionModel(
            CaptionerConfig(
                len(self.vocabulary),
                settings["embed_dim"],
                settings["hidden_dim"],
                settings["attention_dim"],
                settings["dropout"],
            ),
            settings["encoder_weights"],
        )
        self.words = nn.CrossEntropyLoss(ignore_index=self.vocabulary.pad)
        self.val_loss_sum, self.val_tokens = (
            SumMetric().set_dtype(torch.float64),
            SumMetric().set_dtype(torch.float64),
        )
        self.scorer = CaptionScorer(meteor=settings["meteor"])

    def on_train_epoch_start(self) -> None:
        """Frozen encoder for the first ``unfreeze_after`` epochs. Frozen, it still runs in training
        mode: a randomly initialised MobileNetV3's BatchNorm statistics must adapt, or its
        features stay near zero."""
        trainable = self.current_epoch + 1 > self.settings["unfreeze_after"]
        self.model.set_encoder_trainable(trainable)
        self.log("encoder_trainable", float(trainable), on_step=False, on_epoch=True, sync_dist=True)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        images, captions, concepts = batch
        logits, concept_logits = self.model.forward_with_concepts(images, captions)
        loss = self.words(logits.reshape(-1, logits.size(-1)), captions[:, 1:].reshape(-1))
        weight = self.settings["concept_weight"]
        if weight:
            loss = loss + weight * nn.functional.binary_cross_entropy_with_logits(concept_logits, concepts)
        self.log(
            "train_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(images),
            sync_dist=True,
        )
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images, captions, _ = batch
        logits = self.model(images, captions)
        targets = captions[:, 1:]
        summed = nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(),
            targets.reshape(-1),
            ignore_index=self.vocabulary.pad,
            reduction="sum",
        )
        self.val_loss_sum.update(summed)
        self.val_tokens.update((targets != self.vocabulary.pad).sum())

    def on_validation_epoch_end(self) -> None:
        """Word cross-entropy per token, then greedy captions of the validation split scored (on
        rank 0, shared with the others) and five of them printed beside their references."""
        val_loss = self.val_loss_sum.compute() / self.val_tokens.compute().clamp(min=1)
        self.val_loss_sum.reset()
        self.val_tokens.reset()
        scores: dict[str, float] = {}
        if self.trainer.is_global_zero:
            split = self.trainer.datamodule.splits["val"]
            hypotheses = generate(self.model, split, self.vocabulary, self.settings, beam_size=1)
            scores = self.scorer.score(split.references, hypotheses)
            self._print_samples(split, hypotheses)
        scores = self.trainer.strategy.broadcast(scores, src=0)
        self.log("val_loss", val_loss.float(), on_epoch=True)
        self.log_dict(scores, on_epoch=True, prog_bar=False)

    def configure_optimizers(self) -> dict[str, Any]:
        s = self.settings
        groups = parameter_groups(self.model, s["lr"], s["encoder_lr"])
        optimizer = make_optimizer(s["optimizer"], groups, s["lr"], s["weight_decay"])
        schedule = per_step_schedule(
            optimizer, int(self.trainer.estimated_stepping_batches), kind=s["lr_schedule"]
        )
        return {"optimizer": optimizer, "lr_scheduler": schedule}

    def batchnorm_batches(self) -> tuple[nn.Module, Iterable[torch.Tensor]]:
        images = self.trainer.datamodule.splits["train"].images
        return self.model.encoder, leading_batches(images, self.settings["batch_size"])

    def artifact_tensors(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def artifact_metadata(self) -> dict[str, Any]:
        s = self.settings
        metadata = captioner_metadata(
            self.model.config,
            self.vocabulary,
            self.tokenizer.name,
            s["language"],
            s["image_size"],
            s["max_len"],
        )
        return {**metadata, "dataset": self.hparams.dataset, "training": s, **self.hparams.extra}

    def _print_samples(self, split: CaptionSplit, hypotheses: list[list[str]]) -> None:
        for index in range(min(self.settings["val_samples"], len(hypotheses))):
            reference = split.references[index][0]
            LOG.info(
                "  %s\n    generated: %s\n    reference: %s\n    word match: %.0f%%",
                split.names[index],
                self.tokenizer.detokenize(hypotheses[index]),
                self.tokenizer.detokenize(reference),
                word_match(hypotheses[index], reference),
            )


def parameter_groups(model: CaptionModel, lr: float, encoder_lr: float) -> list[dict[str, Any]]:
    """Every parameter once: the encoder at ``encoder_lr``, the decoder and concept head at ``lr``."""
    encoder = {id(parameter) for parameter in model.encoder.parameters()}
    rest = [parameter for parameter in model.parameters() if id(parameter) not in encoder]
    return [{"params": rest, "lr": lr}, {"params": list(model.encoder.parameters()), "lr": encoder_lr}]


@torch.no_grad()
def generate(
    model: CaptionModel, split: CaptionSplit, vocabulary: Vocabulary, settings: dict[str, Any], beam_size: int
) -> list[list[str]]:
    """Tokens of every image of ``split`` (greedy in batches, or beam search image by image)."""
    model.eval()
    device = next(model.parameters()).device
    results: list[list[str]] = []
    size = settings["batch_size"]
    for start in range(0, len(split.names), size):
        images = split.images[start : start + size].to(device)
        decoded = decode_batch(
            model, images, vocabulary.start, vocabulary.end, settings["max_len"], beam_size
        )
        results.extend(vocabulary.decode(ids) for ids, _ in decoded)
    return results
