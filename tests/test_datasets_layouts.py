"""The layouts users actually hold (issue 14): telemanom's checkout and the Kaggle archive on real
MSL channels, Time-Series-Library's dataset/ parents, TranAD's copies, TSLib's SWaT CSVs, the
repaired WADI attack table, concatenated dumps cut back into entities, and the messages that
name the missing piece when a folder holds only part of a layout."""
import csv
import io
import json
import re
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from tests import fixtures_raw as fx
from tsadbench.datasets import download as dl
from tsadbench.datasets.canonical import DatasetFormatError, list_entities, load_entity
from tsadbench.datasets.cli import main
from tsadbench.datasets.prepare import prepare
from tsadbench.datasets.raw import READERS, concatenated, entities, find_layout, wadi

RAW_README = Path(__file__).resolve().parents[1] / "datasets" / "raw" / "README.md"


def _segments(labels):
    """Inclusive [start, end] ranges of the 1-runs of `labels`."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], labels.astype(np.int8), [0]])))
    return [[int(s), int(e) - 1] for s, e in zip(edges[::2], edges[1::2])]


def _write_real_msl(shared, arrays_dir, labels_path):
    """The real MSL channels as telemanom's float64 .npy files plus a labeled_anomalies.csv
    rebuilt from their labels (in telemanom's csv order)."""
    (arrays_dir / "train").mkdir(parents=True, exist_ok=True)
    (arrays_dir / "test").mkdir(parents=True, exist_ok=True)
    labels_path.parent.mkdir(parents=True, exist_ok=True)
    with open(labels_path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["chan_id", "spacecraft", "anomaly_sequences", "class", "num_values"])
        for known in entities.MSL:
            entity = load_entity(shared, "MSL", known.name)
            np.save(arrays_dir / "train" / f"{known.name}.npy", entity.train.astype(np.float64))
            np.save(arrays_dir / "test" / f"{known.name}.npy", entity.test.astype(np.float64))
            segments = _segments(entity.labels)
            writer.writerow([known.name, "MSL", str(segments), "[point]", entity.test.shape[0]])


def _store_summary(root):
    manifest = json.loads((root / "MANIFEST.json").read_text())
    entry = manifest["datasets"]["MSL"]
    stats = {k: entry[k] for k in ("entities", "train_rows", "test_rows", "anomalies", "segments", "nan_count")}
    arrays = {name: load_entity(root, "MSL", name) for name in list_entities(root, "MSL")}
    return stats, arrays, entry["preparation"]["arrangement"]


def test_telemanom_checkout_kaggle_archive_and_flat_layout_give_the_same_msl_store(shared_data_root, tmp_path):
    shared = Path(shared_data_root)
    flat, checkout, kaggle = tmp_path / "flat", tmp_path / "telemanom", tmp_path / "downloads" / "kaggle"
    _write_real_msl(shared, flat, flat / "labeled_anomalies.csv")
    _write_real_msl(shared, checkout / "data", checkout / "labeled_anomalies.csv")
    _write_real_msl(shared, kaggle / "data" / "data", kaggle / "labeled_anomalies.csv")
    (checkout / "telemanom").mkdir()
    summaries = {}
    for name, source in (("flat", flat), ("checkout", checkout), ("kaggle", kaggle),
                         ("kaggle parent", tmp_path / "downloads")):
        assert main(["prepare", "MSL", "--from", str(source), "--root", str(tmp_path / name)]) == 0
        summaries[name] = _store_summary(tmp_path / name)
    stats, arrays, arrangement = summaries["flat"]
    assert arrangement.startswith("flat")
    assert summaries["checkout"][2].startswith("telemanom checkout")
    assert summaries["kaggle"][2].startswith("Kaggle archive") and summaries["kaggle parent"][2] == summaries["kaggle"][2]
    published = json.loads((shared / "MANIFEST.json").read_text())["datasets"]["MSL"]
    assert stats == {k: published.get(k, stats[k]) for k in stats}
    assert (stats["entities"], stats["train_rows"], stats["test_rows"], stats["anomalies"]) == (27, 58_317, 73_729, 7_766)
    for name in ("checkout", "kaggle", "kaggle parent"):
        assert summaries[name][0] == stats
        assert sorted(summaries[name][1]) == sorted(arrays)
        for entity, ours in summaries[name][1].items():
            np.testing.assert_array_equal(ours.train, arrays[entity].train)
            np.testing.assert_array_equal(ours.test, arrays[entity].test)
            np.testing.assert_array_equal(ours.labels, arrays[entity].labels)
    np.testing.assert_array_equal(arrays["S-2"].labels, load_entity(shared, "MSL", "S-2").labels)


def _channel(tmp_path, arrays_dir):
    for part, seed in (("train", 1), ("test", 2)):
        (arrays_dir / part).mkdir(parents=True, exist_ok=True)
        np.save(arrays_dir / part / "M-1.npy", fx.values(8, 3, seed))


def test_arrays_without_labeled_anomalies_name_where_the_file_is(tmp_path):
    _channel(tmp_path, tmp_path / "kaggle" / "data" / "data")
    with pytest.raises(FileNotFoundError, match=r"no complete MSL layout: found .*data/data/train and "
                       r".*data/data/test but no labeled_anomalies\.csv beside them or above them: "
                       r"labeled_anomalies\.csv is in telemanom's repository root .* and in the Kaggle "
                       r"archive's top folder; put it in .*kaggle"):
        prepare("MSL", tmp_path / "kaggle", tmp_path / "store")


def test_labels_without_arrays_name_the_missing_folders(tmp_path):
    fx.write_lines(tmp_path / "telemanom" / "labeled_anomalies.csv", ["chan_id,spacecraft,anomaly_sequences,class,num_values"])
    with pytest.raises(FileNotFoundError, match=r"found .*labeled_anomalies\.csv but no train/ and test/ "
                       r"folders of <channel>\.npy beside it, in data/ or in data/data/: unpack telemanom's data\.zip"):
        prepare("SMAP", tmp_path, tmp_path / "store")


def test_tslib_dataset_parent_is_accepted_for_npy_dumps_and_psm_alike(tmp_path):
    dataset = tmp_path / "dataset"
    fx.write_preprocessed(dataset / "SMAP", "SMAP", fx.values(9, 2, 1), fx.values(7, 2, 2), fx.labels_from(7, [(2, 3)]))
    fx.write_psm(dataset / "PSM", fx.values(5, 2, 3), fx.values(4, 2, 4), fx.labels_from(4, [(1, 1)]))
    fx.write_preprocessed(dataset / "MSL", "MSL", fx.values(9, 2, 1), fx.values(7, 2, 2), fx.labels_from(7, []))
    for name in ("SMAP", "PSM"):
        assert find_layout(name, dataset).name == find_layout(name, dataset / name).name
        prepare(name, dataset, tmp_path / "store")
    entry = prepare("MSL", dataset, tmp_path / "store")
    assert entry["preparation"]["entities_from_dump"].startswith("kept as one entity: 9 train rows")
    (dataset / "SMAP" / "SMAP_test_label.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"found SMAP_\*\.npy files in .*dataset/SMAP but not "
                       r"SMAP_test_label\.npy"):
        prepare("SMAP", dataset, tmp_path / "store2")


def test_concatenated_smd_dump_is_cut_into_machines_in_the_order_it_agrees_with(monkeypatch):
    small = (entities.KnownEntity("machine-1-1", 4, 3, 1), entities.KnownEntity("machine-1-2", 2, 5, 2),
             entities.KnownEntity("machine-1-10", 3, 2, 1))
    monkeypatch.setitem(concatenated.KNOWN, "SMD", small)
    monkeypatch.setitem(concatenated.CHANNELS, "SMD", 2)
    train, test = fx.values(9, 2, 1), fx.values(10, 2, 2)
    text_order = np.array([1, 0, 0, 1, 0, 1, 1, 0, 0, 0], dtype=np.uint8)  # 1-1, 1-10, 1-2
    parts, how = concatenated.split("SMD", train, test, text_order)
    assert how == "split into 3 entities, machines sorted as text"
    assert [p.entity for p in parts] == ["machine-1-1", "machine-1-10", "machine-1-2"]
    np.testing.assert_array_equal(parts[1].train, train[4:7])
    np.testing.assert_array_equal(parts[2].test, test[5:])
    numeric = np.array([1, 0, 0, 0, 0, 0, 1, 1, 1, 0], dtype=np.uint8)  # 1-1, 1-2, 1-10
    assert [p.entity for p in concatenated.split("SMD", train, test, numeric)[0]] == [
        "machine-1-1", "machine-1-2", "machine-1-10"]
    parts, how = concatenated.split("SMD", train, test, np.zeros(10, dtype=np.uint8))
    assert [p.entity for p in parts] == ["smd"] and "no known entity order" in how
    both = np.array([1, 0, 0, 1, 0, 0, 1, 0, 0, 1], dtype=np.uint8)
    parts, how = concatenated.split("SMD", train, test, both)
    assert [p.entity for p in parts] == ["smd"] and "several entity orders" in how


def test_known_smd_boundaries_agree_with_the_published_totals_and_the_staged_machines(shared_data_root):
    assert (sum(e.train_rows for e in entities.SMD), sum(e.test_rows for e in entities.SMD),
            sum(e.anomalies for e in entities.SMD)) == (708_405, 708_420, 29_444)
    shared = Path(shared_data_root)
    for name in list_entities(shared, "SMD"):
        known = next(e for e in entities.SMD if e.name == name)
        staged = load_entity(shared, "SMD", name)
        assert (known.train_rows, known.test_rows, known.anomalies) == (
            staged.train.shape[0], staged.test.shape[0], int(staged.labels.sum()))


def test_tranad_processed_channels_collapse_per_channel_labels(tmp_path):
    folder = tmp_path / "processed" / "MSL"
    folder.mkdir(parents=True)
    test = fx.values(6, 3, 2)
    per_channel = np.zeros((6, 3))
    per_channel[2:4, :] = 1
    np.save(folder / "M-1_train.npy", fx.values(8, 3, 1))
    np.save(folder / "M-1_test.npy", test)
    np.save(folder / "M-1_labels.npy", per_channel)
    entry = prepare("MSL", tmp_path / "processed", tmp_path / "store")
    loaded = load_entity(tmp_path / "store", "MSL", "M-1")
    np.testing.assert_array_equal(loaded.labels, [0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(loaded.test, test.astype(np.float32))
    assert entry["preparation"]["layout"] == "tranad-processed"
    assert "ends SMAP/MSL ranges exclusively" in entry["preparation"]["labels"]
    with pytest.raises(FileNotFoundError, match="holds none of the SMAP layouts"):
        prepare("SMAP", folder, tmp_path / "store")


def test_tranad_smd_copy_with_labels_folder_is_read_like_omnianomaly(tmp_path):
    machines = {"machine-1-1": (fx.values(6, 3, 1), fx.values(5, 3, 2), fx.labels_from(5, [(1, 2)]))}
    base = fx.write_smd(tmp_path / "omni", machines)
    copy = tmp_path / "TranAD" / "data" / "SMD"
    copy.mkdir(parents=True)
    for part, target in (("train", "train"), ("test", "test"), ("test_label", "labels")):
        (base / part).rename(copy / target)
    entry = prepare("SMD", tmp_path / "TranAD" / "data", tmp_path / "store")
    assert entry["preparation"]["labels"].startswith("labels/<machine>.txt, one 0/1 per line (TranAD's copy")
    np.testing.assert_array_equal(load_entity(tmp_path / "store", "SMD", "machine-1-1").labels, [0, 1, 1, 0, 0])
    (copy / "labels").rename(copy / "elsewhere")
    with pytest.raises(FileNotFoundError, match=r"found train/ and test/ but no test_label/ \(OmniAnomaly\) "
                       r"or labels/ \(TranAD's copy\) folder"):
        prepare("SMD", copy, tmp_path / "store2")


def _tslib_swat(folder, train, test, labels):
    header = ",".join([*fx.SWAT_TAGS, "Normal/Attack"])
    fx.write_lines(folder / "swat_train2.csv", [header] + [",".join(map(repr, row)) + ",0" for row in train.tolist()])
    fx.write_lines(folder / "swat2.csv", [header] + [",".join(map(repr, row)) + f",{v}"
                                                     for row, v in zip(test.tolist(), labels)])


def test_tslib_swat_csvs_are_read_with_the_label_in_the_last_column(tmp_path):
    train, test = fx.values(6, 4, 1), fx.values(5, 4, 2)
    _tslib_swat(tmp_path / "dataset" / "SWaT", train, test, [0, 1, 1, 0, 0])
    entry = prepare("SWaT", tmp_path / "dataset", tmp_path / "store")
    loaded = load_entity(tmp_path / "store", "SWaT", "swat")
    np.testing.assert_array_equal(loaded.train, train.astype(np.float32))
    np.testing.assert_array_equal(loaded.labels, [0, 1, 1, 0, 0])
    assert (entry["preparation"]["layout"], entry["preparation"]["features"]) == ("tslib-csv", fx.SWAT_TAGS)
    (tmp_path / "dataset" / "SWaT" / "swat2.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"found .*swat_train2\.csv but not swat2\.csv beside it"):
        prepare("SWaT", tmp_path / "dataset", tmp_path / "store2")


TRANAD_ROWS = ["11,11/11/2017,18:00:03,18:00:04,2_MCV_007", "12,12/11/2017,18:00:06,18:00:06,2_MCV_007",
               '15,13/11/2017,18:00:09,18:00:09,"2_LT_002, 1_AIT_001"']


def test_wadi_attack_table_known_impossible_dates_are_repaired_with_a_warning(tmp_path):
    fx.write_wadi_a1(tmp_path, fx.values(4, 4, 1), fx.values(12, 4, 2), TRANAD_ROWS)
    attack = tmp_path / "WADI_attackdata.csv"
    attack.write_text(attack.read_text().replace("10/9/2017", "10/11/2017"))
    with pytest.warns(wadi.AttackTableRepaired, match=r"corrected 3 known impossible dates .*line 2 \(Id 11\): "
                      r"Date 11/11/2017 -> 10/11/2017; line 3 \(Id 12\): Date 12/11/2017 -> 10/11/2017; "
                      r"line 4 \(Id 15\): Date 13/11/2017 -> 10/11/2017"):
        entry = prepare("WADI", tmp_path, tmp_path / "store")
    np.testing.assert_array_equal(np.flatnonzero(load_entity(tmp_path / "store", "WADI", "wadi").labels), [3, 4, 6, 9])
    assert len(entry["preparation"]["attack_table_repairs"]) == 3


def test_wadi_attack_row_outside_the_test_period_stays_an_error(tmp_path):
    fx.write_wadi_a1(tmp_path, fx.values(4, 4, 1), fx.values(12, 4, 2), ["16,11/12/2017,18:00:03,18:00:04,1_MV_001"])
    with pytest.raises(DatasetFormatError, match=r"WADI_attacklabels\.csv: line 2: the window lies outside the test period"):
        prepare("WADI", tmp_path, tmp_path / "store")


def test_download_smap_without_network_ends_with_the_manual_route(tmp_path, monkeypatch, capsys):
    calls = []

    def offline(request, timeout):
        calls.append(request.full_url)
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    assert main(["download", "SMAP", "--to", str(tmp_path / "raw")]) == 2
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: SMAP could not be downloaded (")
    assert "Network is unreachable" in error[0]
    assert ("kaggle.com/datasets/patrickfleith/nasa-anomaly-detection-dataset-smap-msl" in error[0]
            and "git clone https://github.com/khundman/telemanom" in error[0])
    assert error[0].endswith("then run `python -m tsadbench.datasets prepare SMAP --from <that folder>`")
    assert {url.split("/")[2] for url in calls} == {"raw.githubusercontent.com", "s3-us-west-2.amazonaws.com"}


def test_pinned_telemanom_checksums_accept_the_real_files_and_catch_a_changed_byte(shared_data_root, tmp_path):
    """S-2 (MSL) and E-5 (SMAP) train hold float32-exact values: their float64 .npy files, as
    telemanom's data.zip holds them, are rebuilt from the staged store bit for bit."""
    shared = Path(shared_data_root)
    for dataset, channel in (("MSL", "S-2"), ("SMAP", "E-5")):
        remote = next(f for f in dl.SOURCES[dataset] if f.path == f"train/{channel}.npy")
        buffer = io.BytesIO()
        np.save(buffer, load_entity(shared, dataset, channel).train.astype(np.float64))
        path = tmp_path / f"{channel}.npy"
        path.write_bytes(buffer.getvalue())
        assert dl.verify(path, remote, remote.url) == remote.sha256
        data = bytearray(buffer.getvalue())
        data[-1] ^= 1
        path.write_bytes(bytes(data))
        with pytest.raises(dl.ChecksumError, match=rf"train/{channel}\.npy: sha256 is [0-9a-f]{{64}}, expected {remote.sha256}"):
            dl.verify(path, remote, remote.url)


def test_raw_readme_documents_every_layout_in_detection_order():
    text = RAW_README.read_text()
    for dataset, layouts in READERS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {dataset} |"))
        assert re.findall(r"`([a-z-]+)`", row.split("|")[2]) == [layout.name for layout in layouts], dataset
