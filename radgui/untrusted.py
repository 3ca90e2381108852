"""Bounded parsers for text files from outside: YAML and JSON.

Every YAML and JSON document radgui reads from a user or a bundle goes through
here. The limits are on the input (bytes), on the parse (nesting depth, node
count) and on the values (no YAML aliases, integers of at most 64 bits, no
NaN/Infinity tokens in JSON), so a small hostile file costs milliseconds and
kilobytes, never minutes or gigabytes:

- a YAML "billion laughs" alias bomb is refused at its first alias (PyYAML
  expands aliases to shared nodes that every consumer then walks again);
- a document nested thousands deep is refused at ``max_depth`` instead of
  ending in a RecursionError;
- ``1e309``-style integers (hundreds of digits) are refused instead of
  overflowing later in numpy.

Errors are :class:`~radgui.errors.UntrustedInputError`, a ``ValueError``,
with one line naming the source and the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from radgui.errors import UntrustedInputError

MAX_TEXT_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
_MAX_INT_DIGITS = 19  # |n| < 10**19 covers int64 and uint64


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and bounds nesting depth and node count."""

    max_depth = MAX_DEPTH
    max_nodes = MAX_NODES

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in radgui files", mark)
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors (&name) are not allowed in radgui files", event.start_mark)
        self._nodes += 1
        if self._nodes > self.max_nodes:
            raise yaml.composer.ComposerError(None, None, f"more than {self.max_nodes} values", event.start_mark)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {self.max_depth} levels", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node):
        digits = str(node.value).lstrip("+-").replace("_", "")
        if len(digits) > _MAX_INT_DIGITS + 2:  # allow 0x/0o prefixes of 64-bit values
            raise yaml.constructor.ConstructorError(None, None, "integer too large", node.start_mark)
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def load_yaml(text: str | bytes, source: str | Path = "YAML", max_bytes: int = MAX_TEXT_BYTES) -> Any:
    """Parse YAML text with radgui's bounds (no aliases, depth, size, node count).

    Parameters
    ----------
    text : str or bytes
        The document.
    source : str or Path
        Named in the error message (a path or "the YAML editor").
    max_bytes : int
        Largest accepted document.
    """
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > max_bytes:
        raise UntrustedInputError(f"YAML of {size:,} bytes is larger than the {max_bytes:,}-byte limit", source)
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise UntrustedInputError(f"not valid YAML ({_one_line(exc)})", source) from None
    except RecursionError:
        raise UntrustedInputError(f"YAML nested too deeply (limit {MAX_DEPTH})", source) from None


def load_yaml_file(path: str | Path, max_bytes: int = MAX_TEXT_BYTES) -> Any:
    """Read and parse a YAML file with :func:`load_yaml`'s bounds; the size is checked before reading."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UntrustedInputError(f"YAML of {size:,} bytes is larger than the {max_bytes:,}-byte limit", path)
        text = path.read_bytes()
    except OSError as exc:
        from radgui.files import describe_os_error

        raise UntrustedInputError(f"cannot read ({describe_os_error(exc)})", path) from None
    try:
        text = text.decode("utf-8")
    except UnicodeDecodeError:
        raise UntrustedInputError("not UTF-8 text", path) from None
    return load_yaml(text, source=path, max_bytes=max_bytes)


def _depth_check(text: str, max_depth: int) -> None:
    """Refuse JSON nested deeper than ``max_depth`` without recursing (brackets outside strings)."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise ValueError(f"nested deeper than {max_depth} levels")
        elif ch in "]}":
            depth -= 1


def _parse_int(token: str) -> int:
    if len(token.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"integer with {len(token.lstrip('-'))} digits")
    return int(token)


def _parse_float(token: str) -> float:
    value = float(token)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{token[:40]} overflows a float")
    return value


def _parse_constant(token: str):
    raise ValueError(f"{token} is not a JSON number")


def load_json(text: str | bytes, source: str | Path = "JSON", max_bytes: int = MAX_TEXT_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON with bounds: size, nesting depth, 64-bit integers, no NaN/Infinity tokens."""
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise UntrustedInputError(f"JSON of {len(text):,} bytes is larger than the {max_bytes:,}-byte limit", source)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise UntrustedInputError("JSON is not UTF-8 text", source) from None
    elif len(text) > max_bytes:
        raise UntrustedInputError(f"JSON of {len(text):,} characters is larger than the {max_bytes:,} limit", source)
    try:
        _depth_check(text, max_depth)
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except (ValueError, RecursionError) as exc:
        raise UntrustedInputError(f"not valid JSON ({_one_line(exc)})", source) from None
