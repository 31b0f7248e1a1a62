"""The signer: a frontal upper body (head, hair, torso, two arms and hands) drawn with OpenCV.

Geometry is in units of ``scale``, the signer's height in pixels from the top of the head to
the hips, so one sampled ``Signer`` works at any frame size. Both hands are drawn alike (a
skin-coloured palm with a darker outline), so hand shape never gives a word away.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from perception_training.synthetic.painter import Color
from perception_training.synthetic.palette import COLORS, SKIN_TONES, jitter, scale
from perception_training.synthetic.signing_motion import Point

_SHIFT = 4  # sub-pixel bits: smooth motion even on a 160x120 frame
_ONE = 1 << _SHIFT
_SHIRTS = ("red", "blue", "green", "gray", "black", "white", "purple", "orange", "yellow", "brown")
_HAIR: tuple[Color, ...] = ((25, 25, 30), (30, 45, 70), (50, 80, 120), (140, 150, 160), (60, 110, 170))
_ARM = 0.25  # upper arm and forearm length, in units of scale


@dataclass(frozen=True)
class Signer:
    """How one signer looks and stands.

    ``dominant`` is the signing hand's image side: -1 for a right-handed signer (whose right
    hand appears on the image left), +1 for a left-handed one.
    """

    centre_x: float
    top: float
    scale: float
    skin: Color
    shirt: Color
    hair: Color
    dominant: int
    shoulders: float  # half shoulder width, units of scale

    @classmethod
    def sample(cls, rng: np.random.Generator, width: int, height: int) -> Signer:
        """A random signer placed so the whole signing space stays inside the frame."""
        top = rng.uniform(0.0, 0.08) * height
        # Framed like AIHub recordings: the upper body fills the frame, the lowest point of any
        # stroke (0.85 * size below the head top) stays in it; hands at rest may drop out of view.
        size = rng.uniform(0.85, 1.0) * (height - top) / 0.85
        margin = 0.5 * size
        centre_x = rng.uniform(min(margin, width / 2), max(width - margin, width / 2))
        return cls(
            centre_x=float(centre_x),
            top=float(top),
            scale=float(size),
            skin=jitter(rng, SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], 8),
            shirt=jitter(rng, COLORS[_SHIRTS[int(rng.integers(len(_SHIRTS)))]]),
            hair=jitter(rng, _HAIR[int(rng.integers(len(_HAIR)))], 8),
            dominant=1 if rng.random() < 0.2 else -1,
            shoulders=float(rng.uniform(0.18, 0.23)),
        )

    def place(self, x: float, y: float, body: Point = (0.0, 0.0)) -> Point:
        """Signer units (x from the body's midline, y from the head top) to pixels."""
        return self.centre_x + body[0] + x * self.scale, self.top + body[1] + y * self.scale

    def shoulder(self, side: int, body: Point = (0.0, 0.0)) -> Point:
        return self.place(side * self.shoulders, 0.33, body)

    def rest(self, side: int) -> Point:
        """Where a hand hangs when idle: in front of the hip on its own side."""
        return self.place(side * 0.12, 0.86)

    @property
    def signing_centre(self) -> Point:
        """The middle of the signing space: chest height, a little towards the dominant side."""
        return self.place(self.dominant * 0.05, 0.56)

    @property
    def hand_radius(self) -> float:
        return 0.045 * self.scale


def _pt(point: Point) -> tuple[int, int]:
    """A pixel point in OpenCV's fixed-point sub-pixel units."""
    return round(point[0] * _ONE), round(point[1] * _ONE)


def _elbow(shoulder: Point, hand: Point, length: float, side: int) -> Point:
    """Two-bone reach: the elbow bends outwards and down, straight when the hand is far."""
    sx, sy = shoulder
    dx, dy = hand[0] - sx, hand[1] - sy
    distance = max(float(np.hypot(dx, dy)), 1e-6)
    bend = float(np.sqrt(max(length**2 - (distance / 2) ** 2, 0.0)))
    nx, ny = -dy / distance, dx / distance  # one perpendicular; pick the outward-down one
    if nx * side + ny < 0:
        nx, ny = -nx, -ny
    return sx + dx / 2 + nx * bend, sy + dy / 2 + ny * bend


def draw_signer(canvas: np.ndarray, signer: Signer, body: Point, hands: dict[int, Point]) -> None:
    """Paint the signer on ``canvas`` (float32 BGR), the body shifted by ``body`` pixels and the
    hands (keyed by side, -1 image left / +1 image right) at their pixel positions."""
    s, aa = signer.scale, cv2.LINE_AA
    sleeve = scale(signer.shirt, 0.85)
    hip = signer.place(0.0, 1.2, body)
    torso = [
        signer.shoulder(-1, body),
        signer.place(-0.06, 0.28, body),
        signer.place(0.06, 0.28, body),
        signer.shoulder(1, body),
        (hip[0] + 0.19 * s, hip[1]),
        (hip[0] - 0.19 * s, hip[1]),
    ]
    cv2.fillPoly(canvas, [np.array([_pt(p) for p in torso], np.int32)], signer.shirt, aa, _SHIFT)
    neck = signer.place(0.0, 0.24, body)
    cv2.line(
        canvas, _pt(neck), _pt(signer.place(0.0, 0.3, body)), signer.skin, max(1, round(0.07 * s)), aa, _SHIFT
    )
    head = signer.place(0.0, 0.13, body)
    axes = (round(0.085 * s * _ONE), round(0.11 * s * _ONE))
    cv2.ellipse(canvas, _pt(head), axes, 0, 0, 360, signer.skin, -1, aa, _SHIFT)
    cv2.ellipse(canvas, _pt(head), axes, 0, 180, 360, signer.hair, -1, aa, _SHIFT)
    thickness = max(1, round(0.06 * s))
    for side, hand in hands.items():
        shoulder = signer.shoulder(side, body)
        elbow = _elbow(shoulder, hand, _ARM * s, side)
        cv2.line(canvas, _pt(shoulder), _pt(elbow), sleeve, thickness, aa, _SHIFT)
        cv2.line(canvas, _pt(elbow), _pt(hand), signer.skin, max(1, thickness - 1), aa, _SHIFT)
        radius = round(signer.hand_radius * _ONE)
        cv2.circle(canvas, _pt(hand), radius, signer.skin, -1, aa, _SHIFT)
        cv2.circle(canvas, _pt(hand), radius, scale(signer.skin, 0.7), 1, aa, _SHIFT)


def draw_disc(canvas: np.ndarray, centre: Point, radius: float, color: Color) -> None:
    """A filled anti-aliased disc at a sub-pixel position (the distractor ball)."""
    cv2.circle(canvas, _pt(centre), round(radius * _ONE), color, -1, cv2.LINE_AA, _SHIFT)
