"""Writes kener_api/badge_font.json: the advance width of each character of DejaVu Sans and
DejaVu Sans Bold at 11 px, read from the font files, for badges whose text widths are measured
rather than guessed (as shields.io measures Verdana). Run again only to change the font or the
characters covered:

    pip install fonttools && python scripts/measure_font.py /usr/share/fonts/truetype/dejavu
"""

import json
import sys
from pathlib import Path

from fontTools.ttLib import TTFont

SIZE_PX = 11
# Printable ASCII, Latin-1, Latin Extended-A/B, general punctuation, arrows and a few symbols:
# anything else is measured as the font's widest common glyph ("W"), never narrower.
RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x2010, 0x2027), (0x2190, 0x21FF), (0x2713, 0x2717)]
OUTPUT = Path(__file__).resolve().parents[1] / "kener_api" / "badge_font.json"


def widths(path: Path) -> dict:
    font = TTFont(path)
    scale = SIZE_PX / font["head"].unitsPerEm
    cmap = font.getBestCmap()
    metrics = font["hmtx"].metrics
    table = {}
    for first, last in RANGES:
        for code in range(first, last + 1):
            glyph = cmap.get(code)
            if glyph is not None:
                table[chr(code)] = round(metrics[glyph][0] * scale, 3)
    return {"fallback": table["W"], "widths": table}


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/dejavu")
    fonts = {
        "font": "DejaVu Sans",
        "size_px": SIZE_PX,
        "regular": widths(folder / "DejaVuSans.ttf"),
        "bold": widths(folder / "DejaVuSans-Bold.ttf"),
    }
    OUTPUT.write_text(json.dumps(fonts, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{OUTPUT}: {len(fonts['regular']['widths'])} characters")


if __name__ == "__main__":
    main()
