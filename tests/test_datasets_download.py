"""download against a local HTTP server on 127.0.0.1: a good file, a corrupted one, an
interrupted transfer (resumed with a Range request), and whole datasets through --mirror."""
import hashlib
import http.server
import io
import json
import threading
import zipfile

import numpy as np
import pytest

from tests import fixtures_raw as fx
from tsadbench.datasets import download as dl
from tsadbench.datasets.canonical import load_entity
from tsadbench.datasets.cli import main
from tsadbench.datasets.prepare import prepare

PAYLOAD = bytes(range(256)) * 40


class Server(http.server.ThreadingHTTPServer):
    """Serves `files`; `cut` makes the first response of a path stop half-way."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.cut: set[str] = set()
        self.ignore_range: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server, path = self.server, self.path.lstrip("/")
        server.requests.append((path, self.headers.get("Range")))
        if path not in server.files:
            self.send_error(404)
            return
        data = server.files[path]
        wanted = self.headers.get("Range") if path not in server.ignore_range else None
        start = int(wanted[len("bytes="):-1]) if wanted else 0
        if start >= len(data):
            self.send_error(416)
            return
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if path in server.cut:
            server.cut.discard(path)
            self.wfile.write(data[start:start + (len(data) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data[start:])


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    serving = Server()
    thread = threading.Thread(target=serving.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield serving
    serving.shutdown()
    serving.server_close()


def _remote(server, name, data, **checks):
    server.files[name] = data
    return dl.RemoteFile(f"{server.url}/{name}", name, **checks)


def test_good_file_is_verified_and_renamed(server, tmp_path):
    remote = _remote(server, "good.bin", PAYLOAD, sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                     md5=hashlib.md5(PAYLOAD).hexdigest(), size=len(PAYLOAD))
    path, digest = dl.fetch(remote, tmp_path)
    assert path.read_bytes() == PAYLOAD and digest == hashlib.sha256(PAYLOAD).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.bin"]
    dl.fetch(remote, tmp_path)
    assert len(server.requests) == 1


def test_corrupted_file_raises_and_leaves_nothing_behind(server, tmp_path):
    remote = _remote(server, "bad.bin", PAYLOAD[:-1] + b"x", sha256=hashlib.sha256(PAYLOAD).hexdigest())
    expected = hashlib.sha256(PAYLOAD).hexdigest()
    with pytest.raises(dl.ChecksumError, match=rf"{server.url}/bad.bin: sha256 is [0-9a-f]{{64}}, expected "
                       rf"{expected}: the transfer was corrupted .*bad.bin.part was deleted"):
        dl.fetch(remote, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_resumes_with_a_range_request(server, tmp_path):
    remote = _remote(server, "big.bin", PAYLOAD, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    server.cut.add("big.bin")
    path, _ = dl.fetch(remote, tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert server.requests == [("big.bin", None), ("big.bin", f"bytes={len(PAYLOAD) // 2}-")]


def test_part_left_by_an_earlier_run_is_resumed(server, tmp_path):
    remote = _remote(server, "big.bin", PAYLOAD, md5=hashlib.md5(PAYLOAD).hexdigest())
    (tmp_path / "big.bin.part").write_bytes(PAYLOAD[:1000])
    path, _ = dl.fetch(remote, tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert server.requests == [("big.bin", "bytes=1000-")]


def test_server_ignoring_range_restarts_from_scratch(server, tmp_path):
    remote = _remote(server, "big.bin", PAYLOAD, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    server.ignore_range.add("big.bin")
    (tmp_path / "big.bin.part").write_bytes(b"stale bytes")
    assert dl.fetch(remote, tmp_path)[0].read_bytes() == PAYLOAD


def test_transfer_cut_every_time_keeps_the_part_for_the_next_run(server, tmp_path):
    remote = _remote(server, "big.bin", PAYLOAD)
    server.cut.add("big.bin")
    with pytest.raises(dl.DownloadError, match=r"transfer interrupted after 1 attempt\(s\) "
                       r".*big.bin.part keeps the "
                       r"5120 bytes received: run the same command again to resume"):
        dl.fetch(remote, tmp_path, attempts=1)
    assert dl.fetch(remote, tmp_path)[0].read_bytes() == PAYLOAD


def test_missing_file_on_the_server(server, tmp_path):
    with pytest.raises(dl.DownloadError, match=r"/nothing.bin: HTTP 404 .*check the URL"):
        dl.fetch(dl.RemoteFile(f"{server.url}/nothing.bin", "nothing.bin"), tmp_path)


def test_sources_are_pinned_and_checksums_declared_where_known():
    assert {name: len(files) for name, files in dl.SOURCES.items()} == {
        "SMD": 112, "SMAP": 1 + 2 * 53, "MSL": 1 + 2 * 27, "PSM": 3}
    assert all("/7fb0e0acf89ea49908896bcc9f9e80fcfff6baf4/" in f.url for f in dl.SOURCES["SMD"])
    for name in ("SMAP", "MSL"):
        assert all(f.sha256 and f.size for f in dl.SOURCES[name])
        assert all("/7ffb98d0c18189cc3d9ab732b4cb0278200a0af0/" in f.url for f in dl.SOURCES[name][1:])
        zip_file = dl.FALLBACKS[name][0]
        assert (zip_file.sha256, zip_file.md5) == (
            "b4d66deb492d9b0a353b51879152687ed9313897e8e19320d2dc853d738ed8a7", "c40a236775c1c3a26de601f66541b414")
    assert [f.size for f in dl.SOURCES["PSM"]] == [63_628_087, 42_523_490, 966_273]


def test_psm_size_check_catches_a_wrong_test_label_file(server, tmp_path):
    fx.write_psm(tmp_path / "src", fx.values(5, 2, 1), fx.values(4, 2, 2), fx.labels_from(4, [(1, 2)]))
    for name in ("train.csv", "test.csv", "test_label.csv"):
        server.files[name] = (tmp_path / "src" / name).read_bytes()
    with pytest.raises(dl.ChecksumError, match=r"train.csv: size is \d+, expected 63628087"):
        dl.download("PSM", tmp_path / "dest", mirror=server.url, log=lambda _: None)
    assert not (tmp_path / "dest/train.csv").exists()


def test_psm_download_records_first_seen_sha256_then_prepares(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(dl.SOURCES, "PSM", tuple(dl.RemoteFile(f.url, f.path) for f in dl.SOURCES["PSM"]))
    train, test, labels = fx.values(5, 2, 1), fx.values(4, 2, 2), fx.labels_from(4, [(1, 2)])
    fx.write_psm(tmp_path / "src", train, test, labels)
    for name in ("train.csv", "test.csv", "test_label.csv"):
        server.files[name] = (tmp_path / "src" / name).read_bytes()
    assert main(["download", "psm", "--to", str(tmp_path / "dest"), "--mirror", server.url]) == 0
    out = capsys.readouterr().out
    assert "train.csv: no published checksum; recorded sha256" in out
    assert f"next: python -m tsadbench.datasets prepare psm --from {tmp_path / 'dest'}" in out
    record = json.loads((tmp_path / "dest/_downloads.json").read_text())
    assert record["test.csv"]["sha256"] == hashlib.sha256(server.files["test.csv"]).hexdigest()
    (tmp_path / "dest/test.csv").write_text("damaged")
    dl.download("PSM", tmp_path / "dest", mirror=server.url, log=lambda _: None)
    assert [r for r in server.requests if r[0] == "test.csv"] == [("test.csv", None)] * 2
    prepare("PSM", tmp_path / "dest", tmp_path / "store")
    np.testing.assert_array_equal(load_entity(tmp_path / "store", "PSM", "psm").test, test.astype(np.float32))


def test_telemanom_zip_is_unpacked_into_the_layout_prepare_reads(server, tmp_path, monkeypatch):
    fx.write_telemanom(tmp_path / "src", [("A-1", "SMAP", fx.values(6, 2, 1), fx.values(5, 2, 2), [[1, 3]])])
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        for part in ("train", "test"):
            archive.write(tmp_path / f"src/data/{part}/A-1.npy", f"data/{part}/A-1.npy")
    server.files["data.zip"] = bundle.getvalue()
    server.files["data/labeled_anomalies.csv"] = (tmp_path / "src/data/labeled_anomalies.csv").read_bytes()
    zip_source = dl.RemoteFile(dl.TELEMANOM_ZIP, "data.zip",
                               md5=hashlib.md5(bundle.getvalue()).hexdigest(), unpack=True)
    labels = dl.RemoteFile(dl.TELEMANOM_LABELS, "data/labeled_anomalies.csv")
    monkeypatch.setitem(dl.SOURCES, "SMAP", (zip_source, labels))
    dl.download("SMAP", tmp_path / "dest", mirror=server.url, log=lambda _: None)
    prepare("SMAP", tmp_path / "dest", tmp_path / "store")
    np.testing.assert_array_equal(np.flatnonzero(load_entity(tmp_path / "store", "SMAP", "A-1").labels), [1, 2, 3])


def test_zip_member_escaping_the_destination_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("../outside.txt", "x")
    (tmp_path / "dest").mkdir()
    with pytest.raises(dl.DownloadError, match=r"evil.zip: member '../outside.txt' would be written outside"):
        dl.unpack(tmp_path / "evil.zip", tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()


def test_itrust_datasets_are_not_downloadable(capsys):
    assert main(["download", "wadi"]) == 2
    assert capsys.readouterr().err == (
        "error: WADI is not publicly downloadable: request it from iTrust "
        "(https://itrust.sutd.edu.sg/itrust-labs_datasets/), then run "
        "`python -m tsadbench.datasets prepare WADI --from <your copy>`\n")
