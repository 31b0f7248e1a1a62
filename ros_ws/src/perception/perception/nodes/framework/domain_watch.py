"""Out-of-domain frames of a model node: the latest score, the streak, the /diagnostics warning.

A model node scores every processed frame against its training data
(``perception.core.domain``), checks that the frame is large and sharp enough to be judged at
all (``perception.core.frame_quality``) and marks its outputs; one out-of-domain frame is
common (a hand over the lens), a run of them means the camera sees a world the model was never
trained on, which is worth a warning where operators look. ``DomainAwareNode`` gives the
detector, glass, caption and sign nodes the same parameters, counters and warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus

from perception.core.domain_verdict import DomainVerdict
from perception.core.frame_quality import (
    ANALYSIS_SIDE,
    DEFAULT_MIN_SHARPNESS,
    DEFAULT_MIN_SIDE,
    FrameQuality,
    FrameQualityCheck,
)
from perception.nodes.framework.diagnostics import PeriodSummary, Status
from perception.nodes.framework.managed_node import ModelT, ParamsT
from perception.nodes.framework.parameters import param
from perception.nodes.framework.torch_node import TorchModelNode


@dataclass(frozen=True)
class DomainParameters:
    """The parameters of every node that scores its frames' domain."""

    ood_warn_frames: int = param(
        10,
        "warn on /diagnostics once this many consecutive processed frames were out of the model's "
        "training domain",
        min_value=1,
        max_value=1_000_000,
        live=True,
    )
    frame_min_side: int = param(
        DEFAULT_MIN_SIDE,
        "a scored frame whose short side is below this is out of domain (too small to judge) [px]; "
        "0 = no check",
        min_value=0,
        max_value=8192,
        live=True,
    )
    frame_min_sharpness: float = param(
        DEFAULT_MIN_SHARPNESS,
        "a scored frame less sharp than this (variance of the Laplacian of its grey image at "
        f"{ANALYSIS_SIDE} px short side) is out of domain (blurred or featureless; docs/ood.md); "
        "0 = no check",
        min_value=0.0,
        max_value=1e6,
        live=True,
    )


class DomainWatch:
    """Counts out-of-domain frames; unscored frames (no statistics, no crop) leave the streak as is."""

    def __init__(self) -> None:
        self.latest: DomainVerdict | None = None
        self.streak = 0
        self.out_of_domain = 0
        self.scored = 0
        self.quality_failed = 0

    def observe(self, verdict: DomainVerdict) -> DomainVerdict:
        """Count ``verdict`` and hand it back (for the output message)."""
        if verdict.score < 0.0:
            return verdict
        self.latest = verdict
        self.scored += 1
        if verdict.in_domain:
            self.streak = 0
        else:
            self.streak += 1
            self.out_of_domain += 1
        self.quality_failed += bool(verdict.reason)
        return verdict

    def counters(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "domain_scored": self.scored,
            "out_of_domain": self.out_of_domain,
            "out_of_domain_streak": self.streak,
            "domain_score": "none" if latest is None else f"{latest.score:.3f}",
            "in_domain": "none" if latest is None else str(latest.in_domain).lower(),
            "frame_quality_failed": self.quality_failed,
            "out_of_domain_reason": _reason(latest),
        }

    def status(self, warn_frames: int) -> Status | None:
        if self.streak < warn_frames or self.latest is None:
            return None
        return (
            DiagnosticStatus.WARN,
            f"{self.streak} consecutive frames out of the model's training domain (domain_score "
            f"{self.latest.score:.2f} > 1): the camera sees something unlike what the model was trained "
            f"on, so its outputs are unreliable and published with in_domain=false (latest: "
            f"{_reason(self.latest)})",
        )


def _reason(verdict: DomainVerdict | None) -> str:
    """Why the frame is out of domain, "none" when it is not (or none was scored)."""
    if verdict is None or verdict.in_domain:
        return "none"
    return verdict.reason or "domain_score > 1: unlike the training data"


class DomainAwareNode(TorchModelNode[ParamsT, ModelT]):
    """A torch model node whose frames are scored: its parameters must include DomainParameters."""

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.domain = DomainWatch()

    def extra_counters(self) -> Mapping[str, Any]:
        return self.domain.counters()

    def status_message(self, summary: PeriodSummary) -> Status | None:
        return self.domain.status(self.params.ood_warn_frames)

    def frame_quality(self, image_bgr: np.ndarray) -> FrameQuality:
        """The frame against the live minimums of size and sharpness."""
        check = FrameQualityCheck(self.params.frame_min_side, self.params.frame_min_sharpness)
        return check.assess(image_bgr)

    def judged(self, image_bgr: np.ndarray, verdict: DomainVerdict) -> DomainVerdict:
        """The model's ``verdict`` on a frame, out of domain also when the frame is too small or
        too blurred to judge."""
        return self.frame_quality(image_bgr).applied_to(verdict)


def mark_domain(message: Any, verdict: DomainVerdict) -> Any:
    """Set an output message's ``domain_score`` and ``in_domain``; returns the message."""
    message.domain_score = float(verdict.score)
    message.in_domain = bool(verdict.in_domain)
    return message
