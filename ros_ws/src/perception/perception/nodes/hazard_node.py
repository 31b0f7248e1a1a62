"""Hazard node: captions (and optionally detections) -> perception_msgs/HazardAlert + notifiers.

Thin adapter over ``perception.core.hazards`` (YAML rules, lemma/morpheme matching, cooldown
per hazard) and ``perception.core.notifiers`` (log, webhook, plugins; translators). Not an
image node: a ``ManagedNode`` (the framework's lifecycle base) whose "model" is the rules
matcher plus notifiers. ``configure`` loads the rules and builds the notifiers (a bad rules
file or notifier option fails configure with the reason and leaves the node re-configurable),
``activate`` subscribes, cleanup/shutdown close the notifiers.

Inputs: ``caption`` (perception_msgs/Caption); ``detections`` (DetectionArray) when
``use_detections``. Evidence its model marked out of its training domain (``in_domain`` false)
raises no alert while ``suppress_out_of_domain`` (counted, logged once per period; docs/ood.md);
with ``cross_check_domain`` neither does evidence from a frame within ``domain_window_s`` of one
the other model marked out of domain (``core.domain_cross_check``). Output: ``hazard_alerts``
(perception_msgs/HazardAlert, header copied from the evidence). The cooldown runs on the node's ROS
clock, so it follows ``/clock`` when ``use_sim_time`` is set (bag replay at any rate). Matching
never blocks the executor: the callbacks only check a message (a NaN/inf score is invalid and
counted; a caption is cut to ``max_caption_chars`` before it is tokenised; at most ``max_boxes``
detections, the highest scores) and hand it to an analysis thread that keeps the newest
``ANALYSIS_QUEUE`` messages (older ones dropped and counted). Notifiers never block either: the
webhook posts from its own thread. The webhook's bearer token is read from the environment variable
``webhook_token_env`` names, never from a parameter (parameters are world-readable).
Run: ``ros2 run perception hazard_node --ros-args --params-file config/jetson.yaml``.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from std_msgs.msg import Header

from perception.ament_share import ament_share
from perception.core.domain_cross_check import DomainCrossCheck, SourceVerdict
from perception.core.domain_verdict import NOT_SCORED
from perception.core.hazards import HazardAlert as Alert
from perception.core.hazards import HazardMatcher, load_hazard_rules
from perception.core.notifiers import Notifier, Translator, create_notifier, create_translator
from perception.nodes.framework.conversions import (
    checked_caption,
    checked_detections,
    copy_header,
    stamp_seconds,
)
from perception.nodes.framework.latest_frame import LatestFrameWorker
from perception.nodes.framework.managed_node import ManagedNode
from perception.nodes.framework.parameters import param
from perception.nodes.framework.runner import run_node
from perception.nodes.topics import CAPTION, DETECTIONS, HAZARD_ALERTS
from perception_msgs.msg import Caption, DetectionArray
from perception_msgs.msg import HazardAlert as HazardAlertMsg

NODE_NAME = "hazard_node"
PACKAGE = "perception"
NOTIFIER_CLOSE_TIMEOUT_S = 2.0  # cleanup/shutdown give queued webhook alerts this long to go out
ANALYSIS_QUEUE = 16  # messages waiting for the analysis thread (captions come at a few Hz)
ANALYSIS_STOP_TIMEOUT_S = 1.0
LOG_THROTTLE_S = 5.0
_SEVERITY_CODES = {
    "info": HazardAlertMsg.SEVERITY_INFO,
    "warning": HazardAlertMsg.SEVERITY_WARNING,
    "danger": HazardAlertMsg.SEVERITY_DANGER,
}


@dataclass(frozen=True)
class HazardParameters:
    """Everything the hazard node reads; see config/*.yaml for the deployed values."""

    rules_path: str = param(
        "hazards.yaml", "hazard rules YAML, absolute or relative to the perception package's config/"
    )
    use_detections: bool = param(False, "also raise hazards from detector classes on 'detections'")
    min_caption_score: float = param(
        0.0, "ignore captions whose score is below this", min_value=0.0, max_value=1.0, live=True
    )
    min_detection_score: float = param(
        0.5, "ignore detections whose score is below this", min_value=0.0, max_value=1.0, live=True
    )
    max_caption_chars: int = param(
        300,
        "captions longer than this are cut before matching (bounds the tokeniser's work)",
        min_value=1,
        max_value=100000,
        live=True,
    )
    max_boxes: int = param(
        100,
        "most detections per message considered (the highest scores)",
        min_value=1,
        max_value=10000,
        live=True,
    )
    notifiers: tuple[str, ...] = param(
        ("log",), "where alerts go besides the topic: log, webhook, or package.module:Class"
    )
    webhook_url: str = param(
        "",
        "http(s) URL the webhook notifier POSTs JSON alerts to; user:password@ in it is sent as "
        "basic auth (never logged; prefer webhook_token_env, as parameters are readable by any node)",
        secret=True,
    )
    webhook_token_env: str = param(
        "",
        "environment variable holding the webhook's bearer token (empty = no token); "
        "the token itself is never a parameter",
    )
    webhook_timeout_s: float = param(3.0, "timeout of one webhook POST [s]", min_value=0.1, max_value=60.0)
    webhook_retries: int = param(3, "retries of a failed webhook POST", min_value=0, max_value=10)
    webhook_backoff_s: float = param(
        0.5, "wait before the first retry; doubles each retry [s]", min_value=0.0, max_value=60.0
    )
    suppress_out_of_domain: bool = param(
        True,
        "raise no alert from a caption or detections their model marked out of its training domain "
        "(in_domain false: a real photo to a model trained on the synthetic world); logged once per period",
        live=True,
    )
    cross_check_domain: bool = param(
        True,
        "with use_detections and suppress_out_of_domain: no alert from a scored caption (detections) either "
        "when the detector (captioner) marked a frame within domain_window_s out of domain; the models' "
        "gates miss different real frames (docs/ood.md); unscored evidence (a model without domain "
        "statistics, e.g. your own weights) is never vetoed",
        live=True,
    )
    domain_window_s: float = param(
        1.0,
        "how far apart in camera time two frames may be for one model's out-of-domain verdict to veto the "
        "other's evidence [s]",
        min_value=0.0,
        max_value=60.0,
        live=True,
    )
    translator: str = param("none", "offline translator of alert messages: none or package.module:Class")
    target_language: str = param(
        "", "translate alert messages into this language (BCP 47, e.g. ko); empty = as written"
    )


def config_file(name: str) -> Path:
    """``name`` if absolute, else the file in the perception package's config folder.

    Looked up in the ament index (a sourced workspace), the environment's ``share/`` (pip
    install) and the source tree, like perception_msgs' .msg files.
    """
    path = Path(name).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        source_tree = Path(__file__).resolve().parents[2]
        shares = [ament_share(PACKAGE), Path(sys.prefix) / "share" / PACKAGE, source_tree]
        candidates = [share / "config" / path for share in shares if share is not None]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"config file {name!r} not found (searched {', '.join(map(str, candidates))}); "
        "use an absolute path or a file in the perception package's config/ folder"
    )


def build_notifiers(params: HazardParameters) -> list[Notifier]:
    """The notifiers ``params.notifiers`` names; webhook options come from the webhook_* parameters."""
    webhook = {
        "url": params.webhook_url,
        "token_env": params.webhook_token_env or None,
        "timeout_s": params.webhook_timeout_s,
        "retries": params.webhook_retries,
        "backoff_s": params.webhook_backoff_s,
    }
    built: list[Notifier] = []
    try:
        for spec in params.notifiers:
            built.append(create_notifier(spec, **(webhook if spec == "webhook" else {})))
    except Exception:
        close_all(built, timeout=0.0)
        raise
    return built


def close_all(notifiers: Sequence[Notifier], timeout: float) -> None:
    """Close each notifier, giving queued alerts up to ``timeout`` seconds each to go out."""
    for notifier in notifiers:
        notifier.close(timeout)


@dataclass(frozen=True)
class HazardPipeline:
    """What configure builds from the parameters: the matcher, the notifiers, the translator."""

    matcher: HazardMatcher
    notifiers: tuple[Notifier, ...]
    translator: Translator


class HazardNode(ManagedNode[HazardParameters, HazardPipeline]):
    """Matches captions/detections against the rules; publishes and notifies alerts."""

    parameters_spec = HazardParameters

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.counts = {
            "captions": 0,
            "detections": 0,
            "alerts": 0,
            "invalid": 0,
            "truncated": 0,
            "boxes_capped": 0,
            "out_of_domain": 0,
        }
        self._analysis: LatestFrameWorker[Callable[[], None]] | None = None
        self._domains = DomainCrossCheck()

    def load_model(self, params: HazardParameters) -> HazardPipeline:
        rules_file = config_file(params.rules_path)
        rules = load_hazard_rules(rules_file)
        translator = create_translator(params.translator)
        notifiers = tuple(build_notifiers(params))
        self.get_logger().info(
            f"{len(rules)} hazard rules from {rules_file}; notifiers {list(params.notifiers)}; "
            f"translator {params.translator!r}"
        )
        return HazardPipeline(HazardMatcher(rules, clock=self._now_s), notifiers, translator)

    def release_model(self, model: HazardPipeline) -> None:
        counts = ", ".join(f"{key}={value}" for key, value in self.counts.items())
        self.log(logging.INFO, f"releasing rules and notifiers after {counts}")
        close_all(model.notifiers, timeout=NOTIFIER_CLOSE_TIMEOUT_S)

    def create_outputs(self, params: HazardParameters) -> None:
        self.alerts_pub = self.create_output(HazardAlertMsg, HAZARD_ALERTS)

    def create_inputs(self, params: HazardParameters) -> None:
        self._analysis = LatestFrameWorker(
            lambda analyse: analyse(), f"{self.get_name()}_analysis", self._on_analysis_error, ANALYSIS_QUEUE
        )
        self.create_input(Caption, CAPTION, self._on_caption)
        if params.use_detections:
            self.create_input(DetectionArray, DETECTIONS, self._on_detections)

    def stop_inputs(self) -> None:
        super().stop_inputs()
        if self._analysis is not None:
            self.stop_worker(self._analysis, ANALYSIS_STOP_TIMEOUT_S)
            self._analysis = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every accepted message was analysed (tests)."""
        return self._analysis is None or self._analysis.wait_idle(timeout)

    # -------------------------------------------------------------- callbacks
    def _on_caption(self, msg: Caption) -> None:
        self.counts["captions"] += 1
        params = self.params
        if self._out_of_domain(msg, "caption"):
            return
        checked = checked_caption(msg.text, msg.score, params.max_caption_chars)
        if checked.problem:
            self._refuse(checked.problem)
            return
        if msg.score < params.min_caption_score:
            return
        if checked.truncated:
            self.counts["truncated"] += 1
            self.get_logger().warning(
                f"caption of {len(msg.text)} characters cut to max_caption_chars={params.max_caption_chars}",
                throttle_duration_sec=LOG_THROTTLE_S,
            )
        text, header = checked.text, copy_header(msg.header)
        self._submit(lambda: self._emit(self.model.matcher.match_caption(text), header, lambda _: text))

    def _on_detections(self, msg: DetectionArray) -> None:
        self.counts["detections"] += 1
        if self._out_of_domain(msg, "detections"):
            return
        checked = checked_detections(msg.detections, self.params.max_boxes)
        self.counts["boxes_capped"] += checked.capped
        if checked.invalid:
            self._refuse(f"{checked.invalid} invalid detection(s) skipped; first: {checked.reason}")
        kept = [d for d in checked.kept if d.score >= self.params.min_detection_score]
        best = {}
        for detection in sorted(kept, key=lambda d: d.score):
            best[detection.class_name.lower()] = detection

        def evidence(alert: Alert) -> str:
            return f"detection: {alert.matched} {best[alert.matched.lower()].score:.2f}"

        header = copy_header(msg.header)
        self._submit(lambda: self._emit(self.model.matcher.match_detections(best), header, evidence))

    def _out_of_domain(self, msg: Caption | DetectionArray, source: str) -> bool:
        """True (counted, logged once per period) when ``msg`` must not raise alerts: suppression is
        on and its model, or (``cross_check_domain``) the other model on a frame within
        ``domain_window_s``, marked the frame out of its training domain."""
        stamp = stamp_seconds(msg.header.stamp)
        own = SourceVerdict(source, msg.model_id, stamp, msg.domain_score, msg.in_domain)
        self._domains.record(own)
        params = self.params
        if not params.suppress_out_of_domain:
            return False
        judge = own if not own.in_domain else None
        if judge is None and params.cross_check_domain and msg.domain_score != NOT_SCORED:
            # unscored evidence comes from a model with no statistics (a user's own weights): what
            # the synthetic-world models think of the frame says nothing about it
            judge = self._domains.veto(source, stamp, params.domain_window_s)
        if judge is None:
            return False
        self.counts["out_of_domain"] += 1
        why = (
            f"{source} of {msg.model_id} has domain_score {msg.domain_score:.2f} > 1"
            if judge is own
            else f"{source} of {msg.model_id} is in its domain, but {judge.source} of {judge.model_id} has "
            f"domain_score {judge.domain_score:.2f} > 1 on a frame {abs(judge.stamp_s - stamp):.2f} s away "
            "(parameter cross_check_domain)"
        )
        self.get_logger().warning(
            f"suppressing hazard evidence from out-of-domain frames ({self.counts['out_of_domain']} so far): "
            f"{why}, so the frame is unlike anything the model was trained on and what it says cannot be "
            "trusted; no alert is raised from it (parameter suppress_out_of_domain)",
            throttle_duration_sec=LOG_THROTTLE_S,
        )
        return True

    def _refuse(self, reason: str) -> None:
        self.counts["invalid"] += 1
        self.get_logger().warning(reason, throttle_duration_sec=LOG_THROTTLE_S)

    def _submit(self, analyse: Callable[[], None]) -> None:
        if self._analysis is not None:
            self._analysis.submit(analyse)

    def _on_analysis_error(self, error: BaseException) -> None:
        self.get_logger().error(
            f"hazard analysis failed: {type(error).__name__}: {error}", throttle_duration_sec=LOG_THROTTLE_S
        )

    def _emit(self, alerts: list[Alert], header: Header, evidence: Callable[[Alert], str]) -> None:
        """Publish and notify each alert, its message translated when a target language is set."""
        model, target = self.model, self.params.target_language
        for alert in alerts:
            if target:
                alert = dataclasses.replace(alert, message=model.translator.translate(alert.message, target))
            self.counts["alerts"] += 1
            self.alerts_pub.publish(
                HazardAlertMsg(
                    header=copy_header(header),
                    hazard=alert.hazard,
                    severity=_SEVERITY_CODES[alert.severity],
                    evidence=evidence(alert),
                    source=alert.source,
                    message=alert.message,
                )
            )
            for notifier in model.notifiers:
                try:
                    notifier.notify(alert)
                except Exception as error:  # one broken plugin must not silence the others
                    self.get_logger().error(f"notifier {notifier!r} failed: {type(error).__name__}: {error}")

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9


def main(args: Sequence[str] | None = None) -> None:
    # The log notifier writes through Python logging; show its INFO lines beside ROS's own.
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    run_node(HazardNode, args)


if __name__ == "__main__":
    main()
