"""Small pictures drawn with Pillow: a canvas with lines, boxes, text and images, saved as PNG.

The run pictures are simple (two line charts, a heat map and an image grid); drawing them with
Pillow instead of matplotlib keeps `twolayer train` from spending ~0.8 s importing and laying out
figures (Pillow imports in ~20 ms, and only when a picture is drawn). Text is DejaVu Sans at 11 px,
from the copy shipped in ``twolayer/fonts`` (Bitstream Vera licence), so the pictures look the same
in every install, matplotlib or not. Pillow's lines are not
antialiased, so lines and markers are drawn as a coverage mask at 4× size, reduced to 1× and
painted through it. Coordinates are pixels, x to the right and y down, (0, 0) the top-left corner;
a line through (x, y) is centred on pixel (x, y).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

COLORS = {
    "blue": (31, 119, 180),
    "orange": (255, 127, 14),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "grid": (225, 225, 225),
    "white": (255, 255, 255),
}
FONT_PX = 11
AA = 4  # lines and markers are drawn at AA× size and reduced: their antialiasing

_fonts: dict = {}


FONTS = Path(__file__).with_name("fonts")


def font(size=FONT_PX, bold=False):
    """DejaVu Sans (or Bold) at ``size`` px, from the package; Pillow's default font if the file
    cannot be read."""
    key = (size, bold)
    if key not in _fonts:
        from PIL import ImageFont

        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        try:
            _fonts[key] = ImageFont.truetype(str(FONTS / name), size)
        except OSError:
            _fonts[key] = ImageFont.load_default(size=size)
    return _fonts[key]


def text_width(s):
    return int(math.ceil(font().getlength(s)))


class Canvas:
    """An RGB picture on a white background (a Pillow Image), drawn on in place, saved as PNG."""

    def __init__(self, width, height):
        from PIL import Image, ImageDraw

        self.im = Image.new("RGB", (int(width), int(height)), "white")
        self.draw = ImageDraw.Draw(self.im)

    @property
    def width(self):
        return self.im.width

    @property
    def height(self):
        return self.im.height

    def fill(self, x0, y0, x1, y1, color):
        """A filled rectangle covering pixels x0 <= x < x1, y0 <= y < y1."""
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        if x1 > x0 and y1 > y0:
            self.draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=_rgb(color))

    def box(self, x0, y0, x1, y1, color="black"):
        """A 1-pixel rectangle outline around pixels x0 <= x < x1, y0 <= y < y1."""
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        self.draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=_rgb(color))

    def text(self, x, y, s, color="black", ha="left", va="center", rotate=False):
        """Text anchored at (x, y): ha left/center/right, va top/center/bottom; rotate: reads upwards."""
        if not rotate:
            anchor = {"left": "l", "center": "m", "right": "r"}[ha] + {
                "top": "a",
                "center": "m",
                "bottom": "d",
            }[va]
            self.draw.text((round(x), round(y)), s, fill=_rgb(color), font=font(), anchor=anchor)
            return
        from PIL import Image, ImageDraw

        f = font()
        left, _, right, _ = f.getbbox(s, anchor="ls")
        ascent, descent = f.getmetrics()
        left = min(left, 0)
        mask = Image.new("L", (max(right - left, 1), ascent + descent))
        ImageDraw.Draw(mask).text((-left, ascent), s, fill=255, font=f, anchor="ls")
        mask = mask.transpose(Image.Transpose.ROTATE_90)
        w, h = mask.size
        x0 = x - {"left": 0, "center": w / 2, "right": w}[ha]
        y0 = y - {"top": 0, "center": h / 2, "bottom": h}[va]
        self.im.paste(_rgb(color), (int(round(x0)), int(round(y0))), mask)

    def _paint(self, color, points, paint):
        """Paint ``color`` through an antialiased mask drawn by ``paint(draw, to_mask)`` at AA× size
        over the bounding box of ``points`` (x, y pairs, margin included); clipped to the canvas."""
        from PIL import Image, ImageDraw

        xs, ys = points
        bx0, by0 = max(int(math.floor(min(xs))), 0), max(int(math.floor(min(ys))), 0)
        bx1, by1 = (
            min(int(math.ceil(max(xs))) + 1, self.width),
            min(int(math.ceil(max(ys))) + 1, self.height),
        )
        if bx0 >= bx1 or by0 >= by1:
            return
        mask = Image.new("L", ((bx1 - bx0) * AA, (by1 - by0) * AA))

        def to_mask(x, y):  # 1× pixel coordinates → the mask's, pixel centres on pixel centres
            return (AA * (x - bx0) + (AA - 1) / 2, AA * (y - by0) + (AA - 1) / 2)

        paint(ImageDraw.Draw(mask), to_mask)
        self.im.paste(_rgb(color), (bx0, by0), mask.reduce(AA))

    def polyline(self, xs, ys, color, width=1.0, alpha=1.0):
        """An antialiased line through the points, ``width`` pixels wide, with opacity ``alpha``."""
        pts = [
            (float(x), float(y)) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)
        ]
        if not pts:
            return
        r = width / 2 + 1

        def paint(draw, to_mask):
            scaled = [to_mask(x, y) for x, y in pts]
            value = int(round(255 * alpha))
            if len(scaled) > 1:
                draw.line(scaled, fill=value, width=max(1, int(round(width * AA))), joint="curve")
            rr = width * AA / 2
            for cx, cy in (scaled[0], scaled[-1]):  # round caps
                draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=value)

        self._paint(
            color,
            (
                [x - r for x, _ in pts] + [x + r for x, _ in pts],
                [y - r for _, y in pts] + [y + r for _, y in pts],
            ),
            paint,
        )

    def markers(self, xs, ys, color, radius=3.0):
        """Filled antialiased disks of ``radius`` pixels at the points."""
        pts = [
            (float(x), float(y)) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)
        ]
        if not pts:
            return

        def paint(draw, to_mask):
            rr = radius * AA
            for x, y in pts:
                cx, cy = to_mask(x, y)
                draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=255)

        self._paint(
            color,
            (
                [x - radius - 1 for x, _ in pts] + [x + radius + 1 for x, _ in pts],
                [y - radius - 1 for _, y in pts] + [y + radius + 1 for _, y in pts],
            ),
            paint,
        )

    def image(self, pixels, x0, y0, scale=1):
        """Paste an (h, w) gray or (h, w, 3) RGB array with values in [0, 1], each pixel scale × scale."""
        from PIL import Image

        pixels = np.asarray(pixels, np.float64)
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        im = Image.fromarray(np.rint(255 * np.clip(pixels, 0, 1)).astype(np.uint8), "RGB")
        if scale != 1:
            im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
        self.im.paste(im, (int(x0), int(y0)))

    def png(self):
        """PNG bytes; zlib level 1 (the pictures are mostly flat colour: level 6 makes them ~20%
        smaller at twice the time)."""
        buf = io.BytesIO()
        self.im.save(buf, format="PNG", compress_level=1)
        return buf.getvalue()


def _rgb(color):
    c = COLORS.get(color, color) if isinstance(color, str) else color
    return tuple(int(round(v)) for v in c)


def nice_ticks(lo, hi, target=6, integer=False):
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 × a power of ten (whole
    numbers only, with ``integer``: steps of at least 1 and no 2.5)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(
        m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw and not (integer and m == 2.5)
    )
    if integer:
        step = max(1, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def tick_label(v, step):
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and round(step * 10**decimals) % 10 == 5 and decimals == 0 and step < 10:
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

    for ticks, horizontal in (
        (nice_ticks(x_lo, x_hi, 8, integer_x), False),
        (nice_ticks(y_lo, y_hi, 6), True),
    ):
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
        c.polyline(
            X(s["x"]), Y(s["y"]), s["color"], width=s.get("width", 2.0), alpha=s.get("alpha", 1.0)
        )
        if s.get("markers"):
            c.markers(X(s["x"]), Y(s["y"]), s["color"])
    c.box(left, top, right + 1, bottom + 1)
    c.text((left + right) / 2, 14, title, ha="center")
    c.text((left + right) / 2, size[1] - 12, xlabel, ha="center")
    c.text(12, (top + bottom) / 2, ylabel, va="center", ha="center", rotate=True)
    entries = [
        (s["label"], _faded(s["color"], s.get("alpha", 1.0))) for s in series if s.get("label")
    ]
    legend(
        c, entries, right - 8, top + 8 if legend_at == "top" else bottom - 14 - 18 * len(entries)
    )
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


BLUES = np.array(
    [(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)], np.float64
)


def blues(t):
    """matplotlib's Blues colour map, approximated by five stops; t in [0, 1] → RGB 0..255."""
    t = np.clip(np.asarray(t, np.float64), 0, 1) * (len(BLUES) - 1)
    i = np.minimum(np.floor(t).astype(np.intp), len(BLUES) - 2)
    f = (t - i)[..., None]
    return BLUES[i] * (1 - f) + BLUES[i + 1] * f
