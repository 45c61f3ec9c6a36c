"""Draw Easel's app icon: a painting on a wooden easel, on a rounded dusk-blue tile.

    python packaging/draw_icon.py            # writes resources/icons/easel.png (1024x1024)

The PNG is the one source image; the build turns it into .icns (macOS) and .ico (Windows) with Pillow
(packaging/bundle_config.py). Drawn at twice the size and scaled down, for smooth edges.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SIZE = 1024
SCALE = 2
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "resources" / "icons" / "easel.png"


def _vertical_gradient(size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    column = Image.new("RGB", (1, size))
    for y in range(size):
        t = y / (size - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return column.resize((size, size))


def _tile(s: int) -> Image.Image:
    """The rounded square of Apple's icon grid: 824/1024 of the canvas, corner radius 185/1024."""
    margin, radius = round(100 / 1024 * s), round(185 / 1024 * s)
    mask = Image.new("L", (s, s), 0)
    ImageDraw.Draw(mask).rounded_rectangle((margin, margin, s - margin, s - margin), radius, fill=255)
    tile = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    tile.paste(_vertical_gradient(s, (46, 74, 140), (22, 28, 66)), (0, 0), mask)
    return tile


def _shadow(s: int, shapes: list[tuple[str, tuple, dict]]) -> Image.Image:
    layer = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    offset = round(0.012 * s)
    for kind, xy, style in shapes:
        moved = tuple(v + offset for v in xy)
        getattr(draw, kind)(moved, fill=(0, 0, 0, 110), **{k: v for k, v in style.items() if k != "fill"})
    return layer.filter(ImageFilter.GaussianBlur(0.012 * s))


def draw_icon(size: int = SIZE) -> Image.Image:
    s = size * SCALE
    u = s / 1024  # drawing units: the 1024 grid

    def box(*values: float) -> tuple[float, ...]:
        return tuple(v * u for v in values)

    wood, wood_dark = (196, 140, 82), (150, 98, 52)
    legs = [
        ("polygon", box(470, 250, 510, 250, 360, 860, 318, 860), {"fill": wood}),
        ("polygon", box(514, 250, 554, 250, 706, 860, 664, 860), {"fill": wood}),
        ("rectangle", box(492, 210, 532, 300), {"fill": wood_dark}),
        ("rectangle", box(330, 700, 694, 736), {"fill": wood_dark}),
    ]
    canvas_frame = ("rectangle", box(292, 300, 732, 640), {"fill": (250, 246, 236)})
    image = _tile(s)
    image.alpha_composite(_shadow(s, legs + [canvas_frame]))
    draw = ImageDraw.Draw(image)
    for kind, xy, style in legs:
        getattr(draw, kind)(xy, **style)
    draw.rectangle(box(292, 300, 732, 640), fill=(250, 246, 236))
    # The painting: a sunset over hills, inside a thin margin of bare canvas.
    painting = Image.new("RGBA", (round(404 * u), round(304 * u)))
    painting.paste(_vertical_gradient(round(404 * u), (255, 170, 92), (236, 92, 120)).resize(painting.size))
    paint = ImageDraw.Draw(painting)
    px = painting.size[0] / 404
    paint.ellipse(tuple(v * px for v in (226, 70, 330, 174)), fill=(255, 226, 120))
    paint.ellipse(tuple(v * px for v in (-140, 170, 260, 470)), fill=(76, 150, 112))
    paint.ellipse(tuple(v * px for v in (150, 196, 560, 520)), fill=(48, 112, 96))
    image.alpha_composite(painting, (round(310 * u), round(318 * u)))
    draw.rectangle(box(280, 632, 744, 660), fill=wood_dark)  # the ledge the canvas stands on
    # A brush across the lower right: handle, ferrule, a loaded tip.
    draw.line(box(860, 560, 640, 800), fill=(226, 84, 72), width=round(34 * u))
    draw.line(box(640, 800, 600, 843), fill=(200, 204, 214), width=round(38 * u))
    draw.polygon(box(588, 826, 614, 858, 566, 900, 548, 884), fill=(255, 204, 96))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    draw_icon().save(output, optimize=True)
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
