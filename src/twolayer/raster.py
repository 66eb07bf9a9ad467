"""Small pictures drawn with NumPy alone: a canvas, lines, boxes, text, and a PNG encoder.

The run pictures are simple (two line charts, a heat map and an image grid); drawing them here
instead of with matplotlib keeps `twolayer train` from spending ~0.8 s importing and laying out
figures. Text uses a bitmap of DejaVu Sans at 11 px (``_font.py``, made by tools/make_font.py).
Coordinates are pixels, x to the right and y down, (0, 0) the top-left corner.
"""
from __future__ import annotations

import base64
import math
import struct
import zlib

import numpy as np

from . import _font

COLORS = {"blue": (31, 119, 180), "orange": (255, 127, 14), "black": (0, 0, 0), "gray": (128, 128, 128),
          "grid": (225, 225, 225), "white": (255, 255, 255)}

_atlas = None


def _glyphs():
    global _atlas
    if _atlas is None:
        flat = np.frombuffer(zlib.decompress(base64.b64decode("".join(_font.ATLAS))), np.uint8)
        atlas = flat.reshape(_font.HEIGHT, -1).astype(np.float64) / 255
        starts = np.concatenate(([0], np.cumsum(_font.WIDTHS)))
        _atlas = {ch: (atlas[:, starts[i]:starts[i + 1]], _font.ADVANCES[i]) for i, ch in enumerate(_font.CHARS)}
    return _atlas


def text_mask(s):
    """Coverage in [0, 1] of the string ``s`` set in one line: shape (font height, width)."""
    glyphs = _glyphs()
    pieces = [glyphs.get(ch, glyphs["?"]) for ch in s]
    starts = np.cumsum([0] + [adv for _, adv in pieces])
    width = max([int(x + g.shape[1]) for x, (g, _) in zip(starts, pieces)] + [int(starts[-1]), 1])
    mask = np.zeros((_font.HEIGHT, width))
    x = 0
    for g, adv in pieces:
        np.maximum(mask[:, x:x + g.shape[1]], g, out=mask[:, x:x + g.shape[1]])
        x += adv
    return mask


def text_width(s):
    return text_mask(s).shape[1]


class Canvas:
    """An RGB picture on a white background, drawn on in place, saved as PNG."""

    def __init__(self, width, height):
        self.rgb = np.full((height, width, 3), 255.0)

    @property
    def width(self):
        return self.rgb.shape[1]

    @property
    def height(self):
        return self.rgb.shape[0]

    def blend(self, mask, color, x0=0, y0=0):
        """Paint ``color`` with opacity ``mask`` (a 2-D array in [0, 1]) placed at (x0, y0); clipped."""
        h, w = mask.shape
        xa, ya = max(x0, 0), max(y0, 0)
        xb, yb = min(x0 + w, self.width), min(y0 + h, self.height)
        if xa >= xb or ya >= yb:
            return
        m = mask[ya - y0:yb - y0, xa - x0:xb - x0, None]
        region = self.rgb[ya:yb, xa:xb]
        region += m * (np.asarray(_rgb(color), np.float64) - region)

    def fill(self, x0, y0, x1, y1, color):
        """A filled rectangle covering pixels x0 <= x < x1, y0 <= y < y1."""
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        self.rgb[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = _rgb(color)

    def box(self, x0, y0, x1, y1, color="black"):
        """A 1-pixel rectangle outline."""
        self.fill(x0, y0, x1, y0 + 1, color)
        self.fill(x0, y1 - 1, x1, y1, color)
        self.fill(x0, y0, x0 + 1, y1, color)
        self.fill(x1 - 1, y0, x1, y1, color)

    def text(self, x, y, s, color="black", ha="left", va="center", rotate=False):
        """Text anchored at (x, y): ha left/center/right, va top/center/bottom; rotate: reads upwards."""
        mask = text_mask(s)
        if rotate:
            mask = np.rot90(mask)
        h, w = mask.shape
        x0 = x - {"left": 0, "center": w / 2, "right": w}[ha]
        y0 = y - {"top": 0, "center": h / 2, "bottom": h}[va]
        self.blend(mask, color, int(round(x0)), int(round(y0)))

    def polyline(self, xs, ys, color, width=1.0, alpha=1.0):
        """An antialiased line through the points: samples every 0.25 px, splatted bilinearly."""
        xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        if len(xs) == 1:
            xs, ys = np.r_[xs, xs], np.r_[ys, ys]
        seg = np.hypot(np.diff(xs), np.diff(ys))
        counts = np.maximum(np.ceil(seg * 4).astype(np.intp), 1)
        start = np.repeat(np.arange(len(seg)), counts)
        t = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) / np.repeat(counts, counts)
        px = xs[start] + t * np.diff(xs)[start]
        py = ys[start] + t * np.diff(ys)[start]
        r = int(math.ceil((width - 1) / 2)) if width > 1 else 0
        # work in the bounding box of the line only
        bx0 = max(int(np.floor(px.min())) - r - 1, 0)
        by0 = max(int(np.floor(py.min())) - r - 1, 0)
        bx1 = min(int(np.ceil(px.max())) + r + 2, self.width)
        by1 = min(int(np.ceil(py.max())) + r + 2, self.height)
        if bx0 >= bx1 or by0 >= by1:
            return
        cov = _splat(px - bx0, py - by0, seg[start] / counts[start], bx1 - bx0, by1 - by0)
        if r:  # thicken: the line's coverage spread over a width × width square
            thick = cov.copy()
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    np.maximum(thick, np.roll(cov, (dy, dx), axis=(0, 1)), out=thick)
            cov = thick
        self.blend(np.minimum(cov, 1) * alpha, color, bx0, by0)

    def markers(self, xs, ys, color, radius=2.5):
        """Filled antialiased disks at the points."""
        r = int(math.ceil(radius)) + 1
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        for x, y in zip(xs, ys):
            fx, fy = x - round(x), y - round(y)
            disk = np.clip(radius + 0.5 - np.hypot(xx - fx, yy - fy), 0, 1)
            self.blend(disk, color, int(round(x)) - r, int(round(y)) - r)

    def image(self, pixels, x0, y0, scale=1):
        """Paste an (h, w) gray or (h, w, 3) RGB array with values in [0, 1], each pixel scale × scale."""
        pixels = np.asarray(pixels, np.float64)
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        big = np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)
        self.rgb[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = 255 * np.clip(big, 0, 1)

    def png(self):
        rgb = np.rint(self.rgb, out=self.rgb.copy())
        return encode_png(np.clip(rgb, 0, 255, out=rgb).astype(np.uint8))


def _splat(px, py, weight, w, h):
    """Coverage of an (h, w) box by sample points, each spread bilinearly over its four pixels."""
    x0, y0 = np.floor(px), np.floor(py)
    fx, fy = px - x0, py - y0
    cov = np.zeros(h * w)
    for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = (x0 + dx).astype(np.intp), (y0 + dy).astype(np.intp)
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        cov += np.bincount(yi[ok] * w + xi[ok], weights=(wt * weight)[ok], minlength=h * w)
    return cov.reshape(h, w)


def _rgb(color):
    return COLORS.get(color, color) if isinstance(color, str) else color


def encode_png(rgb):
    """PNG bytes of an (h, w, 3) uint8 array: 8-bit RGB, no filter, zlib level 1 (the pictures are
    mostly flat colour: level 6 makes them ~20% smaller at twice the time)."""
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def nice_ticks(lo, hi, target=6, integer=False):
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 × a power of ten (whole
    numbers only, with ``integer``: steps of at least 1 and no 2.5)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw and not (integer and m == 2.5))
    if integer:
        step = max(1, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def tick_label(v, step):
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and round(step * 10 ** decimals) % 10 == 5 and decimals == 0 and step < 10:
        decimals = 1
    return f"{v:.{decimals}f}"


def line_chart(series, title, xlabel, ylabel, size=(600, 400), legend_at="top", integer_x=False):
    """A Canvas with axes, grid, ticks, labels, a legend (top or bottom right), one line per series;
    ``integer_x``: x ticks on whole numbers only (epochs).

    series: dicts with x, y, label, color, and optionally width, alpha, markers (bool).
    """
    c = Canvas(*size)
    left, right, top, bottom = 62, size[0] - 14, 30, size[1] - 44
    xs = np.concatenate([np.asarray(s["x"], np.float64) for s in series])
    ys = np.concatenate([np.asarray(s["y"], np.float64) for s in series])
    x_lo, x_hi = _limits(xs)
    y_lo, y_hi = _limits(ys, pad=0.05)

    def X(v):
        return left + (np.asarray(v, np.float64) - x_lo) / (x_hi - x_lo) * (right - left)

    def Y(v):
        return bottom - (np.asarray(v, np.float64) - y_lo) / (y_hi - y_lo) * (bottom - top)

    for ticks, horizontal in ((nice_ticks(x_lo, x_hi, 8, integer_x), False), (nice_ticks(y_lo, y_hi, 6), True)):
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
        for v in ticks:
            if horizontal:
                y = int(round(float(Y(v))))
                c.fill(left, y, right, y + 1, "grid")
                c.fill(left - 4, y, left, y + 1, "black")
                c.text(left - 7, y, tick_label(v, step), ha="right")
            else:
                x = int(round(float(X(v))))
                c.fill(x, top, x + 1, bottom, "grid")
                c.fill(x, bottom, x + 1, bottom + 4, "black")
                c.text(x, bottom + 6, tick_label(v, step), ha="center", va="top")
    for s in series:
        c.polyline(X(s["x"]), Y(s["y"]), s["color"], width=s.get("width", 1.5), alpha=s.get("alpha", 1.0))
        if s.get("markers"):
            c.markers(X(s["x"]), Y(s["y"]), s["color"])
    c.box(left, top, right + 1, bottom + 1)
    c.text((left + right) / 2, 14, title, ha="center")
    c.text((left + right) / 2, size[1] - 12, xlabel, ha="center")
    c.text(12, (top + bottom) / 2, ylabel, va="center", ha="center", rotate=True)
    entries = [(s["label"], _faded(s["color"], s.get("alpha", 1.0))) for s in series if s.get("label")]
    legend(c, entries, right - 8, top + 8 if legend_at == "top" else bottom - 14 - 18 * len(entries))
    return c


def _faded(color, alpha):
    return tuple(255 - alpha * (255 - v) for v in _rgb(color))


def legend(c, entries, x_right, y_top):
    if not entries:
        return
    w = max(text_width(label) for label, _ in entries) + 38
    h = 18 * len(entries) + 6
    x0 = x_right - w
    c.fill(x0, y_top, x_right, y_top + h, "white")
    c.box(x0, y_top, x_right, y_top + h, (200, 200, 200))
    for i, (label, color) in enumerate(entries):
        y = y_top + 12 + 18 * i
        c.fill(x0 + 6, y - 1, x0 + 26, y + 1, color)
        c.text(x0 + 32, y, label)


def _limits(v, pad=0.0):
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    span = hi - lo
    return lo - pad * span, hi + pad * span


BLUES = np.array([(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)], np.float64)


def blues(t):
    """matplotlib's Blues colour map, approximated by five stops; t in [0, 1] → RGB 0..255."""
    t = np.clip(np.asarray(t, np.float64), 0, 1) * (len(BLUES) - 1)
    i = np.minimum(np.floor(t).astype(np.intp), len(BLUES) - 2)
    f = (t - i)[..., None]
    return BLUES[i] * (1 - f) + BLUES[i + 1] * f
