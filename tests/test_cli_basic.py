"""Every exit path of `radgui`, `radgui view` and `radgui demo` (without a window)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from radgui import RESEARCH_NOTICE, __version__
from radgui.cli import main


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "radgui", *args], capture_output=True, text=True, timeout=timeout)


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"radgui {__version__}"


def test_help_lists_commands_and_notice():
    out = run_cli("--help")
    assert out.returncode == 0
    assert "demo" in out.stdout and "view" in out.stdout
    assert RESEARCH_NOTICE.split(",")[0] in " ".join(out.stdout.split())


def test_subcommand_help():
    out = run_cli("view", "--help")
    assert out.returncode == 0 and "--label" in out.stdout and "--screenshot" in out.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["view", "missing.nrrd"], "missing.nrrd: no such file or folder"),
        (["view", "{junk}"], "cannot read the image"),
        (["view", "{image}", "--label", "nolabel.nrrd"], "nolabel.nrrd: no such file"),
        (["view", "{image}", "--screenshot", "{tmp}/shot.jpg"], "screenshot must be a .png"),
        (["view", "{image}", "--screenshot", "{tmp}/nodir/shot.png"], "folder for the screenshot does not exist"),
        (["demo", "--screenshot", "{tmp}/nodir/shot.png"], "folder for the screenshot does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, expected):
    import numpy as np
    import SimpleITK as sitk

    junk = tmp_path / "junk.nrrd"
    junk.write_bytes(b"not an image")
    image = tmp_path / "img.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 5), np.int16)), str(image))
    args = [a.format(junk=junk, image=image, tmp=tmp_path) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exc_info:
        main(["frobnicate"])
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and len(err.strip().splitlines()) == 1


def test_bad_path_in_a_real_process_has_no_traceback():
    out = run_cli("view", "/nonexistent/ct.nrrd")
    assert out.returncode == 2
    assert out.stderr.strip() == "radgui view: error: /nonexistent/ct.nrrd: no such file or folder"


def test_name_value_options_share_one_parser():
    from radgui.cli._args import parse_pairs
    from radgui.errors import RadguiError

    assert parse_pairs([" ecog = 1", "nlr=4.2", "ecog=2"], "--clinical") == {"ecog": "2", "nlr": "4.2"}
    assert parse_pairs(None, "--roi") == {}
    with pytest.raises(RadguiError, match="--roi 'ring.nrrd' must look like NAME=MASK"):
        parse_pairs(["ring.nrrd"], "--roi", "MASK")
    with pytest.raises(RadguiError, match="--clinical '=3' has no name"):
        parse_pairs(["=3"], "--clinical")


def test_bad_roi_option_exits_2_naming_it(tmp_path, capsys):
    import numpy as np
    import SimpleITK as sitk

    image = tmp_path / "ct.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 5), np.int16)), str(image))
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((3, 4, 5), np.uint8)), str(tmp_path / "m.nrrd"))
    assert main(["extract", "--image", str(image), "--mask", str(tmp_path / "m.nrrd"), "--roi", "ring.nrrd",
                 "-o", str(tmp_path / "f.csv")]) == 2
    assert "--roi 'ring.nrrd' must look like NAME=MASK" in capsys.readouterr().err


def test_float_tuple_parses_n_numbers_and_names_them_in_the_error():
    """One parser for `--seed z,y,x` (radgui roi) and `--ct-window lo,hi` (radgui petct)."""
    import argparse

    from radgui.cli._args import float_tuple

    zyx = float_tuple(3, "three numbers z,y,x")
    assert zyx(" 1, 2.5,-3") == (1.0, 2.5, -3.0)
    for bad in ("1,2", "1,2,3,4", "a,b,c", ""):
        with pytest.raises(argparse.ArgumentTypeError, match=r"^expected three numbers z,y,x, got "):
            zyx(bad)
