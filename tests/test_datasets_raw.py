"""Every raw reader on small fixtures written in its exact raw format: raw -> prepare -> load
gives back the same arrays, and every recorded choice is in the manifest."""
import datetime
import json
import sys
import types

import numpy as np
import pandas as pd
import pytest

from tests import fixtures_raw as fx
from tsadbench.datasets.canonical import DatasetFormatError, list_entities, load_entity
from tsadbench.datasets.prepare import prepare
from tsadbench.datasets.raw import READERS, ReadOptions, find_layout


def _manifest(root):
    return json.loads((root / "MANIFEST.json").read_text())


def test_registry_maps_every_dataset_to_its_raw_layouts_and_the_npy_dump():
    assert {name: [layout.name for layout in layouts] for name, layouts in READERS.items()} == {
        "SMD": ["omnianomaly", "npy", "tranad-processed"], "SMAP": ["telemanom", "npy", "tranad-processed"],
        "MSL": ["telemanom", "npy", "tranad-processed"], "PSM": ["ebay-csv", "npy"],
        "SWaT": ["itrust", "tslib-csv", "npy"], "WADI": ["itrust", "npy"]}


def test_smd_round_trip_with_interpretation_labels(tmp_path):
    machines = {f"machine-1-{i}": (fx.values(30, 3, i), fx.values(20, 3, 10 + i),
                                   fx.labels_from(20, [(3, 5), (9, 9)])) for i in (1, 2, 10)}
    fx.write_smd(tmp_path / "raw", machines, {"machine-1-1": ["4-6:1,3", "10-10:2"]})
    entry = prepare("SMD", tmp_path / "raw", tmp_path / "store")
    assert list_entities(tmp_path / "store", "SMD") == ["machine-1-1", "machine-1-10", "machine-1-2"]
    for machine, (train, test, labels) in machines.items():
        loaded = load_entity(tmp_path / "store", "SMD", machine)
        np.testing.assert_array_equal(loaded.train, train.astype(np.float32))
        np.testing.assert_array_equal(loaded.test, test.astype(np.float32))
        np.testing.assert_array_equal(loaded.labels, labels)
    assert (entry["entities"], entry["train_rows"], entry["test_rows"], entry["anomalies"],
            entry["segments"], entry["dims"]) == (3, 90, 60, 12, 6, [3])
    interpretation = json.loads((tmp_path / "store/SMD/interpretation_labels.json").read_text())
    assert interpretation["machines"] == {"machine-1-1": [{"range": [4, 6], "dims": [1, 3]},
                                                          {"range": [10, 10], "dims": [2]}]}


def test_smd_accepts_the_folder_itself_or_its_parent(tmp_path):
    base = fx.write_smd(tmp_path, {"machine-2-1": (fx.values(5, 2, 1), fx.values(4, 2, 2),
                                                   fx.labels_from(4, []))})
    assert find_layout("SMD", base).name == find_layout("SMD", tmp_path).name == "omnianomaly"


def _telemanom_channels():
    return [
        ("P-1", "SMAP", fx.values(30, 4, 1), fx.values(25, 4, 2), [[2, 4], [10, 12]]),
        ("P-2", "SMAP", fx.values(31, 4, 3), fx.values(26, 4, 4), [[5, 6]]),
        ("P-2", "SMAP", fx.values(31, 4, 3), fx.values(26, 4, 4), [[3, 9]]),
        ("A-1", "SMAP", fx.values(12, 4, 5), fx.values(14, 4, 6), [[0, 0]]),
        ("M-1", "MSL", fx.values(30, 5, 7), fx.values(25, 5, 8), [[0, 24]]),
    ]


def test_telemanom_splits_by_spacecraft_uses_inclusive_ranges_and_drops_p2(tmp_path):
    base = fx.write_telemanom(tmp_path / "raw", _telemanom_channels())
    np.save(base / "test" / "T-10.npy", fx.values(3, 4, 9))
    smap = prepare("SMAP", tmp_path / "raw", tmp_path / "store")
    msl = prepare("MSL", base, tmp_path / "store")
    assert list_entities(tmp_path / "store", "SMAP") == ["A-1", "P-1"]
    assert list_entities(tmp_path / "store", "MSL") == ["M-1"]
    p1 = load_entity(tmp_path / "store", "SMAP", "P-1")
    np.testing.assert_array_equal(np.flatnonzero(p1.labels), [2, 3, 4, 10, 11, 12])
    np.testing.assert_array_equal(p1.train, _telemanom_channels()[0][2].astype(np.float32))
    np.testing.assert_array_equal(p1.test, _telemanom_channels()[0][3].astype(np.float32))
    assert list(smap["preparation"]["excluded"]) == ["P-2"]
    assert smap["preparation"]["channels_without_label_row"] == ["T-10"]
    assert (smap["anomalies"], smap["segments"], msl["anomalies"], msl["dims"]) == (7, 3, 25, [5])


def test_psm_keeps_nans_as_published_and_counts_them(tmp_path):
    train, test = fx.values(40, 3, 1), fx.values(30, 3, 2)
    train[[3, 7], 1] = np.nan
    test[0, 2] = np.nan
    labels = fx.labels_from(30, [(0, 2), (20, 29)])
    fx.write_psm(tmp_path / "raw", train, test, labels, test_start=132480)
    entry = prepare("PSM", tmp_path / "raw", tmp_path / "store")
    loaded = load_entity(tmp_path / "store", "PSM", "psm")
    np.testing.assert_array_equal(loaded.train, train.astype(np.float32))
    np.testing.assert_array_equal(loaded.test, test.astype(np.float32))
    np.testing.assert_array_equal(loaded.labels, labels)
    assert np.flatnonzero(np.isnan(loaded.train).ravel()).tolist() == [10, 22]
    record = entry["preparation"]
    assert (entry["nan_count"], record["nan_train"], record["nan_test"]) == (3, 2, 1)
    assert entry["preparation"]["nan_policy"].startswith("kept as published")
    assert _manifest(tmp_path / "store")["files"][0]["nan_count"] == 3


def _swat(folder, train_rows=20, test_labels=None):
    start = datetime.datetime(2015, 12, 22, 16, 30)
    train, test = fx.values(train_rows, 4, 1), fx.values(15, 4, 2)
    test_labels = test_labels or ["Normal"] * 5 + ["Attack"] * 3 + ["A ttack"] * 2 + ["Normal"] * 5
    fx.write_swat_csv(folder / "Physical" / "SWaT_Dataset_Normal_v1.csv", train, ["Normal"] * train_rows,
                      start)
    fx.write_swat_csv(folder / "Physical" / "SWaT_Dataset_Attack_v0.csv", test, test_labels,
                      datetime.datetime(2015, 12, 28, 10))
    return train, test


def test_swat_reads_the_itrust_csv_with_typos_and_drops_startup_hours(tmp_path):
    train, test = _swat(tmp_path / "raw", train_rows=3 * 3600 // 900)
    entry = prepare("SWaT", tmp_path / "raw", tmp_path / "store",
                    options=ReadOptions(drop_startup_hours=5 / 3600))
    loaded = load_entity(tmp_path / "store", "SWaT", "swat")
    np.testing.assert_array_equal(loaded.train, train[5:].astype(np.float32))
    np.testing.assert_array_equal(loaded.test, test.astype(np.float32))
    np.testing.assert_array_equal(np.flatnonzero(loaded.labels), [5, 6, 7, 8, 9])
    record = entry["preparation"]
    assert record["label_spellings"] == {"Normal": 10, "Attack": 3, "A ttack": 2}
    assert record["tags"] == fx.SWAT_TAGS
    assert (record["dropped_startup_rows"], record["options"]["drop_startup_hours"]) == (5, 5 / 3600)


def test_swat_reads_semicolon_exports_with_decimal_commas(tmp_path):
    _swat(tmp_path / "raw")
    for path in (tmp_path / "raw" / "Physical").iterdir():
        lines = path.read_text().splitlines()
        path.write_text("\n".join(line.replace(",", ";").replace(".", ",") for line in lines) + "\n")
    prepare("SWaT", tmp_path / "raw", tmp_path / "store")
    assert load_entity(tmp_path / "store", "SWaT", "swat").train[0, 0] == np.float32(fx.values(20, 4, 1)[0, 0])


def test_wadi_a2_maps_minus_one_to_attack_drops_footer_and_empty_columns(tmp_path):
    train, test = fx.values(20, 4, 1), fx.values(15, 4, 2)
    train[:, 2], test[:, 2], test[3, 0] = np.nan, np.nan, np.nan
    labels = fx.labels_from(15, [(4, 6), (12, 12)])
    fx.write_lines(tmp_path / "raw" / "WADI_14days_new.csv", fx.wadi_a2_lines(train, None)[1:])
    fx.write_lines(tmp_path / "raw" / "WADI_attackdataLABLE.csv", fx.wadi_a2_lines(test, labels))
    entry = prepare("WADI", tmp_path / "raw", tmp_path / "store")
    loaded = load_entity(tmp_path / "store", "WADI", "wadi")
    keep = [0, 1, 3]
    np.testing.assert_array_equal(loaded.train, train[:, keep].astype(np.float32))
    np.testing.assert_array_equal(loaded.test, test[:, keep].astype(np.float32))
    np.testing.assert_array_equal(loaded.labels, labels)
    record = entry["preparation"]
    assert record["dropped_empty_columns"] == ["2_LS_001_AL"]
    assert record["dropped_footer_rows"] == {"train": 2, "test": 2}
    assert entry["nan_count"] == 1


def test_wadi_a1_strips_opc_paths_and_labels_from_the_attack_table(tmp_path):
    train, test = fx.values(20, 4, 1), fx.values(15, 4, 2)
    fx.write_wadi_a1(tmp_path / "raw", train, test, [
        "1,10/09/2017,18:00:03,18:00:05,1_MV_001", '2,10/09/2017,18:00:10,18:00:10,"2_LT_002, 1_AIT_001"'])
    entry = prepare("WADI", tmp_path / "raw", tmp_path / "store",
                    options=ReadOptions(drop_startup_hours=2 / 3600))
    loaded = load_entity(tmp_path / "store", "WADI", "wadi")
    np.testing.assert_array_equal(loaded.train, train[2:].astype(np.float32))
    np.testing.assert_array_equal(np.flatnonzero(loaded.labels), [3, 4, 5, 10])
    assert entry["preparation"]["tags"] == fx.WADI_TAGS


def test_preprocessed_npy_dump_round_trip(tmp_path):
    train, test = fx.values(50, 3, 1).astype(np.float32), fx.values(40, 3, 2).astype(np.float32)
    labels = fx.labels_from(40, [(5, 9)]).reshape(-1, 1).astype(np.float64)
    fx.write_preprocessed(tmp_path / "raw", "SMAP", train, test, labels)
    entry = prepare("SMAP", tmp_path / "raw", tmp_path / "store")
    loaded = load_entity(tmp_path / "store", "SMAP", "smap")
    np.testing.assert_array_equal(loaded.train, train)
    np.testing.assert_array_equal(loaded.test, test)
    np.testing.assert_array_equal(loaded.labels, labels[:, 0])
    assert entry["preparation"]["layout"] == "npy"


def test_xlsx_without_openpyxl_names_the_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    for stem in ("SWaT_Dataset_Normal_v1", "SWaT_Dataset_Attack_v0"):
        (tmp_path / f"{stem}.xlsx").write_bytes(b"PK")
    with pytest.raises(ModuleNotFoundError, match=r"SWaT_Dataset_Normal_v1\.xlsx: reading \.xlsx files "
                       r"needs the openpyxl package: `pip install openpyxl==3.1.5`"):
        prepare("SWaT", tmp_path, tmp_path / "store")


def test_swat_xlsx_sheet_with_title_row_and_datetime_cells(tmp_path, monkeypatch):
    """The spreadsheet path, with pandas' reader replaced by the sheet it would return."""
    start = datetime.datetime(2015, 12, 22, 16, 30)
    train, test = fx.values(4, 4, 1), fx.values(3, 4, 2)

    def sheet(data, labels):
        title = [["SWaT physical data", None, None, None, None, None]]
        header = [[" Timestamp", "FIT101", " LIT101", " MV101", "P101", "Normal/Attack"]]
        rows = [[start + datetime.timedelta(seconds=t), *row, label]
                for t, (row, label) in enumerate(zip(data.tolist(), labels))]
        return pd.DataFrame(title + header + rows + [[None] * 6], dtype=object)

    sheets = {"SWaT_Dataset_Normal_v1.xlsx": sheet(train, ["Normal"] * 4),
              "SWaT_Dataset_Attack_v0.xlsx": sheet(test, ["Normal", "A ttack", "Attack"])}
    for name in sheets:
        (tmp_path / "raw").mkdir(exist_ok=True)
        (tmp_path / "raw" / name).write_bytes(b"PK")
    monkeypatch.setitem(sys.modules, "openpyxl", types.ModuleType("openpyxl"))
    monkeypatch.setattr(pd, "read_excel", lambda path, **_: sheets[path.name])
    prepare("SWaT", tmp_path / "raw", tmp_path / "store")
    loaded = load_entity(tmp_path / "store", "SWaT", "swat")
    np.testing.assert_array_equal(loaded.train, train.astype(np.float32))
    np.testing.assert_array_equal(loaded.labels, [0, 1, 1])
    sheets["SWaT_Dataset_Attack_v0.xlsx"].iloc[3, 2] = "n/a"
    with pytest.raises(DatasetFormatError, match=r"SWaT_Dataset_Attack_v0\.xlsx: row 4, column 3 "
                       r"\('LIT101'\): 'n/a' is not a number"):
        prepare("SWaT", tmp_path / "raw", tmp_path / "store", overwrite=True)


def test_swat_real_xlsx_files_round_trip(tmp_path):
    """Real .xlsx files written by openpyxl (pinned in requirements.txt), read back by prepare."""
    start = datetime.datetime(2015, 12, 22, 16, 30)
    train, test = fx.values(4, 3, 1), fx.values(3, 3, 2)
    (tmp_path / "raw").mkdir()
    for name, data, labels in (("SWaT_Dataset_Normal_v1.xlsx", train, ["Normal"] * 4),
                               ("SWaT_Dataset_Attack_v0.xlsx", test, ["Normal", "A ttack", "Attack"])):
        rows = [[start + datetime.timedelta(seconds=t), *row, label]
                for t, (row, label) in enumerate(zip(data.tolist(), labels))]
        sheet = pd.DataFrame([["SWaT physical data", None, None, None, None],
                              [" Timestamp", "FIT101", " LIT101", "P101", "Normal/Attack"], *rows], dtype=object)
        sheet.to_excel(tmp_path / "raw" / name, header=False, index=False, engine="openpyxl")
    prepare("SWaT", tmp_path / "raw", tmp_path / "store")
    loaded = load_entity(tmp_path / "store", "SWaT", "swat")
    np.testing.assert_allclose(loaded.train, train.astype(np.float32))
    np.testing.assert_allclose(loaded.test, test.astype(np.float32))
    np.testing.assert_array_equal(loaded.labels, [0, 1, 1])
