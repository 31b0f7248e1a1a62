"""Drop/processing counters logged periodically and published on /diagnostics.

A node that silently falls behind the camera is the usual field failure on small boards, so
every image node reports how many frames it received, processed, dropped (replaced by a newer
frame before the model got to it), and failed, with its rate and latency, where
``rqt_robot_monitor``/``diagnostic_aggregator`` and the log both see it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from perception.nodes.framework.latest_frame import WorkerCounters
from perception.nodes.topics import DIAGNOSTICS_TOPIC

Status = tuple[bytes, str]  # DiagnosticStatus level and message


@dataclass(frozen=True)
class PeriodSummary:
    """What happened between two reports."""

    counters: WorkerCounters
    extra: Mapping[str, int]
    rate_hz: float
    new_received: int
    new_failed: int
    extra_before: Mapping[str, int] = field(default_factory=dict)

    def delta(self, key: str) -> int:
        """How much the extra counter ``key`` grew in this period."""
        return int(self.extra.get(key, 0)) - int(self.extra_before.get(key, 0))

    def level_and_message(self) -> Status:
        """WARN when frames failed or none arrived in the period; OK otherwise."""
        if self.new_failed:
            return DiagnosticStatus.WARN, f"{self.new_failed} frame(s) failed in the last period; see the log"
        if self.new_received == 0:
            return (
                DiagnosticStatus.WARN,
                "no images accepted in the last period; check the camera topic (or ~/enable, max_rate_hz)",
            )
        return DiagnosticStatus.OK, f"processing at {self.rate_hz:.1f} Hz"


def build_status(
    name: str, hardware_id: str, summary: PeriodSummary, status: Status | None = None
) -> DiagnosticStatus:
    """The DiagnosticStatus message for one period (values as strings, per the message).

    ``status`` (level, message) replaces the summary's default one.
    """
    c = summary.counters
    values = {
        "received": c.received,
        "processed": c.processed,
        "dropped": c.dropped,
        "failed": c.failed,
        "discarded": c.discarded,
        **summary.extra,
        "last_latency_ms": f"{c.last_latency_s * 1000.0:.1f}",
        "rate_hz": f"{summary.rate_hz:.2f}",
    }
    level, message = status or summary.level_and_message()
    return DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
    )


class DiagnosticsReporter:
    """Timer that logs and publishes a node's counters every ``period_s`` seconds.

    ``status`` may return a node-specific (level, message) for a period, or None for the default.
    """

    def __init__(
        self,
        node: Node,
        counters: Callable[[], WorkerCounters],
        extra: Callable[[], Mapping[str, int]] = dict,
        period_s: float = 5.0,
        status: Callable[[PeriodSummary], Status | None] = lambda summary: None,
    ) -> None:
        self._node = node
        self._counters = counters
        self._extra = extra
        self._status = status
        self._publisher = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._last = (counters(), dict(extra()), time.monotonic())
        self._timer = node.create_timer(period_s, self.report)

    def report(self) -> PeriodSummary:
        """Log and publish the counters since the previous report; returns what was published."""
        counters, extra, now = self._counters(), dict(self._extra()), time.monotonic()
        previous, extra_before, then = self._last
        self._last = (counters, extra, now)
        summary = PeriodSummary(
            counters=counters,
            extra=extra,
            rate_hz=(counters.processed - previous.processed) / max(now - then, 1e-9),
            new_received=counters.received - previous.received,
            new_failed=counters.failed - previous.failed,
            extra_before=extra_before,
        )
        node_name = self._node.get_fully_qualified_name()
        status = build_status(f"{node_name}: frames", node_name, summary, self._status(summary))
        self._node.get_logger().info(
            f"{status.message}: " + ", ".join(f"{kv.key}={kv.value}" for kv in status.values)
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)
        return summary

    def destroy(self) -> None:
        self._node.destroy_timer(self._timer)
        self._node.destroy_publisher(self._publisher)
