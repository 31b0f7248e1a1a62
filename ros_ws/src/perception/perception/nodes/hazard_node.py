"""Hazard node: captions (and optionally detections) -> perception_msgs/HazardAlert + notifiers.

Thin adapter over ``perception.core.hazards`` (YAML rules, lemma/morpheme matching, cooldown
per hazard) and ``perception.core.notifiers`` (log, webhook, plugins; translators). Not an
image node, but a LifecycleNode with the same conventions: typed parameters, ``autostart``,
``configure`` loads the rules and builds the notifiers (a bad rules file or notifier option
fails configure with the reason and leaves the node re-configurable), ``activate`` subscribes.

Inputs: ``caption`` (perception_msgs/Caption); ``detections`` (DetectionArray) when
``use_detections``. Output: ``hazard_alerts`` (perception_msgs/HazardAlert, header copied
from the evidence). The cooldown runs on the node's ROS clock, so it follows ``/clock`` when
``use_sim_time`` is set (bag replay at any rate). Notifiers never block a callback: the
webhook posts from its own thread. The webhook's bearer token is read from the environment
variable ``webhook_token_env`` names, never from a parameter (parameters are world-readable).
Run: ``ros2 run perception hazard_node --ros-args --params-file config/jetson.yaml``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.subscription import Subscription
from std_msgs.msg import Header

from perception.core.hazards import HazardAlert as Alert
from perception.core.hazards import HazardMatcher, load_hazard_rules
from perception.core.notifiers import Notifier, Translator, create_notifier, create_translator
from perception.nodes.framework.conversions import copy_header
from perception.nodes.framework.parameters import (
    ParameterError,
    declare_parameters,
    param,
    read_parameters,
    validate_change,
)
from perception.nodes.framework.qos import output_qos
from perception.nodes.framework.runner import run_node
from perception_msgs.msg import Caption, DetectionArray
from perception_msgs.msg import HazardAlert as HazardAlertMsg

NODE_NAME = "hazard_node"
PACKAGE = "perception"
CAPTION_TOPIC = "caption"
DETECTIONS_TOPIC = "detections"
ALERTS_TOPIC = "hazard_alerts"
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
    notifiers: tuple[str, ...] = param(
        ("log",), "where alerts go besides the topic: log, webhook, or package.module:Class"
    )
    webhook_url: str = param("", "http(s) URL the webhook notifier POSTs JSON alerts to")
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
        shares = [_ament_share(), Path(sys.prefix) / "share" / PACKAGE, Path(__file__).resolve().parents[2]]
        candidates = [share / "config" / path for share in shares if share is not None]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"config file {name!r} not found (searched {', '.join(map(str, candidates))}); "
        "use an absolute path or a file in the perception package's config/ folder"
    )


def _ament_share() -> Path | None:
    if not os.environ.get("AMENT_PREFIX_PATH"):
        return None
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return Path(get_package_share_directory(PACKAGE))
    except PackageNotFoundError:
        return None


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
    for notifier in notifiers:
        notifier.close(timeout)


class HazardNode(LifecycleNode):
    """Matches captions/detections against the rules; publishes and notifies alerts."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.params: HazardParameters | None = None
        self.matcher: HazardMatcher | None = None
        self.notifiers: list[Notifier] = []
        self.translator: Translator | None = None
        self.counts = {"captions": 0, "detections": 0, "alerts": 0}
        self._publisher: Publisher | None = None
        self._inputs: list[Subscription] = []
        self._unfixed: dict[str, ParameterError] = {}
        self._finalized = False
        self.declare_parameter(
            "autostart",
            True,
            ParameterDescriptor(
                description="configure and activate on start (set false under a lifecycle manager)",
                read_only=True,
            ),
        )
        self.add_on_set_parameters_callback(self._on_set_parameters)

    @property
    def finalized(self) -> bool:
        return self._finalized

    def autostart(self) -> bool:
        """Configure then activate; True when the node ended active."""
        return (
            self.trigger_configure() == TransitionCallbackReturn.SUCCESS
            and self.trigger_activate() == TransitionCallbackReturn.SUCCESS
        )

    def teardown(self) -> None:
        """Drop subscriptions, publisher and notifiers (idempotent); run_node calls it after Ctrl-C."""
        self._stop_inputs()
        self._release()
        self._finalized = True

    # ------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._unfixed.update(declare_parameters(self, HazardParameters))
            if self._unfixed:
                raise next(iter(self._unfixed.values()))
            params = read_parameters(self, HazardParameters)
            rules_file = config_file(params.rules_path)
            rules = load_hazard_rules(rules_file)
            translator = create_translator(params.translator)
            notifiers = build_notifiers(params)
        except Exception as error:  # any bad option must leave us re-configurable
            self.get_logger().error(f"configure failed: {error}")
            return TransitionCallbackReturn.FAILURE
        self.params, self.translator, self.notifiers = params, translator, notifiers
        self.matcher = HazardMatcher(rules, clock=self._now_s)
        self._publisher = self.create_lifecycle_publisher(HazardAlertMsg, ALERTS_TOPIC, output_qos())
        self.get_logger().info(
            f"configured: {len(rules)} hazard rules from {rules_file}, notifiers {notifiers}, "
            f"translator {params.translator!r}"
        )
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self._inputs.append(self.create_subscription(Caption, CAPTION_TOPIC, self._on_caption, output_qos()))
        if self.params.use_detections:
            self._inputs.append(
                self.create_subscription(DetectionArray, DETECTIONS_TOPIC, self._on_detections, output_qos())
            )
        topics = [self.resolve_topic_name(s.topic_name) for s in self._inputs]
        self.get_logger().info(f"active: subscribed to {', '.join(topics)}")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.teardown()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"error during transition from {state.label}; tearing down to unconfigured")
        self._stop_inputs()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    # -------------------------------------------------------------- callbacks
    def _on_caption(self, msg: Caption) -> None:
        self.counts["captions"] += 1
        if self.matcher is None or msg.score < self.params.min_caption_score:
            return
        self._emit(self.matcher.match_caption(msg.text), msg.header, lambda _: msg.text)

    def _on_detections(self, msg: DetectionArray) -> None:
        self.counts["detections"] += 1
        if self.matcher is None:
            return
        kept = [d for d in msg.detections if d.score >= self.params.min_detection_score]
        best = {}
        for detection in sorted(kept, key=lambda d: d.score):
            best[detection.class_name.lower()] = detection
        alerts = self.matcher.match_detections(best)

        def evidence(alert: Alert) -> str:
            return f"detection: {alert.matched} {best[alert.matched.lower()].score:.2f}"

        self._emit(alerts, msg.header, evidence)

    def _emit(self, alerts: list[Alert], header: Header, evidence: Callable[[Alert], str]) -> None:
        """Publish and notify each alert, its message translated when a target language is set."""
        for alert in alerts:
            if self.params.target_language:
                translated = self.translator.translate(alert.message, self.params.target_language)
                alert = dataclasses.replace(alert, message=translated)
            self.counts["alerts"] += 1
            self._publisher.publish(
                HazardAlertMsg(
                    header=copy_header(header),
                    hazard=alert.hazard,
                    severity=_SEVERITY_CODES[alert.severity],
                    evidence=evidence(alert),
                    source=alert.source,
                    message=alert.message,
                )
            )
            for notifier in self.notifiers:
                try:
                    notifier.notify(alert)
                except Exception as error:  # one broken plugin must not silence the others
                    self.get_logger().error(f"notifier {notifier!r} failed: {type(error).__name__}: {error}")

    # -------------------------------------------------------------- internals
    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _stop_inputs(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs.clear()

    def _release(self) -> None:
        if self._publisher is not None:
            self.destroy_lifecycle_publisher(self._publisher)
            self._publisher = None
        close_all(self.notifiers, timeout=2.0)
        self.notifiers = []
        self.matcher = None
        self.params = None

    def _on_set_parameters(self, parameters: Sequence[Parameter]) -> SetParametersResult:
        try:
            changes = validate_change(HazardParameters, parameters, self.params is not None)
        except ParameterError as error:
            return SetParametersResult(successful=False, reason=str(error))
        for name in changes:
            self._unfixed.pop(name, None)
        if self.params is not None and changes:
            self.params = dataclasses.replace(self.params, **changes)
        return SetParametersResult(successful=True)


def main(args: Sequence[str] | None = None) -> None:
    # The log notifier writes through Python logging; show its INFO lines beside ROS's own.
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    run_node(HazardNode, args)


if __name__ == "__main__":
    main()
