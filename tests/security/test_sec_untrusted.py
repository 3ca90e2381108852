"""Bounded YAML/JSON parsing (radgui.untrusted): hostile documents are refused fast, in one line."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest
import yaml

from radgui.errors import UntrustedInputError
from radgui.untrusted import MAX_DEPTH, load_json, load_yaml, load_yaml_file


def _billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_refused_in_milliseconds_and_kilobytes():
    bomb = _billion_laughs()
    assert len(bomb) < 1500
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(UntrustedInputError, match="not allowed"):
        load_yaml(bomb, source="bomb.yaml")
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 5 and peak < 10_000_000
    # PyYAML's own safe_load accepts it: the bound is ours, not the library's.
    doc = yaml.safe_load(_billion_laughs(3))
    assert len(doc["a2"]) == 9 and len(doc["a2"][0]) == 9


def test_plain_alias_refused_with_line_number():
    with pytest.raises(UntrustedInputError) as err:
        load_yaml("base: 1\nother: *base\n", source="cfg.yaml")
    msg = str(err.value)
    assert msg.startswith("cfg.yaml: ") and "aliases" in msg and "line 2" in msg and "\n" not in msg


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deep_nesting_refused(depth):
    text = "[" * depth + "]" * depth
    with pytest.raises(UntrustedInputError, match=f"deeper than {MAX_DEPTH}"):
        load_yaml(text)
    with pytest.raises(UntrustedInputError, match=f"deeper than {MAX_DEPTH}"):
        load_json(text)


def test_nesting_at_the_limit_accepted():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_yaml(text) is not None
    assert load_json(text) is not None


def test_ordinary_documents_parse_as_pyyaml_and_json_do():
    text = "a: 1\nb: [1.5, x, null, true]\nc: {d: -3}\n"
    assert load_yaml(text) == yaml.safe_load(text)
    doc = {"a": 1, "b": [1.5, "x", None, True], "c": {"d": -3}, "e": "]]}{["}
    assert load_json(json.dumps(doc)) == doc
    assert load_json(json.dumps(doc).encode()) == doc


@pytest.mark.parametrize("text, reason", [
    ('{"a": 1' + "0" * 400 + "}", "401 digits"),    # 1e400 as an integer: OverflowError later in numpy
    ('{"a": 1e400}', "overflows"),
    ('{"a": NaN}', "NaN"),
    ('{"a": -Infinity}', "Infinity"),
    ('{"a": ', "not valid JSON"),
])
def test_json_numbers_and_syntax_refused(text, reason):
    with pytest.raises(UntrustedInputError, match=reason):
        load_json(text, source="model.json")


def test_huge_yaml_integer_refused():
    with pytest.raises(UntrustedInputError, match="integer too large"):
        load_yaml("seed: " + "9" * 400)
    assert load_yaml("seed: 18446744073709551615") == {"seed": 2**64 - 1}


def test_size_limit_checked_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: 1\n" * 1000)
    with pytest.raises(UntrustedInputError, match="larger than the 100-byte limit"):
        load_yaml_file(big, max_bytes=100)
    with pytest.raises(UntrustedInputError, match="larger than"):
        load_json(b"[" + b"1," * 100 + b"1]", max_bytes=50)


def test_unreadable_and_binary_files(tmp_path):
    with pytest.raises(UntrustedInputError, match="cannot read"):
        load_yaml_file(tmp_path / "missing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(UntrustedInputError, match="not UTF-8"):
        load_yaml_file(tmp_path / "bin.yaml")
    with pytest.raises(UntrustedInputError, match="cannot read"):
        load_yaml_file(tmp_path)  # a folder
