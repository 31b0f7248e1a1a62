"""Where the signing hand is at any moment: the five sign strokes and the idle moves between them.

Directions are the SIGNER's own: the signer faces the camera, so "left" moves the hand to the
signer's left, which is the viewer's right (+x in the image; the camera does not mirror).
Handedness changes which hand signs, never the direction. A horizontally flipped clip
therefore shows the other word: flip augmentation must swap left and right labels.

Every stroke passes through its signing centre with the same hand shape, so one frame is
ambiguous (a hand right of centre is the end of "left" or the start of "right"); only the
motion tells the words apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]
MOTIONS: tuple[str, ...] = ("left", "right", "up", "down", "centre")
# unit image direction (x right, y down) of each straight stroke
DIRECTIONS: dict[str, Point] = {
    "left": (1.0, 0.0),
    "right": (-1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
}


def ease(tau: float) -> float:
    """Smooth 0 -> 1 with zero speed at both ends, as a hand accelerates and stops."""
    tau = min(max(tau, 0.0), 1.0)
    return 0.5 - 0.5 * float(np.cos(np.pi * tau))


def _blend(a: Point, b: Point, tau: float) -> Point:
    w = ease(tau)
    return a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w


@dataclass(frozen=True)
class Stroke:
    """One sign: a straight sweep through ``centre`` (``size`` = half its length) or, for
    "centre", a full circle of radius ``size`` starting at angle ``phase`` and turning ``turn``
    (+1 or -1)."""

    motion: str
    start_s: float
    end_s: float
    centre: Point
    size: float
    phase: float = 0.0
    turn: float = 1.0

    def __post_init__(self) -> None:
        if self.motion not in MOTIONS:
            raise ValueError(f"unknown motion {self.motion!r}; choose one of {MOTIONS}")
        if self.end_s <= self.start_s:
            raise ValueError(f"stroke ends at {self.end_s} s, not after its start {self.start_s} s")

    def at(self, t: float) -> Point:
        """The hand position at time ``t`` (clamped to the stroke)."""
        tau = ease((t - self.start_s) / (self.end_s - self.start_s))
        cx, cy = self.centre
        if self.motion == "centre":
            angle = self.phase + self.turn * 2.0 * np.pi * tau
            return cx + self.size * float(np.cos(angle)), cy + self.size * float(np.sin(angle))
        dx, dy = DIRECTIONS[self.motion]
        reach = self.size * (2.0 * tau - 1.0)
        return cx + dx * reach, cy + dy * reach


@dataclass(frozen=True)
class HandPath:
    """The dominant hand over a whole video: strokes, and rest in between.

    Between strokes the hand eases back to ``rest`` and out again, each move taking
    ``move_s``; a gap too short for both moves goes straight from one stroke to the next.
    """

    strokes: Sequence[Stroke]
    rest: Point
    move_s: float

    def at(self, t: float) -> Point:
        previous_end, previous_point = -np.inf, self.rest
        for stroke in self.strokes:
            if t < stroke.start_s:
                return self._between(
                    t, previous_end, previous_point, stroke.start_s, stroke.at(stroke.start_s)
                )
            if t <= stroke.end_s:
                return stroke.at(t)
            previous_end, previous_point = stroke.end_s, stroke.at(stroke.end_s)
        return self._between(t, previous_end, previous_point, np.inf, self.rest)

    def _between(self, t: float, t0: float, p0: Point, t1: float, p1: Point) -> Point:
        if t1 - t0 < 2.0 * self.move_s:
            return _blend(p0, p1, (t - t0) / (t1 - t0))
        if t < t0 + self.move_s:
            return _blend(p0, self.rest, (t - t0) / self.move_s)
        if t > t1 - self.move_s:
            return _blend(self.rest, p1, (t - (t1 - self.move_s)) / self.move_s)
        return self.rest


@dataclass(frozen=True)
class Twitches:
    """Small unrelated moves of a hand (the non-signing one): a bump out and back per entry."""

    starts: Sequence[float]
    duration_s: Sequence[float]
    offsets: Sequence[Point]

    @classmethod
    def sample(cls, rng: np.random.Generator, duration_s: float, rate_hz: float, reach: float) -> Twitches:
        """Twitches at random times (about ``rate_hz`` per second), each up to ``reach`` pixels."""
        count = int(rng.poisson(rate_hz * duration_s))
        angles = rng.uniform(0, 2 * np.pi, count)
        lengths = rng.uniform(0.4, 1.0, count) * reach
        return cls(
            tuple(float(s) for s in np.sort(rng.uniform(0, duration_s, count))),
            tuple(float(d) for d in rng.uniform(0.3, 0.7, count)),
            tuple((float(r * np.cos(a)), float(r * np.sin(a))) for a, r in zip(angles, lengths, strict=True)),
        )

    def at(self, t: float) -> Point:
        x = y = 0.0
        for start, duration, (dx, dy) in zip(self.starts, self.duration_s, self.offsets, strict=True):
            if start <= t <= start + duration:
                bump = float(np.sin(np.pi * (t - start) / duration))
                x, y = x + dx * bump, y + dy * bump
        return x, y


@dataclass(frozen=True)
class Wobble:
    """A slow quasi-random drift (two sines per axis): body sway, camera shake."""

    amplitude: float
    frequencies: tuple[float, float]
    phases: tuple[float, float]

    @classmethod
    def sample(cls, rng: np.random.Generator, amplitude: float, frequency_hz: tuple[float, float]) -> Wobble:
        low, high = frequency_hz
        return cls(
            float(amplitude),
            (float(rng.uniform(low, high)), float(rng.uniform(low, high))),
            (float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
        )

    def at(self, t: float) -> Point:
        (fx, fy), (px, py) = self.frequencies, self.phases
        return (
            self.amplitude * float(np.sin(2 * np.pi * fx * t + px)),
            0.5 * self.amplitude * float(np.sin(2 * np.pi * fy * t + py)),
        )


@dataclass(frozen=True)
class Ball:
    """A distractor that bounces around the frame at constant speed, unrelated to any sign."""

    start: Point
    velocity: Point
    radius: float
    color: tuple[float, float, float]

    def at(self, t: float, width: int, height: int) -> Point:
        return (
            _bounce(self.start[0] + self.velocity[0] * t, self.radius, width - self.radius),
            _bounce(self.start[1] + self.velocity[1] * t, self.radius, height - self.radius),
        )


def _bounce(x: float, low: float, high: float) -> float:
    """``x`` folded into [low, high] as a ball reflecting off two walls."""
    span = max(high - low, 1e-6)
    phase = (x - low) % (2 * span)
    return low + (phase if phase <= span else 2 * span - phase)
