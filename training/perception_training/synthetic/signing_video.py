"""The signing world: seeded videos of one signer signing a few words, with exact word times.

``SigningWorld(seed).video(index, ...)`` is a pure function of its arguments (the random
generator is derived from all of them, as in ``SceneWorld.scene``). A video renders any frame
on demand, so a long bag never holds its frames in memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import cv2
import numpy as np

from perception_training.synthetic.background import Background, draw_background
from perception_training.synthetic.palette import jitter
from perception_training.synthetic.signing_figure import Signer, draw_disc, draw_signer
from perception_training.synthetic.signing_motion import Ball, HandPath, Point, Stroke, Twitches, Wobble
from perception_training.synthetic.world import SceneWorld

# The vocabulary: Korean word (as AIHub labels write it) -> the motion that signs it.
SIGN_WORDS: dict[str, str] = {"왼쪽": "left", "오른쪽": "right", "위": "up", "아래": "down", "중앙": "centre"}
SIGN_SECONDS = (0.6, 1.5)  # how long one sign takes: slow and fast signers
LEAD_SECONDS = (0.4, 1.5)  # idle before the first sign
GAP_SECONDS = (0.4, 1.3)  # idle between signs
TAIL_SECONDS = (0.4, 1.2)  # idle after the last sign
MOVE_SECONDS = (0.18, 0.3)  # rest <-> sign start, inside the idle time
LOW_CONTRAST_JITTER = 12.0  # per-channel spread of a low-contrast shirt around the skin tone


def words_to_fill(seconds: float, gaps: tuple[float, float] = GAP_SECONDS) -> int:
    """How many words a video needs so that it surely lasts at least ``seconds``."""
    return max(1, math.ceil(seconds / (SIGN_SECONDS[0] + gaps[0])))


@dataclass(frozen=True)
class SignedWord:
    """Ground truth: ``word`` (a key of SIGN_WORDS) is signed from ``start_s`` to ``end_s``."""

    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class _Camera:
    """Per-video lighting, defocus and noise level, and a per-frame shake."""

    light: np.ndarray  # HxWx1 multiplicative
    blur_sigma: float
    noise_sigma: float
    shake: Wobble

    @classmethod
    def sample(cls, rng: np.random.Generator, width: int, height: int) -> _Camera:
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        ramp = (xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle)
        light = (rng.uniform(0.85, 1.1) + rng.uniform(0.1, 0.35) * ramp)[..., None].astype(np.float32)
        shake = Wobble.sample(rng, rng.uniform(0.0, 0.012) * height, (0.5, 2.0))
        return cls(light, float(rng.uniform(0.0, 1.0)), float(rng.uniform(2.0, 6.0)), shake)

    def apply(self, rng: np.random.Generator, image: np.ndarray, t: float) -> np.ndarray:
        """Shake, light, blur and noise: float32 rendering -> camera-like uint8 BGR frame."""
        dx, dy = self.shake.at(t)
        height, width = image.shape[:2]
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        out = cv2.warpAffine(image, shift, (width, height), borderMode=cv2.BORDER_REFLECT) * self.light
        if self.blur_sigma > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), self.blur_sigma)
        out = out + rng.normal(0.0, self.noise_sigma, out.shape).astype(np.float32)
        return np.clip(out, 0, 255).round().astype(np.uint8)


@dataclass(frozen=True, eq=False)
class SignVideo:
    """One rendered-on-demand signing video and its ground truth."""

    words: tuple[SignedWord, ...]
    size: tuple[int, int]  # width, height
    fps: float
    frame_count: int
    signer: Signer
    hand: HandPath
    twitches: Twitches
    sway: Wobble
    ball: Ball | None
    background: Background
    camera: _Camera
    world: SceneWorld
    key: tuple[str | int, ...]  # the rng parts of this video; frame noise adds the frame index

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    def _hands(self, t: float) -> tuple[Point, dict[int, Point]]:
        body = self.sway.at(t)
        dominant = self.signer.dominant
        signing, (rx, ry), (tx, ty) = self.hand.at(t), self.signer.rest(-dominant), self.twitches.at(t)
        hands = {
            dominant: (signing[0] + body[0], signing[1] + body[1]),
            -dominant: (rx + body[0] + tx, ry + body[1] + ty),
        }
        return body, hands

    def hand_at(self, index: int) -> Point:
        """The signing hand's centre in frame ``index``, in image pixels (camera shake included)."""
        t = index / self.fps
        x, y = self._hands(t)[1][self.signer.dominant]
        dx, dy = self.camera.shake.at(t)
        return x + dx, y + dy

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (HxWx3 BGR uint8), the same pixels on every call."""
        if not 0 <= index < self.frame_count:
            raise IndexError(f"frame {index} is outside this video's {self.frame_count} frames")
        t = index / self.fps
        width, height = self.size
        canvas = self.background.image.copy()
        if self.ball is not None:
            draw_disc(canvas, self.ball.at(t, width, height), self.ball.radius, self.ball.color)
        body, hands = self._hands(t)
        draw_signer(canvas, self.signer, body, hands)
        return self.camera.apply(self.world.rng(*self.key, "frame", index), canvas, t)

    def frames(self) -> Iterator[np.ndarray]:
        return (self.frame(i) for i in range(self.frame_count))


class SigningWorld:
    """Deterministic generator of signing videos with exact word times."""

    def __init__(self, seed: int = 0) -> None:
        self.world = SceneWorld(seed)

    @property
    def seed(self) -> int:
        return self.world.seed

    def video(
        self,
        index: int,
        split: str = "train",
        words: tuple[int, int] = (2, 4),
        size: tuple[int, int] = (160, 120),
        fps: float = 15.0,
        gaps: tuple[float, float] = GAP_SECONDS,
        low_contrast: float = 0.0,
    ) -> SignVideo:
        """Video ``index`` of ``split`` with ``words[0]..words[1]`` signs (inclusive).

        ``size`` is (width, height); ``gaps`` the range of idle seconds between two signs (longer
        pauses make the idle stretches a sign node must stay quiet in). ``low_contrast`` is the
        chance that the signer wears a shirt close to their skin tone, the hardest case for a
        small crop (about 1 % of signers by chance); the video is otherwise the same one.
        """
        low, high = int(words[0]), int(words[1])
        width, height = int(size[0]), int(size[1])
        if index < 0 or not 1 <= low <= high or fps <= 0:
            raise ValueError(
                f"need index >= 0, 1 <= words[0] <= words[1] and fps > 0; got {index}, {words}, {fps}"
            )
        if width < 32 or height < 32:
            raise ValueError(f"video size {size} is too small; use at least 32x32 pixels")
        key = ("sign", split, index, low, high, width, height, repr(float(fps)))
        if gaps != GAP_SECONDS:
            key += (repr(tuple(map(float, gaps))),)
        rng = self.world.rng(*key)
        signer = Signer.sample(rng, width, height)
        if low_contrast:
            signer = _maybe_low_contrast(self.world.rng(*key, "low_contrast"), signer, low_contrast)
        strokes, signed = _script(rng, int(rng.integers(low, high + 1)), signer, gaps)
        duration = strokes[-1].end_s + rng.uniform(*TAIL_SECONDS)
        ball = _ball(rng, width, height) if rng.random() < 0.5 else None
        return SignVideo(
            words=signed,
            size=(width, height),
            fps=float(fps),
            frame_count=math.ceil(duration * fps),
            signer=signer,
            hand=HandPath(strokes, signer.rest(signer.dominant), float(rng.uniform(*MOVE_SECONDS))),
            twitches=Twitches.sample(
                rng, duration, rng.uniform(0.1, 0.5), rng.uniform(0.05, 0.12) * signer.scale
            ),
            sway=Wobble.sample(rng, rng.uniform(0.003, 0.012) * signer.scale, (0.1, 0.5)),
            ball=ball,
            background=draw_background(rng, width, height),
            camera=_Camera.sample(rng, width, height),
            world=self.world,
            key=key,
        )


def continuous_video(
    seed: int,
    frames: int,
    fps: float = 15.0,
    size: tuple[int, int] = (640, 480),
    gaps: tuple[float, float] = GAP_SECONDS,
    split: str = "test",
) -> SignVideo:
    """One signer signing for at least ``frames`` frames: what a sign bag of ``seed`` holds.

    Sign bags and the offline stream evaluation both use it, so they judge the same stream.
    """
    words = words_to_fill(frames / fps, gaps)
    return SigningWorld(seed).video(0, split, (words, words), size, fps, gaps)


def _script(
    rng: np.random.Generator, count: int, signer: Signer, gaps: tuple[float, float]
) -> tuple[list[Stroke], tuple[SignedWord, ...]]:
    """``count`` random words with their strokes; times rounded to milliseconds, as labels store them."""
    vocabulary = tuple(SIGN_WORDS)
    strokes, signed = [], []
    t = rng.uniform(*LEAD_SECONDS)
    for _ in range(count):
        word = vocabulary[int(rng.integers(len(vocabulary)))]
        motion = SIGN_WORDS[word]
        start = round(t, 3)
        end = round(start + rng.uniform(*SIGN_SECONDS), 3)
        cx, cy = np.asarray(signer.signing_centre) + rng.normal(0.0, 0.03 * signer.scale, 2)
        size = rng.uniform(0.09, 0.14) if motion == "centre" else rng.uniform(0.14, 0.22)
        strokes.append(
            Stroke(
                motion,
                start,
                end,
                (float(cx), float(cy)),
                float(size * signer.scale),
                phase=float(rng.uniform(0, 2 * np.pi)),
                turn=float(rng.choice((-1.0, 1.0))),
            )
        )
        signed.append(SignedWord(word, start, end))
        t = end + rng.uniform(*gaps)
    return strokes, tuple(signed)


def _maybe_low_contrast(rng: np.random.Generator, signer: Signer, chance: float) -> Signer:
    """``signer``, with probability ``chance`` in a shirt a few levels off their skin tone."""
    if rng.random() >= chance:
        return signer
    return replace(signer, shirt=jitter(rng, signer.skin, LOW_CONTRAST_JITTER))


def _ball(rng: np.random.Generator, width: int, height: int) -> Ball:
    speed, heading = rng.uniform(0.2, 0.6) * width, rng.uniform(0, 2 * np.pi)
    return Ball(
        (float(rng.uniform(0, width)), float(rng.uniform(0, height))),
        (float(speed * np.cos(heading)), float(speed * np.sin(heading))),
        float(rng.uniform(0.03, 0.07) * height),
        tuple(float(c) for c in rng.uniform(20, 240, 3)),
    )
