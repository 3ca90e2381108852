"""A real Orthanc on loopback for the PACS tests: own temporary config and storage, free ports, stopped after.

``start_orthanc(tmp, radgui_ae, radgui_port)`` returns an :class:`Orthanc` (``http_port``,
``dicom_port``, ``aet``, ``url``, ``dicomweb``); ``stop()`` terminates it. Skips (the caller
does) when the ``Orthanc`` binary or the DICOMweb plugin is absent: :func:`missing`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PLUGIN_CANDIDATES = ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so"]
AET = "ORTHANCTEST"


def binary() -> str | None:
    return shutil.which("Orthanc") or (("/usr/sbin/Orthanc") if Path("/usr/sbin/Orthanc").exists() else None)


def plugin() -> str | None:
    return next((p for p in PLUGIN_CANDIDATES if Path(p).exists()), None)


def missing() -> str | None:
    """Why Orthanc cannot be started here (None when it can)."""
    if os.environ.get("RADGUI_TESTS_NO_ORTHANC"):
        return "RADGUI_TESTS_NO_ORTHANC is set"
    if binary() is None:
        return "the Orthanc binary is absent (apt-get install orthanc orthanc-dicomweb)"
    if plugin() is None:
        return "the Orthanc DICOMweb plugin is absent (apt-get install orthanc-dicomweb)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    process: subprocess.Popen
    http_port: int
    dicom_port: int
    aet: str
    log: Path

    @property
    def folder(self) -> Path:
        return self.log.parent

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def upload(self, path) -> dict:
        req = urllib.request.Request(f"{self.url}/instances", data=Path(path).read_bytes(), method="POST",
                                     headers={"Content-Type": "application/dicom"})
        with urllib.request.urlopen(req, timeout=10) as rsp:
            return json.loads(rsp.read())

    def get(self, route: str):
        with urllib.request.urlopen(f"{self.url}{route}", timeout=10) as rsp:
            return json.loads(rsp.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_orthanc(tmp: Path | None, radgui_ae: str, radgui_port: int, timeout: float = 20.0) -> Orthanc:
    # Its own private folder outside pytest's shared basetemp (which a concurrent pytest may prune);
    # removed by stop(). ``tmp`` is accepted for callers' symmetry and not used.
    tmp = Path(tempfile.mkdtemp(prefix="radgui-orthanc-"))
    (tmp / "storage").mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    config = {
        "Name": "radgui-test",
        "StorageDirectory": str(tmp / "storage"),
        "IndexDirectory": str(tmp / "storage"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": AET,
        "DicomCheckCalledAet": True,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpServerEnabled": True,
        "DicomServerEnabled": True,
        "DicomModalities": {"radgui": [radgui_ae, "127.0.0.1", radgui_port]},
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "Plugins": [plugin()],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "StorageCompression": False,
        "HttpTimeout": 10,
        "DicomScpTimeout": 10,
        "ConcurrentJobs": 2,
        "SaveJobs": False,
    }
    cfg = tmp / "orthanc.json"
    cfg.write_text(json.dumps(config))
    log = tmp / "orthanc.log"
    process = subprocess.Popen([binary(), str(cfg)], stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                               cwd=tmp)
    server = Orthanc(process, http_port, dicom_port, AET, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            server.get("/system")
            with socket.create_connection(("127.0.0.1", dicom_port), timeout=1):
                pass
            return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"Orthanc did not start within {timeout} s: {log.read_text()[-2000:]}")
