"""Figures of wires, circles, boxes and labels without matplotlib, for the network diagram.

A ``Sketch`` holds panels; a ``Panel`` takes lines, arrowheads, circles and text in its own data
coordinates (x to the right, y up, limits set like matplotlib's axes: ``set_xlim``, ``set_ylim``,
``set_aspect("equal")``), with the subset of matplotlib's keywords the diagram uses (``color``,
``linewidth``, ``ha``, ``va``, ``fontsize`` in points, ``fontweight``, ``bbox=dict(boxstyle=
"round,pad=…" or "circle,pad=…", facecolor, edgecolor)``). It is written as SVG by hand (every line
of a label one ``<text>`` element, so labels stay searchable and selectable) or drawn as PNG with
Pillow at twice the size and reduced (its antialiasing), in the DejaVu Sans the package ships.
Sizes follow matplotlib's at 100 dpi: a point is 100/72 px.
"""

from __future__ import annotations

import io
import math
from html import escape  # xml.sax.saxutils would import urllib.request: 16 ms at start-up

from . import raster

PX_PER_PT = 100 / 72
LINE_SPACING = 1.2  # matplotlib's: baseline to baseline, in font sizes
ASCENT = 0.76  # DejaVu Sans: baseline below the top of a line, in font sizes
SUPERSAMPLE = 2
HEAD = (9.0, 3.5)  # arrowhead length and half width, px


def color_hex(color):
    """'#rrggbb' of a matplotlib-style colour: a hex string, a grey level '0.55', or a name."""
    if color.startswith("#"):
        return color.lower()
    if color in ("black", "white"):
        return "#000000" if color == "black" else "#ffffff"
    v = round(float(color) * 255)
    return f"#{v:02x}{v:02x}{v:02x}"


def _rgb(color):
    h = color_hex(color)
    return tuple(int(h[i : i + 2], 16) for i in (1, 3, 5))


class Panel:
    """A rectangle of the figure (left, top, width, height in px) with data coordinates inside."""

    def __init__(self, box):
        self.box = box
        self.items: list[tuple] = []
        self.xlim, self.ylim, self.equal = (0.0, 1.0), (0.0, 1.0), False

    # -- matplotlib's names for what the diagram calls ------------------------------------------
    def set_xlim(self, lo, hi):
        self.xlim = (lo, hi)

    def set_ylim(self, lo, hi):
        self.ylim = (lo, hi)

    def set_aspect(self, aspect):
        self.equal = aspect == "equal"

    def axis(self, _off):
        """No axes are ever drawn."""

    def set_title(self, text, fontsize=12):
        self.items.append(("title", text, fontsize))

    def plot(self, xs, ys, color="black", linewidth=1.0, zorder=1):
        self.items.append(("line", list(zip(xs, ys)), color, linewidth))

    def arrow(self, tail, head, color="black", shrink=0.0):
        """An arrowhead on the wire tail → head, its tip ``shrink`` points short of head."""
        self.items.append(("arrow", tail, head, color, shrink))

    def circle(self, x, y, radius, facecolor, edgecolor, linewidth=1.0):
        """A circle of ``radius`` in x units."""
        self.items.append(("circle", x, y, radius, facecolor, edgecolor, linewidth))

    def text(self, x, y, s, color="black", ha="left", va="baseline", fontsize=10, **kw):
        self.items.append(("text", x, y, s, color, ha, va, fontsize, kw))

    # -- layout ---------------------------------------------------------------------------------
    def scale(self):
        """(sx, sy, x offset, y offset): data → px is (left + ox + (x − x0)·sx, top + oy + (y1 − y)·sy)."""
        left, top, w, h = self.box
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        sx, sy = w / (x1 - x0), h / (y1 - y0)
        if not self.equal:
            return sx, sy, 0.0, 0.0
        s = min(sx, sy)
        return s, s, (w - s * (x1 - x0)) / 2, (h - s * (y1 - y0)) / 2

    def to_px(self, x, y):
        sx, sy, ox, oy = self.scale()
        return (
            self.box[0] + ox + (x - self.xlim[0]) * sx,
            self.box[1] + oy + (self.ylim[1] - y) * sy,
        )

    def shapes(self):
        """Every item as pixel-space shapes, in drawing order (wires, then circles, then labels)."""
        order = {"line": 0, "arrow": 0, "circle": 1, "text": 2, "title": 2}
        out = []
        for item in sorted(self.items, key=lambda it: order[it[0]]):
            kind = item[0]
            if kind == "line":
                out.append(
                    ("line", [self.to_px(*p) for p in item[1]], item[2], item[3] * PX_PER_PT)
                )
            elif kind == "arrow":
                out.append(("polygon", self._head(*item[1:3], item[4]), item[3], None))
            elif kind == "circle":
                _, x, y, r, face, edge, lw = item
                cx, cy = self.to_px(x, y)
                out.append(("circle", (cx, cy, r * self.scale()[0]), face, edge, lw * PX_PER_PT))
            elif kind == "title":
                cx = self.box[0] + self.box[2] / 2
                out += text_shapes(
                    cx, self.box[1] - 6, item[1], "black", "center", "bottom", item[2]
                )
            else:
                _, x, y, s, color, ha, va, size, kw = item
                px, py = self.to_px(x, y)
                out += text_shapes(px, py, s, color, ha, va, size, **kw)
        return out

    def _head(self, tail, head, shrink):
        (x0, y0), (x1, y1) = self.to_px(*tail), self.to_px(*head)
        d = math.hypot(x1 - x0, y1 - y0) or 1.0
        ux, uy = (x1 - x0) / d, (y1 - y0) / d
        tx, ty = x1 - ux * shrink * PX_PER_PT, y1 - uy * shrink * PX_PER_PT
        length, half = HEAD
        bx, by = tx - ux * length, ty - uy * length
        return [(tx, ty), (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]


def text_shapes(x, y, s, color, ha, va, fontsize, fontweight="normal", bbox=None, zorder=3):
    """A label's lines (and its box) as shapes: ("box"/"round"/"circle", ...) then ("text", ...)."""
    size = fontsize * PX_PER_PT
    bold = fontweight == "bold"
    lines = s.split("\n")
    widths = [raster.font(max(1, round(size)), bold).getlength(line) for line in lines]
    height = size * (1 + LINE_SPACING * (len(lines) - 1))
    top = {"top": y, "bottom": y - height, "center": y - height / 2}.get(va, y - ASCENT * size)
    width = max(widths)
    left = {"left": x, "right": x - width, "center": x - width / 2}[ha]
    out = []
    if bbox is not None:
        style, _, pad = bbox["boxstyle"].partition(",pad=")
        pad = float(pad or 0.3) * size
        face, edge = bbox.get("facecolor", "white"), bbox.get("edgecolor", "black")
        if style == "circle":
            r = max(width, height) / 2 + pad
            out.append(("circle", (left + width / 2, top + height / 2, r), face, edge, PX_PER_PT))
        else:
            rect = (left - pad, top - pad, left + width + pad, top + height + pad)
            out.append(("round", rect, face, edge, pad))
    for i, line in enumerate(lines):
        baseline = top + ASCENT * size + i * LINE_SPACING * size
        out.append(("text", (x, baseline), line, color, ha, size, bold))
    return out


class Sketch:
    """A white figure of width × height px holding panels."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.panels: list[Panel] = []

    def panel(self, left, top, width, height):
        self.panels.append(Panel((left, top, width, height)))
        return self.panels[-1]

    def shapes(self):
        return [s for p in self.panels for s in p.shapes()]

    def svg(self):
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}">',
            '<rect width="100%" height="100%" fill="#ffffff"/>',
        ]
        out += [_svg(s) for s in self.shapes()]
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def png(self):
        from PIL import Image, ImageDraw

        k = SUPERSAMPLE
        im = Image.new("RGB", (self.width * k, self.height * k), "white")
        draw = ImageDraw.Draw(im)
        for s in self.shapes():
            _paint(draw, s, k)
        im = im.resize((self.width, self.height), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue()


ANCHORS = {"left": "start", "center": "middle", "right": "end"}


def _svg(shape):
    kind = shape[0]
    if kind == "line":
        _, pts, color, width = shape
        points = " ".join(f"{x:.2f},{y:.2f}" for x, y in pts)
        return (
            f'<polyline points="{points}" fill="none" stroke="{color_hex(color)}" '
            f'stroke-width="{width:.2f}"/>'
        )
    if kind == "polygon":
        points = " ".join(f"{x:.2f},{y:.2f}" for x, y in shape[1])
        return f'<polygon points="{points}" fill="{color_hex(shape[2])}"/>'
    if kind == "circle":
        _, (cx, cy, r), face, edge, width = shape
        return (
            f'<circle cx="{cx:.2f}" cy="{cy:.2f}" r="{r:.2f}" fill="{color_hex(face)}" '
            f'stroke="{color_hex(edge)}" stroke-width="{width:.2f}"/>'
        )
    if kind == "round":
        _, (x0, y0, x1, y1), face, edge, radius = shape
        return (
            f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{x1 - x0:.2f}" height="{y1 - y0:.2f}" '
            f'rx="{radius:.2f}" fill="{color_hex(face)}" stroke="{color_hex(edge)}" '
            f'stroke-width="{PX_PER_PT:.2f}"/>'
        )
    _, (x, y), line, color, ha, size, bold = shape
    style = (
        f"fill: {color_hex(color)}; font-size: {size:.2f}px; "
        f"font-family: 'DejaVu Sans', Verdana, sans-serif; text-anchor: {ANCHORS[ha]}"
        + ("; font-weight: bold" if bold else "")
    )
    return (
        f'<text x="{x:.2f}" y="{y:.2f}" style="{escape(style)}">{escape(line, quote=False)}</text>'
    )


def _paint(draw, shape, k):
    kind = shape[0]
    if kind == "line":
        _, pts, color, width = shape
        draw.line(
            [(x * k, y * k) for x, y in pts], fill=_rgb(color), width=max(1, round(width * k))
        )
    elif kind == "polygon":
        draw.polygon([(x * k, y * k) for x, y in shape[1]], fill=_rgb(shape[2]))
    elif kind == "circle":
        _, (cx, cy, r), face, edge, width = shape
        box = [(cx - r) * k, (cy - r) * k, (cx + r) * k, (cy + r) * k]
        draw.ellipse(box, fill=_rgb(face), outline=_rgb(edge), width=max(1, round(width * k)))
    elif kind == "round":
        _, rect, face, edge, radius = shape
        draw.rounded_rectangle(
            [v * k for v in rect],
            radius=radius * k,
            fill=_rgb(face),
            outline=_rgb(edge),
            width=max(1, round(PX_PER_PT * k)),
        )
    else:
        _, (x, y), line, color, ha, size, bold = shape
        font = raster.font(max(1, round(size * k)), bold)
        anchor = {"left": "ls", "center": "ms", "right": "rs"}[ha]
        draw.text((x * k, y * k), line, fill=_rgb(color), font=font, anchor=anchor)
