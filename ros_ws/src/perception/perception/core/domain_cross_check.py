"""One camera, several judges: evidence from a frame that another model judged out of its
training domain is not trusted either.

Each model's gate scores frames on its own, and the gates miss different frames: on the
real-photo evaluation (docs/ood.md) the captioners pass 30 of 176 frames (a rocket against a
dark sky, close crops of a cat and of a coffee cup), of which 12 name a knife, while the
detector flags all 30. A camera's view changes slowly, so a verdict holds for the frames
around it: :class:`DomainCrossCheck` keeps each source's latest verdict with its frame stamp
and vetoes another source's evidence stamped within a window of an out-of-domain verdict.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceVerdict:
    """One source's (``caption``, ``detections``) verdict on the frame stamped ``stamp_s``."""

    source: str
    model_id: str
    stamp_s: float
    domain_score: float
    in_domain: bool


class DomainCrossCheck:
    """Each source's latest verdict, and which of them vetoes another source's evidence."""

    def __init__(self) -> None:
        self._latest: dict[str, SourceVerdict] = {}
        self._lock = threading.Lock()  # the node's callbacks may run on several executor threads

    def record(self, verdict: SourceVerdict) -> None:
        with self._lock:
            self._latest[verdict.source] = verdict

    def veto(self, source: str, stamp_s: float, window_s: float) -> SourceVerdict | None:
        """Another source's latest verdict when it is out of domain and its frame is within
        ``window_s`` of ``stamp_s`` (before or after: the models answer in any order); else None."""
        with self._lock:
            others = [verdict for name, verdict in self._latest.items() if name != source]
        return next(
            (v for v in others if not v.in_domain and abs(v.stamp_s - stamp_s) <= window_s),
            None,
        )
