"""Every file radgui writes goes through here: atomic writes, all-or-nothing appends, manifests.

A write goes to a hidden temporary file in the target's own folder (so the
rename cannot cross a file system), is flushed and ``fsync``-ed, and is then
renamed over the target with :func:`os.replace`, which POSIX and Windows make
atomic; the folder is ``fsync``-ed too so the rename survives a power cut. A
reader therefore sees the previous file or the new one, never half of either,
whatever happens in between: ``kill -9``, a full disk, an exception in the
code producing the content. On failure the temporary file is removed and the
error names the target and the reason.

Temporary names are ``.~<random>.<name>``: they keep the target's suffixes
(SimpleITK and matplotlib choose the format from them) and start with a dot,
so a half-written file never looks like a finished one. A process killed
mid-write can leave one behind; :func:`remove_stale_temporaries` clears them.

A set of outputs that belong together (a model bundle, its report and its
metrics) carries a manifest of their SHA-256 hashes, written last
(:func:`write_manifest`), so a mixed set is detectable (:func:`verify_manifest`);
:func:`output_set` stages such a set and commits it in that order.

Only the standard library is used: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from radgui.errors import OutputFileError

TEMP_PREFIX = ".~"
MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = 1


def _temporary_name(path: Path) -> Path:
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}.{path.name}")


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_os_error(exc: OSError) -> str:
    """A short reason for an OSError, in words: 'disk full', 'permission denied', ..."""
    words = {
        errno.ENOSPC: "disk full",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOENT: "folder does not exist",
        errno.ENOTDIR: "not a folder",
        errno.EISDIR: "is a folder",
    }
    return words.get(exc.errno, exc.strerror or type(exc).__name__)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it becomes ``path`` atomically.

    Use it for libraries that want a file name (``sitk.WriteImage``,
    ``figure.savefig``, ``Dataset.save_as``, ``zipfile.ZipFile``). The
    temporary name keeps ``path``'s suffixes. If the body raises, or the
    content cannot be flushed to disk, the temporary file is removed, ``path``
    is left exactly as it was and :class:`~radgui.errors.OutputFileError`
    (for OS errors) or the body's own exception propagates.
    """
    path = Path(path)
    tmp = _temporary_name(path)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        if isinstance(exc, OutputFileError):
            raise
        raise OutputFileError(
            f"cannot write ({describe_os_error(exc)}); the previous file, if any, is unchanged", path
        ) from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open a file for writing that replaces ``path`` atomically when the block ends cleanly.

    ``mode`` is ``"w"`` (text, ``encoding``) or ``"wb"``. See :func:`atomic_path`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj, **dumps_kwargs) -> Path:
    """Write ``obj`` as JSON (indent 2 unless given) to ``path`` atomically."""
    dumps_kwargs.setdefault("indent", 2)
    return write_text(path, json.dumps(obj, **dumps_kwargs) + "\n")


def write_csv(path: str | os.PathLike, frame, **to_csv_kwargs) -> Path:
    """Write a pandas DataFrame/Series as CSV to ``path`` atomically (``to_csv`` keywords pass through)."""
    with atomic_write(path, "w", newline="") as handle:
        frame.to_csv(handle, **to_csv_kwargs)
    return Path(path)


def append_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Append ``text`` to ``path`` all-or-nothing (the file is created if missing).

    The bytes go out in one ``O_APPEND`` write loop followed by ``fsync``; if
    any write fails (a full disk) the file is truncated back to its previous
    length before the error propagates, so a failed append leaves no partial
    line. A ``kill -9`` in the middle of the loop can still leave a torn tail:
    readers of append-only files call :func:`drop_torn_tail` first.
    """
    path = Path(path)
    data = text.encode(encoding)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
                os.fsync(fd)
            raise OutputFileError(f"cannot append ({describe_os_error(exc)}); nothing of this row was kept", path) from exc
    finally:
        os.close(fd)


def drop_torn_tail(path: str | os.PathLike) -> int:
    """Cut an append-only text file back to its last complete line; returns the bytes removed.

    A line is complete when it ends in ``\\n``. Files radgui appends to always
    end in one after a successful append, so anything after the last newline
    is the torn remains of an interrupted write.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with open(path, "rb+") as handle:
        block = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            if end == size and chunk.endswith(b"\n"):
                return 0
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        else:
            keep = 0
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return size - keep


def check_writable(folder: str | os.PathLike) -> Path:
    """Prove a file can be written in ``folder`` before long work starts; nothing is left behind.

    A folder that does not exist yet is not created (a refused run leaves no
    empty folder): its nearest existing parent must accept a new file, and
    the folder is made when the outputs are written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputFileError("output folder is not writable (not a folder)", folder)
    probe_dir = folder
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    try:
        if not probe_dir.is_dir():
            raise NotADirectoryError(20, "not a folder")
        probe = _temporary_name(probe_dir / "write-probe")
        with open(probe, "wb") as handle:
            handle.write(b"radgui")
            handle.flush()
            os.fsync(handle.fileno())
        probe.unlink()
    except OSError as exc:
        raise OutputFileError(f"output folder is not writable ({describe_os_error(exc)})", folder) from exc
    return folder


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files an interrupted write left in ``folder``; returns what was removed."""
    removed = []
    for tmp in Path(folder).glob(f"{TEMP_PREFIX}*"):
        if tmp.is_file():
            _unlink_quietly(tmp)
            removed.append(tmp)
    return removed


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: str | os.PathLike, names: Sequence[str], manifest_name: str = MANIFEST_NAME) -> Path:
    """Write (last, atomically) a manifest of the SHA-256 and size of ``names`` in ``folder``."""
    folder = Path(folder)
    files = {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size} for name in names}
    return write_json(folder / manifest_name, {"schema_version": MANIFEST_SCHEMA, "files": files})


def verify_manifest(folder: str | os.PathLike, manifest_name: str = MANIFEST_NAME) -> list[str]:
    """Problems with a set of outputs, one line each (empty: the set is complete and consistent)."""
    folder = Path(folder)
    try:
        doc = json.loads((folder / manifest_name).read_text(encoding="utf-8"))
        files = doc["files"]
    except FileNotFoundError:
        return [f"{manifest_name} is missing: the set of outputs was not finished"]
    except (ValueError, KeyError, TypeError):
        return [f"{manifest_name} is unreadable"]
    problems = []
    for name, entry in files.items():
        target = folder / name
        if not target.is_file():
            problems.append(f"{name} is missing")
        elif sha256_file(target) != entry.get("sha256"):
            problems.append(f"{name} does not match the manifest (written by another run)")
    return problems


class OutputSet:
    """Files staged by :func:`output_set`; :meth:`path` gives where to write each one."""

    def __init__(self, folder: Path, manifest_name: str):
        self.folder = folder
        self.manifest_name = manifest_name
        self.staged: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        """Temporary path (keeping ``name``'s suffixes) to write the output ``name`` to."""
        if Path(name).name != name or name == self.manifest_name or name.startswith(TEMP_PREFIX):
            raise ValueError(f"output name {name!r} must be a plain file name other than the manifest")
        if name not in self.staged:
            self.staged[name] = _temporary_name(self.folder / name)
        return self.staged[name]

    def target(self, name: str) -> Path:
        """Where ``name`` ends up once the set is committed."""
        return self.folder / name


@contextlib.contextmanager
def output_set(folder: str | os.PathLike, manifest_name: str = MANIFEST_NAME) -> Iterator[OutputSet]:
    """Write a set of outputs that replace the previous set together, then their manifest.

    The body writes each output to ``outputs.path(name)`` (temporary names in
    ``folder``). Only when the body ends cleanly are they flushed to disk, the
    previous manifest removed, every output renamed over its target and the new
    manifest written last. So whenever the process dies, ``folder`` holds the
    previous set with its manifest, or the new set with its manifest, or (for
    the few system calls in between) a mixture with *no* manifest, which
    :func:`verify_manifest` reports as unfinished; never a mixture that
    verifies. Files of the previous set the new one lacks are left alone and
    are not in the new manifest.

    Once the set is committed, temporary files that an earlier, killed run left
    for the same output names (``.~*.<name>``) are removed; other files are not
    touched.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFileError(f"cannot create the output folder ({describe_os_error(exc)})", folder) from exc
    outputs = OutputSet(folder, manifest_name)
    current = folder
    replacing = False
    try:
        yield outputs
        missing = [name for name, tmp in outputs.staged.items() if not tmp.is_file()]
        if missing:
            raise OutputFileError(f"output {missing[0]} was never written; the previous set is unchanged", folder)
        for name, tmp in outputs.staged.items():
            current = folder / name
            _fsync_file(tmp)
        current = folder / manifest_name
        replacing = True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(current)
        _fsync_folder(folder)
        for name, tmp in outputs.staged.items():
            current = folder / name
            os.replace(tmp, current)
        _fsync_folder(folder)
        current = folder / manifest_name
        write_manifest(folder, list(outputs.staged), manifest_name)
        for name in outputs.staged:
            for stale in folder.glob(f"{glob.escape(TEMP_PREFIX)}*.{glob.escape(name)}"):
                _unlink_quietly(stale)
    except OSError as exc:
        for tmp in outputs.staged.values():
            _unlink_quietly(tmp)
        if isinstance(exc, OutputFileError) and not replacing:
            target = next((folder / name for name, tmp in outputs.staged.items() if exc.path == tmp), None)
            if target is None:
                raise
            raise OutputFileError(exc.reason, target) from exc.__cause__  # name the output, not its temporary
        state = ("the set is incomplete and has no manifest" if replacing
                 else "the previous set is unchanged")
        cause = exc.__cause__ if isinstance(exc, OutputFileError) and isinstance(exc.__cause__, OSError) else exc
        raise OutputFileError(f"cannot write ({describe_os_error(cause)}); {state}", current) from exc
    except BaseException:
        for tmp in outputs.staged.values():
            _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
