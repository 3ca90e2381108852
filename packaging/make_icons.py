"""Render the icon set for the desktop build from ``resources/icons/radgui.svg``.

Writes ``packaging/icons/radgui-<N>.png`` (16-512 px, for the freedesktop icon
theme and the Linux build), ``radgui.ico`` (Windows) and ``radgui.icns`` (macOS).
Qt renders the SVG (no ImageMagick/Inkscape needed); Pillow writes ICO and ICNS.

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SVG = HERE.parent / "resources" / "icons" / "radgui.svg"
OUT = HERE / "icons"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - keeps Qt alive
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG}: not a valid SVG")
    OUT.mkdir(exist_ok=True)
    for size in SIZES:
        image = QImage(size, size, QImage.Format_ARGB32)
        image.fill(Qt.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(OUT / f"radgui-{size}.png"))
    big = Image.open(OUT / "radgui-512.png")
    Image.open(OUT / "radgui-256.png").save(OUT / "radgui.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    big.save(OUT / "radgui.icns")
    print(f"wrote {len(SIZES)} PNGs, radgui.ico and radgui.icns to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
