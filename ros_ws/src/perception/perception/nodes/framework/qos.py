"""QoS profiles from parameters: what image inputs and result outputs use.

Cameras publish best effort (the sensor-data profile); a reliable subscriber cannot match a
best-effort publisher, so best effort is the default and ``reliable`` is for bag replay or
publishers that insist on it. Depth 1 suits a latest-frame node: anything older is dropped.
"""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

RELIABILITY_CHOICES = ("best_effort", "reliable")


def image_qos(reliability: str = "best_effort", depth: int = 1) -> QoSProfile:
    """Subscription QoS for camera images: sensor-data profile, optionally reliable."""
    if reliability not in RELIABILITY_CHOICES:
        raise ValueError(f"image reliability {reliability!r} is not one of {RELIABILITY_CHOICES}")
    if depth < 1:
        raise ValueError(f"image QoS depth must be >= 1, got {depth}")
    profile = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=qos_profile_sensor_data.reliability,
        durability=qos_profile_sensor_data.durability,
    )
    if reliability == "reliable":
        profile.reliability = ReliabilityPolicy.RELIABLE
    return profile


def output_qos(depth: int = 10) -> QoSProfile:
    """Publisher QoS for results: reliable (matches best-effort and reliable subscribers), volatile."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )
