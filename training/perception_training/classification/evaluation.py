"""Run a classifier over a split once and derive every metric from the stored logits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_confusion_matrix
from tqdm import tqdm


@dataclass
class Evaluation:
    """Logits, labels and dataset indices of one pass over a split (labels -1 = unknown)."""

    logits: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor

    @property
    def num_classes(self) -> int:
        return self.logits.shape[1]

    def _known(self) -> tuple[torch.Tensor, torch.Tensor]:
        keep = self.labels >= 0
        return self.logits[keep], self.labels[keep]

    def sample_losses(self) -> torch.Tensor:
        """Cross-entropy of every labelled sample (no label smoothing: the honest loss)."""
        logits, labels = self._known()
        return F.cross_entropy(logits, labels, reduction="none")

    def summary(self) -> dict[str, float]:
        """``loss``, ``top1`` and ``top5`` (top-k capped at the class count) over labelled samples."""
        logits, labels = self._known()
        if labels.numel() == 0:
            return {}
        return {
            "loss": float(self.sample_losses().mean()),
            "top1": self._accuracy(logits, labels, 1),
            "top5": self._accuracy(logits, labels, min(5, self.num_classes)),
        }

    def _accuracy(self, logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
        return float(multiclass_accuracy(logits, labels, self.num_classes, average="micro", top_k=k))

    def per_class(self, classes: list[str]) -> list[dict[str, object]]:
        """One row per class: labelled images, top-1 accuracy and mean loss (None when absent)."""
        logits, labels = self._known()
        correct = logits.argmax(dim=1) == labels
        losses = self.sample_losses()
        rows = []
        for class_id, name in enumerate(classes):
            mask = labels == class_id
            count = int(mask.sum())
            rows.append(
                {
                    "class": name,
                    "images": count,
                    "accuracy": float(correct[mask].float().mean()) if count else None,
                    "loss": float(losses[mask].mean()) if count else None,
                }
            )
        return rows

    def confusion(self) -> torch.Tensor:
        """``C x C`` counts, rows = true class, columns = predicted class."""
        logits, labels = self._known()
        return multiclass_confusion_matrix(logits, labels, self.num_classes)


def evaluate(model: nn.Module, loader: DataLoader, device: str, amp: bool, desc: str) -> Evaluation:
    """Forward every batch of ``loader`` in eval mode; keep logits on the CPU."""
    model.eval()
    logits, labels, indices = [], [], []
    with torch.inference_mode():
        for images, batch_labels, batch_indices in tqdm(loader, desc=desc, leave=False):
            with torch.autocast("cuda", enabled=amp):
                logits.append(model(images.to(device)).float().cpu())
            labels.append(batch_labels)
            indices.append(batch_indices)
    return Evaluation(torch.cat(logits), torch.cat(labels), torch.cat(indices))
