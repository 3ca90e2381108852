"""De-identification of exported DICOM objects: the PS3.15 Annex E Basic Profile, whole table.

radgui writes DICOM objects (DICOM-SEG) derived from the user's images. Unless
the user opts in to keep identifying information, :func:`deidentify` applies
the Basic Application Level Confidentiality Profile of DICOM PS3.15
(edition 2024b, Annex E, Table E.1-1) to every attribute that table lists,
at any nesting depth, with two options:

* **Retain UIDs Option** (E.3.9, CID 7050 code 113110): attributes with the
  basic action ``U`` (Study, Series, SOP, Frame of Reference UIDs, ...) are
  kept, so the exported segmentation still references the images it was drawn
  on; sequences with action ``X/Z/U*`` (Referenced/Source Image Sequence) are
  kept and their items cleaned like the rest;
* **Retain Longitudinal Temporal Information with Modified Dates Option**
  (E.3.6, code 113107): every date (DA) and date-time (DT) in the data set,
  listed in the table or not, is shifted by one per-patient offset of whole
  days (between 1 and 10 years into the past), so intervals between studies
  of one patient survive but no calendar date does. Times of day (TM) are
  kept; the patient's birth date and time are not modified dates but follow
  the basic profile (emptied / removed). The offset is an HMAC of the patient
  ID under a per-installation secret (:func:`date_offset_days`), so it is
  stable for one patient and cannot be recomputed without the secret.

Everything else follows the basic profile: ``X`` removed, ``Z`` emptied,
``D`` replaced by a dummy value of its VR; the combined codes take their
first letter (``X/Z``, ``X/D``, ``X/Z/D`` remove; ``Z/D`` empties) unless
the attribute is Type 1 in the SEG IOD (then the dummy, see
:data:`TYPE1_IN_SEG`). All private attributes are removed. The result
carries PatientIdentityRemoved = YES, LongitudinalTemporalInformationModified
= MODIFIED, DeidentificationMethod and DeidentificationMethodCodeSequence
(113100, 113107, 113110).

:func:`identifying_attributes` is the independent self-check: it walks the
whole data set and names every attribute that still holds what the profile
removes (and, given the source data sets, every value copied from them).

Reference: DICOM PS3.15 2024b, Annex E, Table E.1-1 (620 rows; the rows are
transcribed below as tag and basic-profile action; ``xx`` marks the repeating
groups of curves (50xx) and overlays (60xx)).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

#: Edition of PS3.15 whose Table E.1-1 is transcribed here.
STANDARD_EDITION = "DICOM PS3.15 2024b Table E.1-1"

# tag (GGGGEEEE, xx = repeating group) and Basic Profile action, PS3.15 2024b Table E.1-1
_TABLE_E1_1 = """
00001000 X          00001001 U          00020003 U          00041511 U          00080012 X/D        00080013 X/Z/D
00080014 U          00080015 X          00080017 U          00080018 U          00080019 U          00080020 Z
00080021 X/D        00080022 X/Z        00080023 Z/D        00080024 X          00080025 X          0008002A X/Z/D
00080030 Z          00080031 X/D        00080032 X/Z        00080033 Z/D        00080034 X          00080035 X
00080050 Z          00080054 X          00080055 X          00080058 U          00080080 X/Z/D      00080081 X
00080082 X/Z/D      00080090 Z          00080092 X          00080094 X          00080096 X          0008009C Z
0008009D X          00080106 D          00080107 D          00080201 X          00081000 X          00081010 X/Z/D
00081030 X          0008103E X          00081040 X          00081041 X          00081048 X          00081049 X
00081050 X          00081052 X          00081060 X          00081062 X          00081070 X/Z/D      00081072 X/D
00081080 X          00081084 X          00081088 X          00081110 X/Z        00081111 X/Z/D      00081120 X
00081140 X/Z/U*     00081155 U          00081195 U          00082111 X          00082112 X/Z/U*     00083010 U
00084000 X          00100010 Z          00100020 Z/D        00100021 X          00100030 Z          00100032 X
00100040 Z          00100050 X          00100101 X          00100102 X          00101000 X          00101001 X
00101002 X          00101005 X          00101010 X          00101020 X          00101030 X          00101040 X
00101050 X          00101060 X          00101080 X          00101081 X          00101090 X          00101100 X
00102000 X          00102110 X          00102150 X          00102152 X          00102154 X          00102155 X
00102160 X          00102180 X          001021A0 X          001021B0 X          001021C0 X          001021D0 X
001021F0 X          00102203 X/Z        00102297 X          00102299 X          00104000 X          00120010 D
00120020 D          00120021 Z          00120022 X          00120023 X          00120030 Z          00120031 Z
00120032 X          00120040 D          00120041 X          00120042 D          00120043 X          00120050 Z
00120051 X          00120055 X          00120060 Z          00120071 X          00120072 X          00120073 X
00120081 D          00120082 X          00120086 X          00120087 X          0014407C X          0014407E X
0016002B X          0016004B X          0016004D X          0016004E X          0016004F X          00160050 X
00160051 X          00160070 X          00160071 X          00160072 X          00160073 X          00160074 X
00160075 X          00160076 X          00160077 X          00160078 X          00160079 X          0016007A X
0016007B X          0016007C X          0016007D X          0016007E X          0016007F X          00160080 X
00160081 X          00160082 X          00160083 X          00160084 X          00160085 X          00160086 X
00160087 X          00160088 X          00160089 X          0016008A X          0016008B X          0016008C X
0016008D X          0016008E X          00180010 Z/D        00180027 X          00180035 X          00181000 X/Z/D
00181002 U          00181004 X          00181005 X          00181007 X          00181008 X          00181009 X
0018100A X          0018100B U          00181012 X          00181014 X          00181030 X/D        00181042 X
00181043 X          00181072 X          00181073 X          00181078 X          00181079 X          001811BB D
00181200 X          00181201 X          00181202 X          00181203 Z          00181204 X          00181205 X
00181400 X/D        00182042 U          00184000 X          00185011 X          0018700A X/D        0018700C X/D
0018700E X/D        00189074 D          00189151 D          00189185 X          00189367 D          00189369 D
0018936A D          00189371 D          00189373 X          0018937B X          0018937F X          00189424 X
00189516 X/D        00189517 X/D        00189623 D          00189701 D          00189804 D          00189919 Z/D
00189937 X          0018A002 X          0018A003 X          0020000D U          0020000E U          00200010 Z
00200027 X          00200052 U          00200200 U          00203401 X          00203403 X          00203405 X
00203406 X          00204000 X          00209158 X          00209161 U          00209164 U          00281199 U
00281214 U          00284000 X          00320012 X          00320032 X          00320033 X          00320034 X
00320035 X          00321000 X          00321001 X          00321010 X          00321011 X          00321020 X
00321021 X          00321030 X          00321032 X          00321033 X          00321040 X          00321041 X
00321050 X          00321051 X          00321060 X/Z        00321066 X          00321067 X          00321070 X
00324000 X          00340001 D          00340002 D          00340005 D          00340007 D          00380004 X
00380010 X          00380011 X          00380014 X          0038001A X          0038001B X          0038001C X
0038001D X          0038001E X          00380020 X          00380021 X          00380030 X          00380032 X
00380040 X          00380050 X          00380060 X          00380061 X          00380062 X          00380064 X
00380300 X          00380400 X          00380500 X          00384000 X          003A0310 U          003A0314 D
003A0329 X          003A032B X          00400001 X          00400002 X          00400003 X          00400004 X
00400005 X          00400006 X          00400007 X          00400009 X          0040000B X          00400010 X
00400011 X          00400012 X          00400241 X          00400242 X          00400243 X          00400244 X
00400245 X          00400250 X          00400251 X          00400253 X          00400254 X          00400275 X
00400280 X          00400310 X          0040050A X          00400512 D          00400513 Z          0040051A X
00400551 D          00400554 U          00400555 X/Z        00400562 Z          00400600 X          00400602 X
00400610 Z          004006FA X          00401001 X          00401002 X          00401004 X          00401005 X
0040100A X          00401010 X          00401011 X          00401101 D          00401102 X          00401103 X
00401104 X          00401400 X          00402001 X          00402004 X          00402005 X          00402008 X
00402009 X          00402010 X          00402011 X          00402016 Z          00402017 Z          00402400 X
00403001 X          00404005 X          00404008 X          00404010 X          00404011 X          00404023 U
00404025 X          00404027 X          00404028 X          00404030 X          00404034 X          00404035 X
00404036 X          00404037 X          00404050 X          00404051 X          00404052 X          0040A023 X
0040A024 X          0040A027 D          0040A030 D          0040A032 X/D        0040A033 X          0040A073 D
0040A075 D          0040A078 X          0040A07A X          0040A07C X          0040A082 Z          0040A088 Z
0040A110 X          0040A112 X          0040A120 D          0040A121 D          0040A122 D          0040A123 D
0040A124 U          0040A13A D          0040A171 U          0040A172 U          0040A192 X          0040A193 X
0040A307 X          0040A352 X          0040A353 X          0040A354 X          0040A358 X          0040A402 U
0040A730 D          0040DB06 X          0040DB07 X          0040DB0C U          0040DB0D U          0040E004 X
00420011 D          00440004 X          0044000B X          00440010 X          00440104 D          00440105 X
0050001B X          00500020 X          00500021 X          00620021 U          00640003 U          00686226 D
00686270 D          006A0003 D          006A0005 D          006A0006 X          00700001 D          00700082 X
00700083 X          00700084 Z/D        00700086 X          0070031A U          00701101 U          00701102 U
0072000A D          0072005E D          0072005F D          00720061 D          00720063 D          00720065 D
00720066 D          00720068 D          0072006A D          0072006B D          0072006C D          0072006D D
0072006E D          00720070 D          00720071 D          00741234 X          00741236 X          00880140 U
00880200 X          00880904 X          00880906 X          00880910 X          00880912 X          01000420 X
04000100 U          04000105 D          04000115 D          04000310 X          04000402 X          04000403 X
04000404 X          04000550 X          04000551 X          04000552 X          04000561 X          04000562 D
04000563 D          04000564 Z          04000565 D          04000600 X          20300020 X          21000040 X
21000050 X          21000070 X          21000140 D          22000002 X/Z        22000005 X/Z        30020121 X
30020123 X          30060002 D          30060004 X          30060006 X          30060008 Z          30060009 Z
30060024 U          30060026 Z          30060028 X          3006002D X          3006002E X          30060038 X
3006004D X          3006004E X          30060085 X          30060088 X          300600A6 Z          300600C2 U
30080024 D          30080025 D          30080054 X/D        30080056 X/D        30080105 X/Z        30080162 D
30080164 D          30080166 D          30080168 D          30080250 X/D        30080251 X/D        300A0002 D
300A0003 X          300A0004 X          300A0006 X/D        300A0007 X/D        300A000B X          300A000E X
300A0013 U          300A0016 X          300A0072 X          300A0083 U          300A00B2 X/Z        300A00C3 X
300A00DD X          300A0196 X          300A01A6 X          300A01B2 X          300A0216 X          300A022C D
300A022E D          300A02EB X          300A0608 D          300A0609 U          300A0611 Z          300A0615 Z
300A0619 D          300A0623 D          300A062A D          300A0650 U          300A0676 X          300A067C D
300A067D Z          300A0700 U          300A0734 D          300A0736 D          300A073A D          300A0741 D
300A0742 D          300A0760 D          300A0783 D          300A0785 U          300A078E X          300A0792 X
300A0794 X          300A079A X          300C0113 X          300C0127 D          300E0004 Z          300E0005 Z
300E0008 X/Z        30100006 U          3010000B U          3010000F Z          30100013 U          30100015 U
30100017 Z          3010001B Z          3010002D D          30100031 U          30100033 D          30100034 D
30100035 D          30100036 X          30100037 X          30100038 D          3010003B U          30100043 Z
3010004C X/D        3010004D X/D        30100054 D          30100056 X/D        3010005A Z          3010005C Z
30100061 X          3010006E U          3010006F U          30100077 X/D        3010007A Z          3010007B Z
3010007F Z          30100081 Z          30100085 X          40000010 X          40004000 X          40080040 X
40080042 X          40080100 X          40080101 X          40080102 X          40080108 X          40080109 X
4008010A X          4008010B X          4008010C X          40080111 X          40080112 X          40080113 X
40080114 X          40080115 X          40080118 X          40080119 X          4008011A X          40080200 X
40080202 X          40080300 X          40084000 X          50xxxxxx X          60xx3000 X          60xx4000 X
FFFAFFFA X          FFFCFFFC X
"""

#: Number of rows of Table E.1-1 (2024b).
TABLE_ROWS = 620


def _parse_table(text: str) -> tuple[dict[int, str], dict[tuple[int, int | None], str]]:
    exact: dict[int, str] = {}
    repeating: dict[tuple[int, int | None], str] = {}
    tokens = text.split()
    for key, action in zip(tokens[::2], tokens[1::2]):
        if "xx" in key:
            group = int(key[:2], 16) << 8
            elem = None if key[4:] == "xxxx" else int(key[4:], 16)
            repeating[(group, elem)] = action
        else:
            exact[int(key, 16)] = action
    return exact, repeating


#: Table E.1-1 as ``{tag (int): action}`` for single tags.
BASIC_PROFILE_TAGS, _REPEATING = _parse_table(_TABLE_E1_1)

#: Attributes that are Type 1 in the Segmentation IOD and carry a combined action:
#: they get the dummy value instead of being removed (Enhanced General Equipment).
TYPE1_IN_SEG = {0x00181000}  # DeviceSerialNumber

#: Birth date/time: identifying, never kept as "modified dates".
_NOT_MODIFIED_DATES = {0x00100030, 0x00100032}

_DUMMY = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "PN": "ANONYMOUS", "LO": "ANONYMOUS",
          "SH": "ANONYMOUS", "LT": "ANONYMOUS", "ST": "ANONYMOUS", "UT": "ANONYMOUS", "UC": "ANONYMOUS",
          "CS": "ANONYMOUS", "AE": "ANONYMOUS", "AS": "000Y", "DS": "0", "IS": "0", "UR": ""}
_NUMERIC = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"}

#: CID 7050 codes recorded in DeidentificationMethodCodeSequence.
METHOD_CODES = (("113100", "Basic Application Confidentiality Profile"),
                ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
                ("113110", "Retain UIDs Option"))


def action_for(tag) -> str | None:
    """Basic Profile action of ``tag`` (Table E.1-1), or None when the table does not list it."""
    tag = int(Tag(tag))
    if tag in BASIC_PROFILE_TAGS:
        return BASIC_PROFILE_TAGS[tag]
    group, elem = tag >> 16, tag & 0xFFFF
    if group & 0xFF01 in (0x5000, 0x6000) and group & 1 == 0:
        base = group & 0xFF00
        return _REPEATING.get((base, elem), _REPEATING.get((base, None)))
    return None


def table_keywords() -> dict[str, str]:
    """Keyword -> action for the table rows pydicom names (repeating groups left out)."""
    return {keyword_for_tag(t) or f"{t:08X}": a for t, a in BASIC_PROFILE_TAGS.items()}


# --------------------------------------------------------------------------
# Date shifting (Retain Longitudinal Temporal Information with Modified Dates)
# --------------------------------------------------------------------------
def _secret() -> bytes:
    env = os.environ.get("RADGUI_DEID_KEY")
    if env:
        return env.encode()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "radgui"
    path = base / "deid-key"
    try:
        return path.read_bytes().strip()
    except OSError:
        pass
    from radgui.errors import OutputFileError
    from radgui.files import atomic_path

    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFileError(f"cannot create the folder for the de-identification key ({exc.strerror})",
                              base) from None
    with atomic_path(path) as tmp:  # readable by the owner only, from its first byte
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path.read_bytes().strip()  # another process may have won the race: use the key on disk


def date_offset_days(patient_id: str, key: bytes | None = None) -> int:
    """The per-patient date shift, in days (negative: 365 to 3652 days into the past).

    An HMAC-SHA256 of the patient ID under a per-installation secret
    (``RADGUI_DEID_KEY``, else ``~/.config/radgui/deid-key``, created on first
    use): the same patient always gets the same offset, and the offset cannot
    be recomputed from the patient ID alone.
    """
    digest = hmac.new(key if key is not None else _secret(), str(patient_id).encode(), hashlib.sha256).digest()
    return -(365 + int.from_bytes(digest[:4], "big") % (3652 - 365 + 1))


def _shift_da(value: str, days: int) -> str:
    text = str(value).strip()
    if len(text) < 8 or not text[:8].isdigit():
        return ""
    try:
        d = _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8])) + _dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return ""
    return d.strftime("%Y%m%d")


def _shift_dt(value: str, days: int) -> str:
    text = str(value).strip()
    if len(text) < 8:
        return ""
    head = _shift_da(text[:8], days)
    return head + text[8:] if head else ""


def _shift(elem, days: int) -> None:
    fn = _shift_da if elem.VR == "DA" else _shift_dt
    if elem.VM > 1:
        elem.value = [fn(v, days) for v in elem.value]
    elif elem.value not in (None, ""):
        elem.value = fn(elem.value, days)


# --------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------
def _dummy(elem):
    if elem.VR == "SQ":
        return Sequence([])
    if elem.VR in _NUMERIC:
        return 0
    if elem.VR == "UI":
        from pydicom.uid import generate_uid

        return generate_uid()
    if elem.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        return b""
    return _DUMMY.get(elem.VR, "")


def _empty(elem):
    if elem.VR == "SQ":
        return Sequence([])
    if elem.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        return b""
    return None if elem.VR in _NUMERIC or elem.VR in ("AT", "DS", "IS") else ""


def _resolve(action: str, tag: int, top_level: bool) -> str:
    if action in ("X/Z", "X/D", "X/Z/D"):
        return "D" if top_level and tag in TYPE1_IN_SEG else "X"
    if action == "Z/D":
        return "Z"
    if action == "X/Z/U*":
        return "U"  # Retain UIDs: keep the references, clean their items
    return action


def _apply(ds: Dataset, days: int, top_level: bool) -> None:
    for elem in list(ds):
        tag = int(elem.tag)
        if elem.tag.is_private:
            del ds[elem.tag]
            continue
        action = action_for(tag)
        is_date = elem.VR in ("DA", "DT")
        if action is not None and tag not in _NOT_MODIFIED_DATES and elem.VR in ("DA", "DT", "TM"):
            action = "C"  # Retain Longitudinal Temporal Information with Modified Dates
        if action is None:
            if is_date:
                _shift(elem, days)
            elif elem.VR == "SQ":
                for item in elem.value:
                    _apply(item, days, False)
            continue
        action = _resolve(action, tag, top_level)
        if action == "X":
            del ds[elem.tag]
        elif action == "Z":
            elem.value = _empty(elem)
        elif action == "D":
            elem.value = _dummy(elem)
        elif action == "C":
            if is_date:
                _shift(elem, days)
        elif action == "U" and elem.VR == "SQ":
            for item in elem.value:
                _apply(item, days, False)


def deidentify(ds: Dataset, *, date_offset: int | None = None) -> Dataset:
    """Apply the Basic Profile with the Retain UIDs and Modified Dates options to ``ds`` in place.

    Parameters
    ----------
    ds : pydicom.Dataset
        Changed in place (file meta is left alone: it holds no patient data).
    date_offset : int, optional
        Days to add to every date; default :func:`date_offset_days` of the
        data set's PatientID (and IssuerOfPatientID).

    Returns
    -------
    pydicom.Dataset
        ``ds``.
    """
    if date_offset is None:
        who = f"{ds.get('IssuerOfPatientID', '') or ''}|{ds.get('PatientID', '') or ''}"
        date_offset = date_offset_days(who)
    _apply(ds, int(date_offset), True)
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    ds.DeidentificationMethod = ["PS3.15 2024b Annex E basic profile (radgui)", "retain UIDs option",
                                 "retain longitudinal temporal info, modified dates"]
    seq = []
    for value, meaning in METHOD_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        seq.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(seq)
    return ds


def _is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, bytes)):
        return not value.strip(b"\x00 " if isinstance(value, bytes) else "\x00 ")
    if isinstance(value, Sequence):
        return len(value) == 0
    try:
        return len(value) == 0
    except TypeError:
        return False


def source_values(sources) -> dict[int, set[str]]:
    """Tag -> the non-empty values it takes anywhere in ``sources`` (for :func:`identifying_attributes`).

    Take this snapshot before de-identifying: objects built from the sources
    (highdicom's) may share their data elements.
    """
    out: dict[int, set[str]] = {}

    def walk(ds):
        for elem in ds:
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item)
            elif not _is_empty(elem.value) and elem.VR not in ("OB", "OW", "UN"):
                out.setdefault(int(elem.tag), set()).add(str(elem.value))

    for s in sources or ():
        walk(s)
    return out


def refuse_leaks(ds: Dataset, originals, path, error=None, allowed: tuple[str, ...] = ()) -> None:
    """The independent self-check before a write: refuse when ``ds`` still identifies the patient.

    ``originals`` are :func:`source_values` of the source images; ``allowed`` names attribute paths
    (and everything below them) that hold radgui's own content on purpose (an SR's ContentSequence,
    an RTSTRUCT's ROI names). ``error`` is the exception class (default :class:`DicomError`); the
    message says nothing was written.
    """
    from radgui.errors import DicomError

    leaks = [leak for leak in identifying_attributes(ds, originals)
             if not any(leak == a or leak.startswith(a + "/") for a in allowed)]
    if leaks:
        raise (error or DicomError)(f"de-identification left identifying attributes ({', '.join(leaks[:8])}); "
                                    "nothing was written", path)


def identifying_attributes(ds: Dataset, sources=None) -> list[str]:
    """Names of everything in ``ds`` (at any depth) that the profile would not let through.

    An attribute of Table E.1-1 is reported when it holds a value and its
    action is not ``U`` (Retain UIDs), unless the value is the dummy of a
    ``D`` action, or it is a date/time and ``ds`` declares modified dates
    (LongitudinalTemporalInformationModified = MODIFIED). Every private
    attribute is reported. With ``sources`` (the data sets ``ds`` was derived
    from), a date/time that equals the source's value of the same attribute
    is reported too (not shifted); ``sources`` may also be the snapshot of
    :func:`source_values`.

    Returns
    -------
    list of str
        Keywords (or ``(gggg,eeee)`` tags), with a ``/``-separated path for
        nested attributes, e.g. ``ContributingEquipmentSequence/ContributionDateTime``.
    """
    modified = str(ds.get("LongitudinalTemporalInformationModified", "") or "").upper() == "MODIFIED"
    originals = sources if isinstance(sources, dict) else source_values(sources)
    found: list[str] = []

    def name(elem) -> str:
        return elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"

    def walk(d: Dataset, prefix: str, top: bool) -> None:
        for elem in d:
            label = prefix + name(elem)
            if elem.tag.is_private:
                found.append(label)
                continue
            tag = int(elem.tag)
            action = action_for(tag)
            dated = elem.VR in ("DA", "DT", "TM") and tag not in _NOT_MODIFIED_DATES
            if action is not None and action != "U" and action != "X/Z/U*" and not _is_empty(elem.value):
                resolved = _resolve(action, tag, top)
                if dated and modified:
                    if elem.VR != "TM" and str(elem.value) in originals.get(tag, ()):
                        found.append(label)
                elif resolved == "D" and elem.VR != "SQ" and str(elem.value) in (str(_dummy(elem)), *_DUMMY.values()):
                    pass
                else:
                    found.append(label)
                    continue
            elif action is None and elem.VR in ("DA", "DT") and str(elem.value) in originals.get(tag, ()) \
                    and not _is_empty(elem.value):
                found.append(label)
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item, label + "/", False)

    walk(ds, "", True)
    return found
