"""Talking to a PACS: find, retrieve and send back over DIMSE (pynetdicom) and DICOMweb (dicomweb-client).

Nodes come from a settings file (YAML or JSON, read through :mod:`radgui.untrusted`)::

    calling_ae: RADGUI          # our AE title (default RADGUI)
    store_port: 11113           # our storage SCP for C-MOVE (optional; 0 = C-GET only)
    nodes:
      pacs:                     # DIMSE: AE title, host, port
        ae_title: ORTHANC
        host: 127.0.0.1
        port: 4242
      web:                      # DICOMweb: base URL, optional bearer token
        url: http://127.0.0.1:8042/dicom-web
        token_env: PACS_TOKEN   # or token: "..." (never printed or logged)

:func:`echo`, :func:`find` (patient ID, accession, date range, modality) and
:func:`retrieve` (a series into a local cache; resumable, checksummed, with
progress and cancel, one atomic file per instance named by its SOP Instance
UID) work on both kinds of node; :func:`send` stores files (C-STORE or
STOW-RS). The cache folder of a series is loaded with the normal DICOM path
(:func:`radgui.io.load_volume` / :func:`radgui.io.list_series`) and all its
checks. :func:`encapsulate_pdf` wraps a PDF report as an Encapsulated PDF
referencing the source series, de-identified unless ``identifying=True``.

Every failure is a :class:`radgui.errors.PacsError` of one line naming the
node (unreachable, refused association with the peer's reason, timeout, a
peer that answers with something else than what was asked).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlsplit

from radgui.errors import CancelledError, InputFileError, PacsError, RadguiError

LOGGER = logging.getLogger(__name__)

#: Settings file used when none is given (``RADGUI_PACS_NODES`` overrides it).
DEFAULT_SETTINGS = Path.home() / ".config" / "radgui" / "pacs.yaml"
#: Index of a cache folder: one JSON line per stored instance (SOP UID, file, SHA-256, bytes).
INDEX_NAME = ".pacs-index.jsonl"
MAX_RESULTS = 10_000
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_AE = re.compile(r"^[ -~]{1,16}$")
_DATE = re.compile(r"^\d{8}$")
_MODALITY = re.compile(r"^[A-Z0-9]{1,16}$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_uid(uid, what: str = "UID") -> str:
    """A DICOM UID (digits and dots, at most 64 characters), else :class:`PacsError`."""
    text = str(uid or "").strip()
    if len(text) > 64 or not _UID.match(text):
        raise PacsError(f"{what} {text[:70]!r} is not a DICOM UID")
    return text


def _check_ae(value, what: str) -> str:
    text = str(value or "").strip()
    if not _AE.match(text) or "\\" in text:
        raise PacsError(f"{what} {text[:20]!r} is not an AE title (1-16 printable characters, no backslash)")
    return text


# --------------------------------------------------------------------------------------------- nodes
@dataclass(frozen=True)
class Node:
    """A configured PACS node: DIMSE (``ae_title``, ``host``, ``port``) or DICOMweb (``url``, ``token``)."""

    name: str
    ae_title: str = ""
    host: str = ""
    port: int = 0
    url: str = ""
    token: str = field(default="", repr=False)
    calling_ae: str = "RADGUI"
    store_port: int = 0
    timeout: float = 10.0

    @property
    def kind(self) -> str:
        return "dicomweb" if self.url else "dimse"

    def describe(self) -> str:
        """How the node is named in messages (never the token)."""
        if self.url:
            return f"node '{self.name}' ({_safe_url(self.url)})"
        return f"node '{self.name}' ({self.ae_title}@{self.host}:{self.port})"

    def __repr__(self) -> str:  # the dataclass repr already omits the token; be explicit
        return f"Node({self.describe()}, token={'<set>' if self.token else '<none>'})"


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"  # never userinfo or query (may hold secrets)


def _port(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise PacsError(f"{what} must be a port number 0-65535, not {str(value)[:20]!r}")
    return value


def parse_nodes(doc, source: str = "PACS settings") -> dict[str, Node]:
    """Nodes from a parsed settings document (see the module docstring); refuses anything malformed."""
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), dict) or not doc["nodes"]:
        raise PacsError(f"{source}: expected a mapping with a non-empty 'nodes' mapping")
    unknown = set(doc) - {"calling_ae", "store_port", "timeout_s", "nodes"}
    if unknown:
        raise PacsError(f"{source}: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
    calling = _check_ae(doc.get("calling_ae", "RADGUI"), f"{source}: calling_ae")
    store_port = _port(doc.get("store_port", 0), f"{source}: store_port")
    default_timeout = doc.get("timeout_s", 10)
    nodes = {}
    for name, spec in doc["nodes"].items():
        where = f"{source}: node {str(name)[:40]!r}"
        if not isinstance(spec, dict):
            raise PacsError(f"{where}: expected a mapping")
        extra = set(spec) - {"ae_title", "host", "port", "url", "token", "token_env", "timeout_s"}
        if extra:
            raise PacsError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        timeout = spec.get("timeout_s", default_timeout)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
            raise PacsError(f"{where}: timeout_s must be a number of seconds in (0, 600]")
        if "url" in spec:
            url = str(spec["url"])
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise PacsError(f"{where}: url must be http(s)://host/..., not {_safe_url(url)!r}")
            if parts.username or parts.password or parts.query:
                raise PacsError(f"{where}: put credentials in token/token_env, not in the URL")
            token = spec.get("token", "")
            if "token_env" in spec:
                token = os.environ.get(str(spec["token_env"]), "")
                if not token:
                    raise PacsError(f"{where}: environment variable {str(spec['token_env'])[:40]!r} is not set")
            token = str(token or "")
            if token and (any(c in token for c in "\r\n") or len(token) > 8192):
                raise PacsError(f"{where}: the token is not a single line of at most 8192 characters")
            if token and parts.scheme == "http" and parts.hostname not in _LOOPBACK:
                raise PacsError(f"{where}: refusing to send a token over plain http to {parts.hostname}; use https")
            nodes[str(name)] = Node(str(name), url=url.rstrip("/"), token=token, calling_ae=calling,
                                    store_port=store_port, timeout=float(timeout))
        else:
            for key in ("ae_title", "host", "port"):
                if key not in spec:
                    raise PacsError(f"{where}: needs ae_title, host and port (or url for DICOMweb); {key} missing")
            host = str(spec["host"])
            if not re.match(r"^[A-Za-z0-9.:-]{1,253}$", host):
                raise PacsError(f"{where}: host {host[:40]!r} is not a host name or address")
            port = _port(spec["port"], f"{where}: port")
            if port == 0:
                raise PacsError(f"{where}: port must be 1-65535")
            nodes[str(name)] = Node(str(name), ae_title=_check_ae(spec["ae_title"], f"{where}: ae_title"),
                                    host=host, port=port, calling_ae=calling, store_port=store_port,
                                    timeout=float(timeout))
    return nodes


def load_nodes(path: str | Path | None = None) -> dict[str, Node]:
    """Read the settings file (YAML or JSON) at ``path`` (default: ``$RADGUI_PACS_NODES`` or ~/.config/radgui/pacs.yaml)."""
    from radgui.untrusted import load_json, load_yaml

    path = Path(path or os.environ.get("RADGUI_PACS_NODES") or DEFAULT_SETTINGS)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read the PACS settings ({exc.strerror or exc})", path) from None
    if len(data) > 1 << 20:
        raise InputFileError("PACS settings file is larger than 1 MiB", path)
    if path.suffix.lower() == ".json":
        doc = load_json(data, str(path))
    else:
        doc = load_yaml(data.decode("utf-8", errors="replace"), str(path))
    return parse_nodes(doc, str(path))


def get_node(nodes: dict[str, Node], name: str | None) -> Node:
    """The node called ``name`` (the only one when ``name`` is None)."""
    if name is None:
        if len(nodes) == 1:
            return next(iter(nodes.values()))
        raise PacsError(f"several PACS nodes are configured ({', '.join(nodes)}); choose one")
    if name not in nodes:
        raise PacsError(f"no PACS node named {name!r} (configured: {', '.join(nodes)})")
    return nodes[name]


# --------------------------------------------------------------------------------------------- DIMSE
def _storage_classes():
    from pynetdicom import sop_class as sc

    names = ["CTImageStorage", "EnhancedCTImageStorage", "MRImageStorage", "EnhancedMRImageStorage",
             "PositronEmissionTomographyImageStorage", "EnhancedPETImageStorage", "SegmentationStorage",
             "Comprehensive3DSRStorage", "EnhancedSRStorage", "ComprehensiveSRStorage", "EncapsulatedPDFStorage",
             "SecondaryCaptureImageStorage", "RTStructureSetStorage", "DigitalXRayImageStorageForPresentation",
             "ComputedRadiographyImageStorage", "UltrasoundImageStorage", "NuclearMedicineImageStorage"]
    return [getattr(sc, n) for n in names if hasattr(sc, n)]


def _probe(node: Node) -> None:
    """Open (and close) a TCP connection: tells 'unreachable' and 'no answer' apart from DICOM refusals."""
    try:
        with socket.create_connection((node.host, node.port), timeout=node.timeout):
            pass
    except socket.timeout:
        raise PacsError(f"{node.describe()}: no answer within {node.timeout:g} s (timeout)") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PacsError(f"{node.describe()}: unreachable ({reason.lower()})") from None


def _associate(node: Node, contexts, roles=(), handlers=()):
    from pynetdicom import AE, build_role

    _probe(node)
    ae = AE(ae_title=node.calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = node.timeout
    for cx in contexts:
        ae.add_requested_context(cx)
    ext = [build_role(uid, scp_role=True) for uid in roles]
    import time

    started = time.monotonic()
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title, ext_neg=ext or None,
                         evt_handlers=list(handlers) or None)
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        prim = assoc.acceptor.primitive
        reason = prim.reason_str if prim is not None else "no reason given"
        hint = ""
        if "Called AE" in reason:
            hint = f": is '{node.ae_title}' the node's AE title?"
        elif "Calling AE" in reason:
            hint = f": the node does not know our AE title '{node.calling_ae}' (register this workstation)"
        raise PacsError(f"{node.describe()}: association refused ({reason.lower()}){hint}")
    if time.monotonic() - started < 0.8 * node.timeout:  # closed at once, without an A-ASSOCIATE-RJ we could read
        raise PacsError(f"{node.describe()}: association refused (the node closed the connection without a "
                        f"reason): are '{node.ae_title}' (its AE title) and '{node.calling_ae}' (ours) right, and "
                        "does it accept these services?")
    raise PacsError(f"{node.describe()}: the association was not accepted within {node.timeout:g} s (timeout)")


def _status_ok(status) -> int | None:
    return None if status is None or "Status" not in status else int(status.Status)


def _dimse_echo(node: Node) -> None:
    from pynetdicom.sop_class import Verification

    assoc = _associate(node, [Verification])
    try:
        status = assoc.send_c_echo()
        code = _status_ok(status)
        if code != 0:
            raise PacsError(f"{node.describe()}: C-ECHO failed ({'no answer' if code is None else hex(code)})")
    finally:
        assoc.release()


def _dimse_find(node: Node, identifier, limit: int = MAX_RESULTS) -> list:
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    assoc = _associate(node, [FIND])
    out = []
    try:
        for status, ds in assoc.send_c_find(identifier, FIND):
            code = _status_ok(status)
            if code is None:
                raise PacsError(f"{node.describe()}: C-FIND got no answer within {node.timeout:g} s (timeout)")
            if code in (0xFF00, 0xFF01) and ds is not None:
                out.append(ds)
                if len(out) > limit:
                    assoc.abort()
                    raise PacsError(f"{node.describe()}: more than {limit} matches; narrow the search")
            elif code != 0:
                raise PacsError(f"{node.describe()}: C-FIND refused (status {code:#06x})")
    finally:
        if assoc.is_established:
            assoc.release()
    return out


# --------------------------------------------------------------------------------------------- DICOMweb
def _web_client(node: Node):
    import requests
    from dicomweb_client.api import DICOMwebClient

    class _Session(requests.Session):  # every request gets the node's timeout
        def request(self, *args, **kwargs):
            kwargs.setdefault("timeout", node.timeout)
            return super().request(*args, **kwargs)

    session = _Session()
    session.trust_env = False  # no proxy from the environment; traffic goes where the settings say
    headers = {"Authorization": f"Bearer {node.token}"} if node.token else None
    client = DICOMwebClient(node.url, session=session, headers=headers, timeout=node.timeout)
    client.set_http_retry_params(retry=False)  # one clear error now, not a minute of silent retries
    return client


def _web_call(node: Node, what: str, fn, *args, **kwargs):
    import requests

    try:
        return fn(*args, **kwargs)
    except requests.exceptions.Timeout:
        raise PacsError(f"{node.describe()}: {what}: no answer within {node.timeout:g} s (timeout)") from None
    except requests.exceptions.ConnectionError:
        raise PacsError(f"{node.describe()}: {what}: unreachable (connection refused or no route)") from None
    except requests.exceptions.HTTPError as exc:
        code = getattr(exc.response, "status_code", "?")
        hint = " (check the token)" if code in (401, 403) else ""
        raise PacsError(f"{node.describe()}: {what}: HTTP {code}{hint}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise PacsError(f"{node.describe()}: {what}: unexpected answer ({str(exc)[:100]})") from None


# --------------------------------------------------------------------------------------------- public API
def echo(node: Node) -> None:
    """C-ECHO (DIMSE) or a minimal QIDO-RS query (DICOMweb); :class:`PacsError` when the node does not answer."""
    if node.kind == "dimse":
        _dimse_echo(node)
    else:
        client = _web_client(node)
        _web_call(node, "echo", client.search_for_studies, limit=1)


_SERIES_FIELDS = {"PatientID": "patient_id", "PatientName": "patient_name", "StudyInstanceUID": "study_uid",
                  "SeriesInstanceUID": "series_uid", "StudyDate": "study_date", "Modality": "modality",
                  "SeriesDescription": "description", "AccessionNumber": "accession",
                  "NumberOfSeriesRelatedInstances": "n_instances", "SeriesNumber": "series_number"}


def _date_range(date_from: str | None, date_to: str | None) -> str:
    for d in (date_from, date_to):
        if d and not _DATE.match(d):
            raise PacsError(f"date {str(d)[:20]!r} is not YYYYMMDD")
    if not date_from and not date_to:
        return ""
    if date_from and date_to and date_from > date_to:
        raise PacsError(f"date range {date_from}-{date_to} ends before it starts")
    return f"{date_from or ''}-{date_to or ''}" if date_from != date_to else date_from


def _clean(value) -> str:
    from radgui.io.dicom import printable

    return printable(str(value if value is not None else ""))[:128]


def find(node: Node, *, patient_id: str | None = None, accession: str | None = None, date_from: str | None = None,
         date_to: str | None = None, modality: str | None = None, study_uid: str | None = None) -> list[dict]:
    """Series matching the criteria (all optional; exact patient ID / accession, date range YYYYMMDD).

    Returns one dict per series: ``patient_id``, ``patient_name``, ``study_uid``, ``series_uid``,
    ``study_date``, ``modality``, ``description``, ``accession``, ``n_instances``, ``series_number``.
    Text from the node is made printable; UIDs are checked.
    """
    for value, what in ((patient_id, "patient ID"), (accession, "accession number")):
        if value is not None and (len(value) > 64 or any(c in value for c in "*?\\") or not value.isprintable()):
            raise PacsError(f"{what} {value[:70]!r} must be printable, at most 64 characters, without * ? \\")
    if modality is not None and not _MODALITY.match(modality):
        raise PacsError(f"modality {modality[:20]!r} is not a DICOM modality code (CT, MR, PT, ...)")
    if study_uid is not None:
        check_uid(study_uid, "study UID")
    dates = _date_range(date_from, date_to)
    filters = {"PatientID": patient_id, "AccessionNumber": accession, "StudyDate": dates or None,
               "Modality": modality, "StudyInstanceUID": study_uid}
    filters = {k: v for k, v in filters.items() if v}
    rows = []
    if node.kind == "dimse":
        from pydicom.dataset import Dataset

        q = Dataset()
        q.QueryRetrieveLevel = "SERIES"
        for kw in _SERIES_FIELDS:
            setattr(q, kw, filters.get(kw, ""))
        for ds in _dimse_find(node, q):
            rows.append({key: ds.get(kw, "") for kw, key in _SERIES_FIELDS.items()})
    else:
        from pydicom.dataset import Dataset

        client = _web_client(node)
        found = _web_call(node, "search", client.search_for_series, search_filters=filters,
                          fields=list(_SERIES_FIELDS), limit=MAX_RESULTS + 1)
        if len(found) > MAX_RESULTS:
            raise PacsError(f"{node.describe()}: more than {MAX_RESULTS} matches; narrow the search")
        for item in found:
            ds = _web_call(node, "search", Dataset.from_json, item)
            rows.append({key: ds.get(kw, "") for kw, key in _SERIES_FIELDS.items()})
    out = []
    for r in rows:
        row = {k: _clean(v) for k, v in r.items()}
        try:
            row["study_uid"] = check_uid(row["study_uid"], "study UID")
            row["series_uid"] = check_uid(row["series_uid"], "series UID")
        except PacsError as exc:
            raise PacsError(f"{node.describe()}: answered with a bad {exc.reason}") from None
        if filters.get("Modality") and row["modality"] and row["modality"] != filters["Modality"]:
            continue  # a node that ignores the filter
        try:
            row["n_instances"] = int(row["n_instances"]) if row["n_instances"] else None
        except ValueError:
            row["n_instances"] = None
        out.append(row)
    return sorted(out, key=lambda r: (r["patient_id"], r["study_date"], r["study_uid"], r["series_number"]))


def list_instances(node: Node, study_uid: str, series_uid: str) -> list[str]:
    """SOP Instance UIDs of a series on the node (checked, without duplicates, sorted)."""
    study_uid, series_uid = check_uid(study_uid, "study UID"), check_uid(series_uid, "series UID")
    if node.kind == "dimse":
        from pydicom.dataset import Dataset

        q = Dataset()
        q.QueryRetrieveLevel = "IMAGE"
        q.StudyInstanceUID, q.SeriesInstanceUID, q.SOPInstanceUID = study_uid, series_uid, ""
        uids = [str(ds.get("SOPInstanceUID", "")) for ds in _dimse_find(node, q)]
    else:
        from pydicom.dataset import Dataset

        client = _web_client(node)
        found = _web_call(node, "search", client.search_for_instances, study_instance_uid=study_uid,
                          series_instance_uid=series_uid, fields=["SOPInstanceUID"], limit=MAX_RESULTS + 1)
        uids = [str(Dataset.from_json(item).get("SOPInstanceUID", "")) for item in found]
    out = set()
    for uid in uids:
        try:
            out.add(check_uid(uid, "SOP instance UID"))
        except PacsError as exc:
            raise PacsError(f"{node.describe()}: answered with a bad {exc.reason}") from None
    if not out:
        raise PacsError(f"{node.describe()}: series {series_uid} has no instances (or does not exist)")
    return sorted(out)


# --------------------------------------------------------------------------------------------- cache


class SeriesCache:
    """One series' cache folder: ``<SOPInstanceUID>.dcm`` files plus an append-only checksum index.

    Each instance is written atomically (:func:`radgui.files.write_bytes`) and then recorded
    (:func:`radgui.files.append_text`); on opening, a torn index tail and stale temporary files
    are dropped and every recorded file is checked against its SHA-256: an instance is present
    only when its file exists and matches, so an interrupted retrieve resumes without
    duplicates or half-written files.
    """

    def __init__(self, root: str | Path, series_uid: str):
        from radgui.files import drop_torn_tail, remove_stale_temporaries

        self.series_uid = check_uid(series_uid, "series UID")
        self.folder = Path(root) / self.series_uid
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index = self.folder / INDEX_NAME
        remove_stale_temporaries(self.folder)
        self.present: dict[str, str] = {}
        if self.index.exists():
            drop_torn_tail(self.index)
            self._read_index()

    def _read_index(self) -> None:
        from radgui.files import sha256_file

        entries = {}
        for line in self.index.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
                uid = check_uid(e["sop"])
                entries[uid] = str(e["sha256"])
            except (ValueError, KeyError, TypeError, PacsError):
                continue  # an unreadable line: the instance is fetched again
        for uid, digest in entries.items():
            path = self.folder / f"{uid}.dcm"
            if path.is_file() and sha256_file(path) == digest:
                self.present[uid] = digest
        for path in self.folder.glob("*.dcm"):  # files no index line vouches for (or that do not match)
            if path.stem not in self.present:
                path.unlink()

    def add(self, sop_uid: str, data: bytes) -> None:
        """Store one instance's bytes (a DICOM file) after checking it is the instance asked for."""
        import hashlib

        import pydicom

        from radgui.files import append_text, write_bytes

        sop_uid = check_uid(sop_uid, "SOP instance UID")
        try:
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        except Exception as exc:  # noqa: BLE001 - any decoding failure of peer data
            raise PacsError(f"instance {sop_uid} is not a readable DICOM file ({str(exc)[:80]})") from None
        if str(ds.get("SOPInstanceUID", "")) != sop_uid or str(ds.get("SeriesInstanceUID", "")) != self.series_uid:
            raise PacsError(f"the node sent instance {_clean(ds.get('SOPInstanceUID', ''))[:64]!r} of series "
                            f"{_clean(ds.get('SeriesInstanceUID', ''))[:64]!r} when {sop_uid} of "
                            f"{self.series_uid} was asked for")
        if sop_uid in self.present:
            return
        digest = hashlib.sha256(data).hexdigest()
        write_bytes(self.folder / f"{sop_uid}.dcm", data)
        append_text(self.index, json.dumps({"sop": sop_uid, "sha256": digest, "bytes": len(data)}) + "\n")
        self.present[sop_uid] = digest


def _encode(ds) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def iter_retrieve(node: Node, study_uid: str, series_uid: str, cache_root: str | Path, *, method: str = "get"):
    """:func:`retrieve` as a generator of :class:`radgui.progress.Step` (one per instance; for GUI workers).

    Closing the generator (a cancelled worker) stops between instances; what arrived stays
    in the cache and the next retrieve resumes. Returns the series folder.
    """
    from radgui.progress import Step

    study_uid, series_uid = check_uid(study_uid, "study UID"), check_uid(series_uid, "series UID")
    if method not in ("get", "move"):
        raise PacsError(f"retrieve method must be 'get' or 'move', not {method!r}")
    cache = SeriesCache(cache_root, series_uid)
    wanted = list_instances(node, study_uid, series_uid)
    missing = [u for u in wanted if u not in cache.present]
    total = len(wanted)

    def step():
        done = sum(u in cache.present for u in wanted)
        return Step(done, total, f"{done}/{total} instances")

    yield step()
    if missing:
        if node.kind == "dicomweb":
            gen = _web_get(node, study_uid, series_uid, missing, cache)
        elif method == "get":
            gen = _dimse_get(node, study_uid, series_uid, missing, cache)
        else:
            gen = _dimse_move(node, study_uid, series_uid, missing, cache)
        try:
            for _ in gen:
                yield step()
        finally:
            gen.close()  # releases the association / stops the SCP when the caller stops early
    absent = [u for u in wanted if u not in cache.present]
    if absent:
        raise PacsError(f"{node.describe()}: {len(absent)} of {total} instances did not arrive "
                        f"(first: {absent[0]}); retrieve again to resume")
    return cache.folder


def retrieve(node: Node, study_uid: str, series_uid: str, cache_root: str | Path, *, method: str = "get",
             progress: Callable[[int, int], None] | None = None,
             cancel: Callable[[], bool] | None = None) -> Path:
    """Retrieve a series into ``cache_root/<series_uid>/``; returns that folder.

    Parameters
    ----------
    method : {"get", "move"}
        DIMSE only: C-GET (one association, instances come back on it) or C-MOVE
        (the node sends them to our storage SCP on ``store_port``; the node must
        know our AE title). DICOMweb nodes use WADO-RS.
    progress : callable(done, total), optional
        Called before the first and after each instance (``done`` counts those already cached).
    cancel : callable() -> bool, optional
        Polled between instances; when it returns True, :class:`~radgui.errors.CancelledError` is raised
        (what arrived is kept; calling again resumes).

    Raises
    ------
    PacsError
        The node fails or sends something other than the asked instances; the cache stays consistent.
    """
    gen = iter_retrieve(node, study_uid, series_uid, cache_root, method=method)
    try:
        while True:
            try:
                st = next(gen)
            except StopIteration as stop:
                return stop.value
            if progress is not None:
                progress(st.done, st.total)
            if cancel is not None and cancel():
                raise CancelledError(f"retrieve of series {series_uid} cancelled after {st.done} of {st.total} "
                                "instances; retrieve again to resume")
    finally:
        gen.close()


def _web_get(node, study_uid, series_uid, missing, cache):
    client = _web_client(node)
    for uid in missing:
        ds = _web_call(node, "retrieve", client.retrieve_instance, study_uid, series_uid, uid)
        cache.add(uid, _encode(ds))
        yield uid


def _store_handler(cache: SeriesCache, expected: set, errors: list):
    def handle(event):
        try:
            ds = event.dataset
            uid = str(ds.get("SOPInstanceUID", ""))
            if uid not in expected:
                raise PacsError(f"unrequested instance {_clean(uid)[:64]!r}")
            ds.file_meta = event.file_meta
            cache.add(uid, _encode(ds))
            return 0x0000
        except RadguiError as exc:
            errors.append(str(exc))
            return 0xA700 if "cannot write" in str(exc) else 0xC000
        except Exception as exc:  # noqa: BLE001 - never let a peer's dataset crash the SCP thread
            errors.append(f"cannot store an instance ({str(exc)[:100]})")
            return 0xC000
    return handle


def _image_query(study_uid, series_uid, uid):
    from pydicom.dataset import Dataset

    q = Dataset()
    q.QueryRetrieveLevel = "IMAGE"
    q.StudyInstanceUID, q.SeriesInstanceUID, q.SOPInstanceUID = study_uid, series_uid, uid
    return q


def _check_sub(node, status, what):
    code = _status_ok(status)
    if code is None:
        raise PacsError(f"{node.describe()}: {what} got no answer within {node.timeout:g} s (timeout)")
    if code not in (0x0000, 0xFF00, 0xFF01, 0xB000):
        raise PacsError(f"{node.describe()}: {what} refused (status {code:#06x})")


def _dimse_get(node, study_uid, series_uid, missing, cache):
    from pynetdicom import evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    errors: list[str] = []
    storage = _storage_classes()
    handler = _store_handler(cache, set(missing), errors)
    assoc = _associate(node, [GET, *storage], roles=storage, handlers=[(evt.EVT_C_STORE, handler)])
    try:
        for uid in missing:
            for status, _ in assoc.send_c_get(_image_query(study_uid, series_uid, uid), GET):
                _check_sub(node, status, "C-GET")
            if errors:
                raise PacsError(f"{node.describe()}: {errors[0]}")
            yield uid
    finally:
        if assoc.is_established:
            assoc.release()


def _dimse_move(node, study_uid, series_uid, missing, cache):
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

    if not node.store_port:
        raise PacsError(f"{node.describe()}: C-MOVE needs store_port in the PACS settings (our storage SCP)")
    errors: list[str] = []
    scp = AE(ae_title=node.calling_ae)
    scp.network_timeout = scp.dimse_timeout = scp.acse_timeout = node.timeout
    for cx in _storage_classes():
        scp.add_supported_context(cx)
    try:
        server = scp.start_server(("127.0.0.1" if node.host in _LOOPBACK else "", node.store_port), block=False,
                                  evt_handlers=[(evt.EVT_C_STORE, _store_handler(cache, set(missing), errors))])
    except OSError as exc:
        raise PacsError(f"cannot listen on port {node.store_port} for C-MOVE ({exc.strerror or exc})") from None
    try:
        assoc = _associate(node, [MOVE])
        try:
            for uid in missing:
                for status, _ in assoc.send_c_move(_image_query(study_uid, series_uid, uid), node.calling_ae, MOVE):
                    _check_sub(node, status, "C-MOVE")
                if errors:
                    raise PacsError(f"{node.describe()}: {errors[0]}")
                yield uid
        finally:
            if assoc.is_established:
                assoc.release()
    finally:
        server.shutdown()


# --------------------------------------------------------------------------------------------- send
def send(node: Node, paths: Iterable[str | Path]) -> int:
    """Store DICOM files on the node (C-STORE or STOW-RS); returns how many were stored.

    Every file is read and checked first (a DICOM file with SOP class and instance UIDs);
    nothing is sent when one is not.
    """
    import pydicom

    paths = list(paths)
    datasets = []
    for p in paths:
        try:
            ds = pydicom.dcmread(p)
            check_uid(ds.SOPInstanceUID, "SOP instance UID")
            check_uid(ds.SOPClassUID, "SOP class UID")
        except (PacsError, AttributeError) as exc:
            raise InputFileError(f"not sendable: {getattr(exc, 'reason', 'no SOP class/instance UID')}", p) from None
        except Exception as exc:  # noqa: BLE001
            raise InputFileError(f"not a readable DICOM file ({str(exc)[:100]})", p) from None
        datasets.append(ds)
    if not datasets:
        raise PacsError("nothing to send")
    if node.kind == "dicomweb":
        client = _web_client(node)
        for ds in datasets:
            _web_call(node, "store", client.store_instances, [ds])
        return len(datasets)
    classes = list(dict.fromkeys(str(ds.SOPClassUID) for ds in datasets))
    assoc = _associate(node, classes)
    try:
        for p, ds in zip(paths, datasets):
            status = assoc.send_c_store(ds)
            code = _status_ok(status)
            if code is None:
                raise PacsError(f"{node.describe()}: C-STORE got no answer within {node.timeout:g} s (timeout)")
            if code not in (0x0000, 0xB000, 0xB007, 0xB006):
                raise PacsError(f"{node.describe()}: C-STORE of {Path(p).name} refused (status {code:#06x})")
    finally:
        if assoc.is_established:
            assoc.release()
    return len(datasets)


def encapsulate_pdf(pdf_path: str | Path, source_files: Iterable[str | Path], path: str | Path, *,
                    identifying: bool = False, title: str = "radgui report") -> Path:
    """Wrap a PDF as an Encapsulated PDF instance in the source series' study, referencing its images.

    De-identified with the PS3.15 basic profile (UIDs retained) unless ``identifying=True``.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian, generate_uid

    from radgui.files import atomic_path
    from radgui.io.deid import deidentify, refuse_leaks, source_values

    pdf_path = Path(pdf_path)
    try:
        data = pdf_path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read the PDF ({exc.strerror or exc})", pdf_path) from None
    if not data.startswith(b"%PDF-"):
        raise InputFileError("not a PDF file (no %PDF- header)", pdf_path)
    sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in source_files]
    if not sources:
        raise InputFileError("no source image to reference", pdf_path)
    src = sources[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = EncapsulatedPDFStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
               "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName"):
        setattr(ds, kw, src.get(kw, ""))
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 903
    ds.InstanceNumber = 1
    ds.SeriesDescription = title[:64]
    ds.DocumentTitle = title[:64]
    ds.ConversionType = "WSD"
    ds.Manufacturer = "radgui"
    ds.BurnedInAnnotation = "YES" if identifying else "NO"
    ds.ConceptNameCodeSequence = Sequence()
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(data)
    refs = []
    for s in sources:
        item = Dataset()
        item.ReferencedSOPClassUID = s.SOPClassUID
        item.ReferencedSOPInstanceUID = s.SOPInstanceUID
        refs.append(item)
    ds.SourceInstanceSequence = Sequence(refs)
    series_ref = Dataset()
    series_ref.SeriesInstanceUID = src.SeriesInstanceUID
    series_ref.ReferencedSOPSequence = Sequence([_ref(r) for r in refs])
    ds.ReferencedSeriesSequence = Sequence([series_ref])
    if not identifying:
        # best effort (PDF text is often compressed): refuse a PDF that spells the patient's identification
        for kw in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber"):
            value = str(src.get(kw, "") or "").strip()
            for form in {value, value.replace("^", " ")}:
                if len(form) >= 3 and form.encode("latin-1", "replace") in data:
                    raise InputFileError(f"the PDF contains the patient's {kw}; export it de-identified or send "
                                         "with identifying=True; nothing was written", pdf_path)
        originals = source_values(sources)
        document = ds.EncapsulatedDocument
        del ds.EncapsulatedDocument  # X in the basic profile; this one is radgui's report, checked above
        deidentify(ds)
        ds.EncapsulatedDocument = document
        refuse_leaks(ds, originals, path, InputFileError, allowed=("EncapsulatedDocument",))
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path


def _ref(item):
    from pydicom.dataset import Dataset

    out = Dataset()
    out.ReferencedSOPClassUID = item.ReferencedSOPClassUID
    out.ReferencedSOPInstanceUID = item.ReferencedSOPInstanceUID
    return out
