"""Check the screenshot written by the built app: a real PNG of a drawn window.

    python packaging/check_screenshot.py build/package-test.png

Exit 0 when the file is a PNG at least 800x600 whose pixels are not all one colour
(a black or blank window means the canvas never drew), else print why and exit 1.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

MIN_SIZE = (800, 600)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; ValueError when not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def distinct_bytes(data: bytes) -> int:
    """How many distinct byte values the decompressed image data holds (1 for a blank image)."""
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return len(set(raw[::97]))


def check(path: Path) -> str | None:
    """None when the screenshot is fine, else the reason it is not."""
    if not path.is_file():
        return f"{path}: no screenshot written"
    data = path.read_bytes()
    try:
        width, height = png_size(data)
    except ValueError as exc:
        return f"{path}: {exc}"
    if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
        return f"{path}: {width}x{height} is smaller than {MIN_SIZE[0]}x{MIN_SIZE[1]}"
    if distinct_bytes(data) < 16:
        return f"{path}: the image is blank"
    return None


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "build/package-test.png")
    problem = check(path)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"{path}: ok ({path.stat().st_size} bytes, {'x'.join(map(str, png_size(path.read_bytes())))})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
