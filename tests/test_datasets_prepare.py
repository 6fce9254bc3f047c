"""prepare: the manifest it writes, how it replaces a store, and its memory use."""
import hashlib
import json
import tracemalloc

import numpy as np
import pytest

from tests import fixtures_raw as fx
from tsadbench.datasets.canonical import DatasetFormatError, list_entities, load_entity
from tsadbench.datasets.cli import main
from tsadbench.datasets.prepare import prepare


def _smd(folder, seeds=(1, 2)):
    labels = fx.labels_from(6, [(0, 1), (4, 4)])
    machines = {f"machine-1-{s}": (fx.values(8, 2, s), fx.values(6, 2, 10 + s), labels) for s in seeds}
    return fx.write_smd(folder, machines)


def test_manifest_records_sha256_shapes_anomalies_segments_and_nans(tmp_path):
    _smd(tmp_path / "raw")
    prepare("SMD", tmp_path / "raw", tmp_path / "store")
    manifest = json.loads((tmp_path / "store/MANIFEST.json").read_text())
    files = manifest["files"]
    assert [f["path"] for f in files] == ["SMD/machine-1-1.npz", "SMD/machine-1-2.npz"]
    for entry in files:
        data = (tmp_path / "store" / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
        assert (entry["train_shape"], entry["test_shape"], entry["labels_shape"]) == ([8, 2], [6, 2], [6])
        assert (entry["anomalies"], entry["anomaly_ratio"], entry["segments"],
                entry["nan_count"]) == (3, 0.5, 2, 0)
    smd = manifest["datasets"]["SMD"]
    assert [smd[k] for k in ("entities", "train_rows", "test_rows", "anomalies", "segments",
                             "nan_count")] == [2, 16, 12, 6, 4, 0]
    assert smd["preparation"]["layout"] == "omnianomaly"


def test_manifest_keeps_other_datasets_and_overwrite_replaces_the_entities(tmp_path):
    _smd(tmp_path / "smd", seeds=(1, 2))
    fx.write_preprocessed(tmp_path / "msl", "MSL", fx.values(5, 2, 1), fx.values(4, 2, 2),
                          fx.labels_from(4, [(1, 1)]))
    prepare("SMD", tmp_path / "smd", tmp_path / "store")
    prepare("MSL", tmp_path / "msl", tmp_path / "store")
    _smd(tmp_path / "smd2", seeds=(3,))
    assert main(["prepare", "SMD", "--from", str(tmp_path / "smd2"), "--root", str(tmp_path / "store"),
                 "--overwrite"]) == 0
    assert list_entities(tmp_path / "store", "SMD") == ["machine-1-3"]
    manifest = json.loads((tmp_path / "store/MANIFEST.json").read_text())
    assert [f["path"] for f in manifest["files"]] == ["MSL/msl.npz", "SMD/machine-1-3.npz"]
    assert sorted(manifest["datasets"]) == ["MSL", "SMD"]
    assert manifest["datasets"]["SMD"]["entities"] == 1


def test_a_failure_half_way_leaves_the_previous_store_untouched(tmp_path):
    _smd(tmp_path / "raw", seeds=(1,))
    prepare("SMD", tmp_path / "raw", tmp_path / "store")
    before = (tmp_path / "store/SMD/machine-1-1.npz").read_bytes()
    _smd(tmp_path / "raw", seeds=(1, 2))
    (tmp_path / "raw/ServerMachineDataset/test_label/machine-1-2.txt").write_text("0\n")
    with pytest.raises(DatasetFormatError, match="1 labels for the 6 rows"):
        prepare("SMD", tmp_path / "raw", tmp_path / "store", overwrite=True)
    assert (tmp_path / "store/SMD/machine-1-1.npz").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["MANIFEST.json", "SMD"]


def test_prepare_and_load_hold_at_most_twice_the_array_size(tmp_path):
    channels = [(f"A-{i}", "SMAP", fx.values(3000, 25, i), fx.values(3000, 25, 100 + i), [[10, 20]])
                for i in range(1, 7)]
    fx.write_telemanom(tmp_path / "raw", channels)
    canonical_bytes = sum(4 * (train.size + test.size) + test.shape[0] for _, _, train, test, _ in channels)
    tracemalloc.start()
    try:
        prepare("SMAP", tmp_path / "raw", tmp_path / "store")
        _, prepare_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for entity in list_entities(tmp_path / "store", "SMAP"):
            load_entity(tmp_path / "store", "SMAP", entity)
        _, load_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert prepare_peak < 2 * canonical_bytes
    assert load_peak < 2 * canonical_bytes


def test_cli_prepare_prints_what_it_did(tmp_path, capsys):
    _smd(tmp_path / "raw")
    assert main(["prepare", "smd", "--from", str(tmp_path / "raw"), "--root", str(tmp_path / "store")]) == 0
    store = tmp_path / "store"
    assert capsys.readouterr().out == (f"prepared 2 entities of smd into {store} (layout omnianomaly; "
                                       f"manifest {store / 'MANIFEST.json'})\n")
    np.testing.assert_array_equal(load_entity(tmp_path / "store", "SMD", "machine-1-2").train,
                                  fx.values(8, 2, 2).astype(np.float32))


def test_real_smap_dump_is_cut_back_into_its_channels_within_twice_its_array_size(shared_data_root, tmp_path):
    """The common SMAP_*.npy dump (channels sorted by name, end to end) becomes the 53 channels."""
    from pathlib import Path
    shared = Path(shared_data_root)
    names = sorted(list_entities(shared, "SMAP"))
    entities = [load_entity(shared, "SMAP", e) for e in names]
    train = np.concatenate([e.train for e in entities])
    test = np.concatenate([e.test for e in entities])
    labels = np.concatenate([e.labels for e in entities]).astype(bool)
    del entities
    fx.write_preprocessed(tmp_path / "raw", "SMAP", train, test, labels)
    array_bytes = train.nbytes + test.nbytes + labels.nbytes
    tracemalloc.start()
    try:
        entry = prepare("SMAP", tmp_path / "raw", tmp_path / "store")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * array_bytes
    assert (entry["entities"], entry["train_rows"], entry["test_rows"], entry["anomalies"]) == (
        53, 135_183, 427_617, 54_696)
    assert entry["preparation"]["entities_from_dump"].startswith("split into 53 entities, channels sorted")
    assert list_entities(tmp_path / "store", "SMAP") == names
    for name in names:
        ours, theirs = load_entity(tmp_path / "store", "SMAP", name), load_entity(shared, "SMAP", name)
        np.testing.assert_array_equal(ours.train, theirs.train)
        np.testing.assert_array_equal(ours.test, theirs.test)
        np.testing.assert_array_equal(ours.labels, theirs.labels)
