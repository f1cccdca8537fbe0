"""SVG badges in the look of shields.io (its `flat`, `flat-square` and `for-the-badge`
styles), with Kener 2.0's colours.

Text widths are measured: each character's advance width in DejaVu Sans at 11 px, read from
the font files by scripts/measure_font.py into badge_font.json (shields.io measures Verdana
the same way). `textLength` then makes any font the reader has fill exactly that width.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from connexion.lifecycle import ConnexionResponse

from kener_api.pages import ENVIRONMENT, xml_text

FONT = json.loads(Path(__file__).with_name("badge_font.json").read_text(encoding="utf-8"))

STATUS_COLOURS = {"UP": "#00dfa2", "DEGRADED": "#e6ca61", "DOWN": "#ca3038", "NO_DATA": "#9ca3af"}
STATUS_MESSAGES = {"UP": "UP", "DEGRADED": "DEGRADED", "DOWN": "DOWN", "NO_DATA": "NO DATA"}
UPTIME_COLOUR = "#0079FF"
LABEL_COLOUR = "#333"
# shields.io's colour names.
NAMED_COLOURS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "lightgrey": "#9f9f9f",
    "lightgray": "#9f9f9f",
    "grey": "#555",
    "gray": "#555",
    "success": "#4c1",
    "important": "#fe7d37",
    "critical": "#e05d44",
    "informational": "#007ec6",
    "inactive": "#9f9f9f",
}
# Kept by anyone, but asked again before each use: a write shows on the next request, and the
# question costs a 304 when nothing changed (kener_api.public_cache).
CACHE_CONTROL = "public, no-cache"


@dataclass(frozen=True)
class Style:
    height: int
    font_size: int  # px
    padding: float  # each side of a text, px
    radius: int
    gradient: bool
    bold: bool = False
    letter_spacing: float = 0
    upper: bool = False
    baseline: float = 14  # px from the top


STYLES = {
    "flat": Style(height=20, font_size=11, padding=5, radius=3, gradient=True),
    "flat-square": Style(height=20, font_size=11, padding=5, radius=0, gradient=False),
    "for-the-badge": Style(
        height=28,
        font_size=10,
        padding=12,
        radius=0,
        gradient=False,
        bold=True,
        letter_spacing=1.25,
        upper=True,
        baseline=17.5,
    ),
}


def text_width(text: str, style: Style) -> float:
    """The width of `text` in px as `style` draws it."""
    table = FONT["bold" if style.bold else "regular"]
    widths, fallback = table["widths"], table["fallback"]
    at_11px = sum(widths.get(character, fallback) for character in text)
    return round(at_11px * style.font_size / FONT["size_px"] + style.letter_spacing * len(text), 1)


def colour(value: str | None, default: str) -> str:
    """A colour parameter (hex with or without `#`, or a shields.io name; openapi.yaml
    validates it) as a hex colour."""
    if not value:
        return default
    if value.lower() in NAMED_COLOURS:
        return NAMED_COLOURS[value.lower()]
    return "#" + value.lstrip("#").lower()


def _luminance(hex_colour: str) -> float:
    """WCAG 2's relative luminance."""
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = []
    for i in (0, 2, 4):
        c = int(digits[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def _is_light(hex_colour: str) -> bool:
    """Whether dark text (#333) contrasts more with `hex_colour` than white does."""
    background = _luminance(hex_colour)
    return (background + 0.05) / (_luminance("#333") + 0.05) > 1.05 / (background + 0.05)


@dataclass(frozen=True)
class _Side:
    text: str
    color: str
    width: float
    x: float
    text_width: float

    @property
    def centre(self) -> float:
        return self.x + self.width / 2

    @property
    def fill(self) -> str:
        return "#333" if _is_light(self.color) else "#fff"

    @property
    def shadow(self) -> str:
        return "#ccc" if _is_light(self.color) else "#010101"


@dataclass(frozen=True)
class _Badge:
    label: str
    message: str
    left: _Side
    right: _Side
    style: Style

    def __getattr__(self, name):  # the style's properties, for the template
        return getattr(self.style, name)

    @property
    def width(self) -> float:
        return self.left.width + self.right.width


def badge(label: str, message: str, color: str, label_color: str, style: str) -> str:
    """The SVG text of a two-part badge."""
    shape = STYLES[style]
    label, message = xml_text(label), xml_text(message)
    if shape.upper:
        label, message = label.upper(), message.upper()
    sides = []
    x = 0.0
    for text, fill in ((label, label_color), (message, color)):
        measured = text_width(text, shape)
        width = round(measured + 2 * shape.padding, 1)
        sides.append(_Side(text, fill, width, x, measured))
        x += width
    return _render("badges/badge.svg", b=_Badge(label, message, sides[0], sides[1], shape))


def dot(status: str, label: str, ping: bool) -> str:
    """A 32 x 32 circle in the status colour."""
    return _render("badges/dot.svg", color=STATUS_COLOURS[status], label=xml_text(label), ping=ping)


@cache
def _template(name: str):
    return ENVIRONMENT.get_template(name)


# Coordinates in tenths of a pixel, as shields.io writes them (text drawn at scale .1).
ENVIRONMENT.filters["tenths"] = lambda px: round(px * 10)


def _render(name: str, **context) -> str:
    return _template(name).render(**context)


def svg_response(svg: str) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=200,
        body=svg.encode(),
        content_type="image/svg+xml",
        mimetype="image/svg+xml",
        headers={"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"},
    )


def window_label(seconds: int) -> str:
    """Kener's: `90d`, `12h`, `30m`, else seconds."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
