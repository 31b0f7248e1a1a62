"""Example behaviour: how a guide robot reacts to captions and hazard alerts.

Not part of the perception package: a starting point for your own robot. It listens to the
caption node (``/caption``) and the hazard node (``/perception/hazard_alerts``):

- a **danger** alert stops the robot (zero ``cmd_vel``) for ``hold_s`` seconds and speaks the
  alert's guidance message at once;
- a **warning** halves the speed for ``hold_s`` seconds and speaks the message;
- an **info** alert is only spoken;
- a caption is spoken as a scene description at most every ``describe_period_s`` seconds,
  when it changed and the captioner was confident enough (``min_caption_score``).

"Speaking" publishes ``std_msgs/String`` on ``speech`` for a text-to-speech node; driving
publishes ``geometry_msgs/Twist`` on ``cmd_vel`` at 10 Hz. The decisions live in
``GuidePolicy`` (no ROS), the node only wires it up.

Run next to the perception graph:
    python examples/guide_behaviour_node.py --ros-args -p cruise_speed:=0.3
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import rclpy
from geometry_msgs.msg import Twist
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from perception_msgs.msg import Caption, HazardAlert

CONTROL_PERIOD_S = 0.1


@dataclass
class GuidePolicy:
    """What the robot says and how fast it drives, given captions and alerts over time."""

    cruise_speed: float = 0.2
    hold_s: float = 3.0
    describe_period_s: float = 10.0
    min_caption_score: float = 0.3
    _speed_factor: float = field(default=1.0, init=False)
    _hold_until: float = field(default=float("-inf"), init=False)
    _last_description: str = field(default="", init=False)
    _described_at: float = field(default=float("-inf"), init=False)

    def on_alert(self, severity: int, message: str, now: float) -> str:
        """Slow down or stop for the alert's severity; returns what to say."""
        factor = {HazardAlert.SEVERITY_DANGER: 0.0, HazardAlert.SEVERITY_WARNING: 0.5}.get(severity)
        if factor is not None and (now >= self._hold_until or factor <= self._speed_factor):
            self._speed_factor, self._hold_until = factor, now + self.hold_s
        return message

    def on_caption(self, text: str, score: float, now: float) -> str | None:
        """The description to say, or None (unsure, unchanged or said too recently)."""
        if score < self.min_caption_score or not text or text == self._last_description:
            return None
        if now - self._described_at < self.describe_period_s:
            return None
        self._last_description, self._described_at = text, now
        return f"I see {text}."

    def speed(self, now: float) -> float:
        """Forward speed [m/s] now: cruise, or reduced while an alert holds."""
        return self.cruise_speed * (self._speed_factor if now < self._hold_until else 1.0)


class GuideBehaviourNode(Node):
    """Subscribes captions and alerts, publishes speech and cmd_vel (see module doc)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, **kwargs) -> None:
        super().__init__("guide_behaviour", **kwargs)
        declared = {
            "caption_topic": "/caption",
            "alerts_topic": "/perception/hazard_alerts",
            "cruise_speed": 0.2,
            "hold_s": 3.0,
            "describe_period_s": 10.0,
            "min_caption_score": 0.3,
        }
        values = {name: self.declare_parameter(name, default).value for name, default in declared.items()}
        self.policy = GuidePolicy(
            values["cruise_speed"], values["hold_s"], values["describe_period_s"], values["min_caption_score"]
        )
        self._now = clock
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.speech = self.create_publisher(String, "speech", reliable)
        self.cmd_vel = self.create_publisher(Twist, "cmd_vel", reliable)
        self.create_subscription(HazardAlert, values["alerts_topic"], self._on_alert, reliable)
        self.create_subscription(Caption, values["caption_topic"], self._on_caption, reliable)
        self.create_timer(CONTROL_PERIOD_S, self._drive)

    def _on_alert(self, msg: HazardAlert) -> None:
        self.get_logger().warning(f"hazard {msg.hazard} ({msg.source}: {msg.evidence!r})")
        self._say(self.policy.on_alert(msg.severity, msg.message, self._now()))
        self._drive()  # react now, not at the next control tick

    def _on_caption(self, msg: Caption) -> None:
        description = self.policy.on_caption(msg.text, msg.score, self._now())
        if description:
            self._say(description)

    def _say(self, text: str) -> None:
        self.get_logger().info(f"say: {text}")
        self.speech.publish(String(data=text))

    def _drive(self) -> None:
        twist = Twist()
        twist.linear.x = self.policy.speed(self._now())
        self.cmd_vel.publish(twist)


def main(args: Sequence[str] | None = None) -> None:
    rclpy.init(args=args)
    node = GuideBehaviourNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main(sys.argv)
