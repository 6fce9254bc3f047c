"""`download`: fetch the public datasets (SMD, SMAP/MSL, PSM) from their original sources,
verify each file and resume an interrupted transfer with an HTTP Range request.

A file is written to `<name>.part` and renamed only once it verifies, so a corrupted or half
transfer never leaves a file that looks complete. Where no checksum is published (see SOURCES),
the sha256 seen on the first download is recorded in `_downloads.json` and checked afterwards.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path

from .raw import dataset_name

CHUNK = 1 << 20
RECORD = "_downloads.json"
OMNIANOMALY = ("https://raw.githubusercontent.com/NetManAIOps/OmniAnomaly/"
               "7fb0e0acf89ea49908896bcc9f9e80fcfff6baf4/ServerMachineDataset")
TELEMANOM_LABELS = ("https://raw.githubusercontent.com/khundman/telemanom/"
                    "2e6c5b6c3558e7835601519b7bdef37c649bdbdc/labeled_anomalies.csv")
PSM_DATA = "https://raw.githubusercontent.com/eBay/RANSynCoders/948e61eb579815ff2a6bce721332d8220d59ca47/data"
SMD_MACHINES = ([f"machine-1-{i}" for i in range(1, 9)] + [f"machine-2-{i}" for i in range(1, 10)]
                + [f"machine-3-{i}" for i in range(1, 12)])
NOT_PUBLIC = ("is not publicly downloadable: request it from iTrust "
              "(https://itrust.sutd.edu.sg/itrust-labs_datasets/), then run "
              "`python -m tsadbench.datasets prepare {name} --from <your copy>`")


class DownloadError(OSError):
    """A transfer that failed, or a dataset that cannot be downloaded."""


class ChecksumError(DownloadError):
    """A downloaded file whose size or checksum is not the expected one."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file at its original source; `path` is where it goes under the destination folder."""

    url: str
    path: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    unpack: bool = False


TELEMANOM = (
    # md5 as published by two independent loaders (torch-timeseries, conmo); no sha256 is published.
    RemoteFile("https://s3-us-west-2.amazonaws.com/telemanom/data.zip", "data.zip",
               md5="c40a236775c1c3a26de601f66541b414", unpack=True),
    RemoteFile(TELEMANOM_LABELS, "data/labeled_anomalies.csv"),
)
SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    "SMD": tuple(RemoteFile(f"{OMNIANOMALY}/{part}/{machine}.txt",
                            f"ServerMachineDataset/{part}/{machine}.txt")
                 for part in ("train", "test", "test_label", "interpretation_label")
                 for machine in SMD_MACHINES),
    "SMAP": TELEMANOM,
    "MSL": TELEMANOM,
    "PSM": (RemoteFile(f"{PSM_DATA}/train.csv", "train.csv"),
            RemoteFile(f"{PSM_DATA}/test.csv", "test.csv"),
            RemoteFile(f"{PSM_DATA}/test_label.csv", "test_label.csv", size=966_273)),
}


def download(dataset: str, dest: Path, mirror: str | None = None,
             log: Callable[[str], None] = print) -> Path:
    """Fetch every file of `dataset` into `dest` (from `mirror`/<path> instead, if given)."""
    name = dataset_name(dataset)
    if name not in SOURCES:
        raise DownloadError(f"{name} {NOT_PUBLIC.format(name=name)}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    record = _read_record(dest)
    for remote in SOURCES[name]:
        url = remote.url if mirror is None else f"{mirror.rstrip('/')}/{remote.path}"
        known = record.get(remote.path, {}).get("sha256")
        path, digest = fetch(remote, dest, url, known)
        if not (remote.sha256 or remote.md5 or known):
            log(f"{remote.path}: no published checksum; recorded sha256 {digest} in {dest / RECORD}")
        record[remote.path] = {"url": url, "sha256": digest, "bytes": path.stat().st_size}
        _write_record(dest, record)
        if remote.unpack:
            unpack(path, dest)
    return dest


def fetch(remote: RemoteFile, dest: Path, url: str | None = None, recorded_sha256: str | None = None,
          attempts: int = 3, timeout: float = 60.0) -> tuple[Path, str]:
    """Download one file (resuming a `.part` left before), verify it; returns (path, sha256)."""
    url = url or remote.url
    target = Path(dest) / remote.path
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        try:
            return target, verify(target, remote, url, recorded_sha256)
        except ChecksumError:
            target.unlink()
    last_error: Exception | None = None
    for _ in range(attempts):
        try:
            _transfer(url, part, timeout)
            break
        except (ConnectionError, TimeoutError, HTTPException, urllib.error.URLError) as error:
            last_error = error
    else:
        kept = part.stat().st_size if part.is_file() else 0
        raise DownloadError(f"{url}: transfer interrupted after {attempts} attempt(s) ({last_error}); "
                            f"{part} keeps the {kept} bytes received: run the same command again to resume")
    try:
        digest = verify(part, remote, url, recorded_sha256)
    except ChecksumError:
        part.unlink()
        raise
    os.replace(part, target)
    return target, digest


def verify(path: Path, remote: RemoteFile, url: str, recorded_sha256: str | None = None) -> str:
    """Check size, sha256 and md5 where known; returns the file's sha256."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
    size = path.stat().st_size
    expected = [("size", remote.size, size), ("sha256", remote.sha256, sha256.hexdigest()),
                ("md5", remote.md5, md5.hexdigest()),
                ("sha256 recorded at the first download", recorded_sha256, sha256.hexdigest())]
    for what, want, got in expected:
        if want is not None and want != got:
            raise ChecksumError(
                f"{url}: {what} is {got}, expected {want}: the transfer was corrupted or the file "
                f"changed at its source; {path.name} was deleted, run the command again (if it fails "
                "the same way, the source changed: check it and update SOURCES)"
            )
    return sha256.hexdigest()


def _transfer(url: str, part: Path, timeout: float) -> None:
    """Append the rest of `url` to `part` (all of it when the server ignores Range)."""
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "tsadbench-datasets"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            return
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}; check the URL "
                            "(or --mirror) and try again") from error
    with response:
        resumed = offset > 0 and response.status == 206
        length = response.headers.get("Content-Length")
        received = 0
        with open(part, "ab" if resumed else "wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
    if length is not None and received < int(length):
        raise ConnectionError(f"connection closed after {received} of {length} bytes")


def unpack(archive: Path, dest: Path) -> None:
    """Extract a zip archive into `dest`, refusing members that would land outside it."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                if not (dest / member).resolve().is_relative_to(dest.resolve()):
                    raise DownloadError(f"{archive}: member {member!r} would be written outside "
                                        f"{dest}; refusing to unpack")
            bundle.extractall(dest)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive}: not a zip archive ({error}); delete it and download "
                            "again") from error


def _read_record(dest: Path) -> dict[str, dict[str, object]]:
    path = dest / RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_record(dest: Path, record: dict[str, dict[str, object]]) -> None:
    temporary = dest / (RECORD + ".tmp")
    temporary.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temporary, dest / RECORD)
