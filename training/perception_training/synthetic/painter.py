"""Anti-aliased drawing into a transparent sprite, so every object knows its exact pixels.

Objects are painted on their own premultiplied-alpha layer and only then composited onto the
scene. The layer's alpha says precisely which pixels the object covers, which is what makes
the ground-truth boxes tight and lets glass be partly transparent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

Color = tuple[float, float, float]
ALPHA_EPSILON = 0.02  # coverage below this is treated as "not drawn"
_SUBPIXEL_BITS = 4
_SUBPIXEL = 1 << _SUBPIXEL_BITS


@dataclass
class Sprite:
    """A premultiplied BGR layer (float32, 0-255) and its coverage (float32, 0-1)."""

    color: np.ndarray
    alpha: np.ndarray

    @property
    def width(self) -> int:
        return self.alpha.shape[1]

    @property
    def height(self) -> int:
        return self.alpha.shape[0]

    def cropped(self) -> Sprite:
        """The sprite trimmed to the pixels it actually covers."""
        ys, xs = np.nonzero(self.alpha > ALPHA_EPSILON)
        if ys.size == 0:
            raise ValueError("sprite is empty: nothing was drawn")
        alpha = np.where(self.alpha > ALPHA_EPSILON, self.alpha, 0.0).astype(np.float32)
        window = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        return Sprite(self.color[window] * (alpha[window] > 0)[..., None], alpha[window])

    def rotated(self, degrees: float) -> Sprite:
        """The sprite rotated about its centre on a canvas large enough to hold all of it."""
        h, w = self.alpha.shape
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        new_w, new_h = int(np.ceil(h * sin + w * cos)) + 2, int(np.ceil(h * cos + w * sin)) + 2
        matrix[0, 2] += new_w / 2.0 - w / 2.0
        matrix[1, 2] += new_h / 2.0 - h / 2.0
        warp = {"dsize": (new_w, new_h), "flags": cv2.INTER_LINEAR, "borderValue": 0}
        return Sprite(cv2.warpAffine(self.color, matrix, **warp), cv2.warpAffine(self.alpha, matrix, **warp))

    def flipped(self) -> Sprite:
        """Mirror image left to right (handles, poses)."""
        return Sprite(self.color[:, ::-1].copy(), self.alpha[:, ::-1].copy())


class Painter:
    """Paints filled shapes with a colour and an opacity onto a fresh transparent sprite."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)
        self.color = np.zeros((self.height, self.width, 3), np.float32)
        self.alpha = np.zeros((self.height, self.width), np.float32)

    def sprite(self) -> Sprite:
        return Sprite(self.color, self.alpha).cropped()

    def _mask(self, draw: Callable[[np.ndarray], None]) -> np.ndarray:
        mask = np.zeros((self.height, self.width), np.uint8)
        draw(mask)
        return mask.astype(np.float32) / 255.0

    def paint(self, mask: np.ndarray, color: Color | np.ndarray, opacity: float = 1.0) -> None:
        """Composite ``color`` (a BGR triple or an HxWx3 image) over the layer where ``mask``."""
        a = mask * float(opacity)
        paint = np.asarray(color, np.float32)
        self.color = self.color * (1.0 - a[..., None]) + paint * a[..., None]
        self.alpha = self.alpha * (1.0 - a) + a

    def polygon_mask(self, points: np.ndarray | list) -> np.ndarray:
        pts = (np.asarray(points, np.float64) * _SUBPIXEL).round().astype(np.int32)
        return self._mask(lambda m: cv2.fillPoly(m, [pts], 255, cv2.LINE_AA, _SUBPIXEL_BITS))

    def ellipse_mask(
        self,
        center: tuple[float, float],
        axes: tuple[float, float],
        angle: float = 0.0,
        start: float = 0.0,
        end: float = 360.0,
        thickness: int = -1,
    ) -> np.ndarray:
        c = (round(center[0] * _SUBPIXEL), round(center[1] * _SUBPIXEL))
        ax = (max(1, round(axes[0] * _SUBPIXEL)), max(1, round(axes[1] * _SUBPIXEL)))
        return self._mask(
            lambda m: cv2.ellipse(m, c, ax, angle, start, end, 255, thickness, cv2.LINE_AA, _SUBPIXEL_BITS)
        )

    def line_mask(self, p0: tuple[float, float], p1: tuple[float, float], thickness: float) -> np.ndarray:
        a = (round(p0[0] * _SUBPIXEL), round(p0[1] * _SUBPIXEL))
        b = (round(p1[0] * _SUBPIXEL), round(p1[1] * _SUBPIXEL))
        return self._mask(
            lambda m: cv2.line(m, a, b, 255, max(1, round(thickness)), cv2.LINE_AA, _SUBPIXEL_BITS)
        )

    def outline_mask(self, points: np.ndarray | list, thickness: float, closed: bool = True) -> np.ndarray:
        pts = (np.asarray(points, np.float64) * _SUBPIXEL).round().astype(np.int32)
        return self._mask(
            lambda m: cv2.polylines(
                m, [pts], closed, 255, max(1, round(thickness)), cv2.LINE_AA, _SUBPIXEL_BITS
            )
        )

    def polygon(self, points: np.ndarray | list, color: Color | np.ndarray, opacity: float = 1.0) -> None:
        self.paint(self.polygon_mask(points), color, opacity)

    def ellipse(
        self,
        center: tuple[float, float],
        axes: tuple[float, float],
        color: Color | np.ndarray,
        opacity: float = 1.0,
        **kwargs: float,
    ) -> None:
        self.paint(self.ellipse_mask(center, axes, **kwargs), color, opacity)

    def line(
        self,
        p0: tuple[float, float],
        p1: tuple[float, float],
        thickness: float,
        color: Color | np.ndarray,
        opacity: float = 1.0,
    ) -> None:
        self.paint(self.line_mask(p0, p1, thickness), color, opacity)

    def cylinder(self, color: Color, x0: float, x1: float, strength: float = 0.45) -> np.ndarray:
        """An HxWx3 image of ``color`` shaded like a vertical cylinder spanning x0..x1."""
        xs = np.arange(self.width, dtype=np.float32)
        centre, half = (x0 + x1) / 2.0, max((x1 - x0) / 2.0, 1.0)
        t = np.clip((xs - centre) / half, -1.0, 1.0)
        shade = 1.0 - strength * t**2 + 0.25 * np.exp(-(((t + 0.45) / 0.15) ** 2))
        image = np.asarray(color, np.float32)[None, None, :] * shade[None, :, None]
        return np.clip(np.broadcast_to(image, (self.height, self.width, 3)), 0, 255)

    def vertical(self, top: Color, bottom: Color, y0: float, y1: float) -> np.ndarray:
        """An HxWx3 image fading from ``top`` at row y0 to ``bottom`` at row y1 (metal, liquids)."""
        t = np.clip((np.arange(self.height, dtype=np.float32) - y0) / max(y1 - y0, 1.0), 0.0, 1.0)
        image = np.asarray(top, np.float32) * (1 - t[:, None]) + np.asarray(bottom, np.float32) * t[:, None]
        return np.broadcast_to(image[:, None, :], (self.height, self.width, 3))


def composite(canvas: np.ndarray, sprite: Sprite, x: int, y: int) -> tuple[int, int, int, int] | None:
    """Blend ``sprite`` onto float ``canvas`` with its top-left at (x, y), in place.

    Returns the integer pixel box (x0, y0, x1, y1), exclusive end, of the part that landed
    inside the canvas, or None when the sprite lies wholly outside it.
    """
    h, w = canvas.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + sprite.width, w), min(y + sprite.height, h)
    if x0 >= x1 or y0 >= y1:
        return None
    sub = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    alpha = sprite.alpha[sub][..., None]
    canvas[y0:y1, x0:x1] = sprite.color[sub] + canvas[y0:y1, x0:x1] * (1.0 - alpha)
    ys, xs = np.nonzero(sprite.alpha[sub] > 0)
    if ys.size == 0:
        return None
    return x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1
