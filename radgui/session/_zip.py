"""Bounded reading of zip archives from outside (session and recovery files).

Every limit is checked on the central directory before a byte is
decompressed, and again while reading (a member that inflates past its
declared size is refused): member count, names (no absolute paths, no
``..``, no duplicates), declared sizes, total size and compression ratio.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from radgui.errors import SessionError

#: Most members a session archive may hold.
MAX_MEMBERS = 512
#: Largest declared uncompressed size of one member.
MAX_MEMBER_BYTES = 1 << 30
#: Largest declared uncompressed size of all members together.
MAX_TOTAL_BYTES = 4 << 30
#: Largest uncompressed / compressed ratio of a member (label maps are stored gzip-compressed already).
MAX_RATIO = 200


class BoundedZip:
    """A zip archive opened for bounded reading; use as a context manager."""

    def __init__(self, path: str | Path, what: str = "session file"):
        self.path = Path(path)
        self.what = what
        if not self.path.is_file():
            raise SessionError(f"{what} not found", self.path)
        try:
            self._zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise SessionError(f"not a radgui {what} (not a readable zip archive: {' '.join(str(exc).split())[:100]})",
                               self.path) from None
        try:
            self._infos = self._check()
        except BaseException:
            self._zf.close()
            raise

    def _fail(self, problem: str):
        raise SessionError(f"{self.what} refused: {problem}", self.path)

    def _check(self) -> dict[str, zipfile.ZipInfo]:
        infos = self._zf.infolist()
        if len(infos) > MAX_MEMBERS:
            self._fail(f"{len(infos)} members, at most {MAX_MEMBERS} allowed")
        out: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name).parts
            if (not name or name.startswith(("/", "\\")) or "\\" in name or ".." in parts
                    or (len(name) > 1 and name[1] == ":")):
                self._fail(f"member name {name[:80]!r} is not a plain relative path")
            if name in out:
                self._fail(f"member {name[:80]!r} appears twice")
            if info.flag_bits & 0x1:
                self._fail(f"member {name[:80]!r} is encrypted")
            if info.file_size > MAX_MEMBER_BYTES:
                self._fail(f"member {name[:80]!r} declares {info.file_size} bytes, over {MAX_MEMBER_BYTES}")
            if info.compress_size > 0 and info.file_size / info.compress_size > MAX_RATIO:
                self._fail(f"member {name[:80]!r} compresses {info.file_size / info.compress_size:.0f}:1, "
                           f"over {MAX_RATIO}:1 (a zip bomb?)")
            if info.compress_size == 0 and info.file_size > 0:
                self._fail(f"member {name[:80]!r} declares {info.file_size} bytes in an empty record")
            total += info.file_size
            out[name] = info
        if total > MAX_TOTAL_BYTES:
            self._fail(f"members declare {total} bytes together, over {MAX_TOTAL_BYTES}")
        return out

    def names(self) -> list[str]:
        return list(self._infos)

    def has(self, name: str) -> bool:
        return name in self._infos

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """A member's bytes, refused when missing, larger than ``max_bytes`` or than it declares."""
        info = self._infos.get(name)
        if info is None:
            self._fail(f"member {name!r} is missing")
        limit = info.file_size if max_bytes is None else min(info.file_size, max_bytes)
        if info.file_size > limit:
            self._fail(f"member {name!r} declares {info.file_size} bytes, over the {limit} allowed")
        try:
            with self._zf.open(info) as fh:
                data = fh.read(limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            self._fail(f"member {name!r} is corrupt ({' '.join(str(exc).split())[:100]})")
        if len(data) > limit:
            self._fail(f"member {name!r} holds more bytes than it declares")
        return data

    def close(self) -> None:
        self._zf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
