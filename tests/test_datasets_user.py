"""Your own data: one CSV/Parquet file per entity, folders of them, train/test pairs, and TSB-AD's
CSV layout, prepared into the canonical store; bad files are named with line, column and fix."""
import json

import numpy as np
import pandas as pd
import pytest

from tsadbench.datasets.canonical import DatasetFormatError, list_entities, load_entity
from tsadbench.datasets.cli import main
from tsadbench.datasets.info import collect, to_json
from tsadbench.datasets.prepare import prepare
from tsadbench.datasets.raw import ReadOptions, UnknownDatasetError


def _series(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = np.sin(np.arange(n) / 10)[:, None] + 0.1 * rng.standard_normal((n, 2))
    labels = np.zeros(n, dtype=int)
    labels[700:720] = 1
    labels[850:853] = 1
    return pd.DataFrame({"timestamp": pd.date_range("2026-01-01", periods=n, freq="min").astype(str),
                         "a": values[:, 0], "b": values[:, 1], "is_anomaly": labels})


def test_one_csv_with_time_and_label_columns_becomes_a_dataset_info_reports(tmp_path, capsys):
    frame = _series()
    frame.to_csv(tmp_path / "plant.csv", index=False)
    store = tmp_path / "store"
    assert main(["prepare", "PLANT", "--from", str(tmp_path / "plant.csv"), "--layout", "csv", "--label-column",
                 "is_anomaly", "--time-column", "timestamp", "--train-rows", "600", "--root", str(store)]) == 0
    assert main(["info", "--root", str(store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])["PLANT"]
    assert (info["entities"], info["channels"], info["train_rows"], info["test_rows"], info["anomalies"],
            info["segments"]) == (1, [2], 600, 400, 23, 2)
    entity = load_entity(store, "PLANT", "plant")
    np.testing.assert_allclose(entity.train, frame[["a", "b"]].to_numpy()[:600], rtol=1e-6)
    np.testing.assert_array_equal(entity.labels, frame["is_anomaly"].to_numpy()[600:])
    preparation = json.loads((store / "MANIFEST.json").read_text())["datasets"]["PLANT"]["preparation"]
    assert (preparation["layout"], preparation["label_column"], preparation["time_column"]) == \
        ("csv", "is_anomaly", "timestamp")
    assert preparation["train_rows_labelled_anomalous"] == 0


def test_parquet_files_in_a_folder_become_one_entity_each(tmp_path):
    (tmp_path / "raw").mkdir()
    _series(seed=1).drop(columns="timestamp").to_parquet(tmp_path / "raw" / "line-1.parquet")
    _series(seed=2).drop(columns="timestamp").to_csv(tmp_path / "raw" / "line-2.csv", index=False)
    prepare("LINES", tmp_path / "raw", tmp_path / "store", layout="csv",
            options=ReadOptions(label_column="is_anomaly", train_rows=500))
    assert list_entities(tmp_path / "store", "LINES") == ["line-1", "line-2"]
    stats = collect(tmp_path / "store")["LINES"]
    assert [(s.channels, s.train_rows, s.test_rows, s.anomalies) for s in stats] == [(2, 500, 500, 23), (2, 500, 500, 23)]


def test_train_and_test_file_pairs_keep_the_train_file_whole(tmp_path):
    frame = _series()
    frame.iloc[:600].drop(columns="is_anomaly").to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[600:].to_csv(tmp_path / "test.csv", index=False)
    prepare("PAIR", tmp_path / "train.csv", tmp_path / "store", layout="csv",
            options=ReadOptions(label_column="is_anomaly", time_column="timestamp", test=tmp_path / "test.csv"))
    entity = load_entity(tmp_path / "store", "PAIR", "train")
    assert (entity.train.shape, entity.test.shape, int(entity.labels.sum())) == ((600, 2), (400, 2), 23)


def test_tsb_ad_files_split_at_the_train_length_in_their_name(tmp_path):
    folder = tmp_path / "TSB-AD-M"
    folder.mkdir()
    frame = _series().drop(columns="timestamp").rename(columns={"is_anomaly": "Label"})
    frame.to_csv(folder / "057_SMD_id_1_Facility_tr_450_1st_700.csv", index=False)
    univariate = frame[["a", "Label"]].rename(columns={"a": "Data"})
    univariate.to_csv(folder / "001_NAB_id_1_Facility_tr_300_1st_701.csv", index=False)
    (folder / "README.txt").write_text("not a series\n")
    assert main(["prepare", "TSBAD", "--from", str(folder), "--layout", "tsb-ad", "--root", str(tmp_path / "store")]) == 0
    stats = {s.entity: s for s in collect(tmp_path / "store")["TSBAD"]}
    assert {name: (s.channels, s.train_rows, s.test_rows, s.anomalies) for name, s in stats.items()} == {
        "057_SMD_id_1_Facility": (2, 450, 550, 23), "001_NAB_id_1_Facility": (1, 300, 700, 23)}
    preparation = json.loads((tmp_path / "store" / "MANIFEST.json").read_text())["datasets"]["TSBAD"]["preparation"]
    assert preparation["first_anomaly_not_as_named"] == ["001_NAB_id_1_Facility_tr_300_1st_701.csv: first Label=1 at row 700"]


@pytest.mark.parametrize("change, message", [
    (lambda f: f.assign(a=[*f["a"][:4], "oops", *f["a"][5:]]),
     r"plant\.csv: line 6, column 2 \('a'\): 'oops' is not a number .* correct the cell"),
    (lambda f: f.assign(is_anomaly=[*f["is_anomaly"][:9], 2, *f["is_anomaly"][10:]]),
     r"plant\.csv: line 11, column 4 \('is_anomaly'\): label 2 is not 0 or 1"),
    (lambda f: f.assign(timestamp=[*f["timestamp"][:7], f["timestamp"][3], *f["timestamp"][8:]]),
     r"plant\.csv: line 9 repeats the timestamp of line 5 .* remove the duplicate rows"),
    (lambda f: f.iloc[[0, 1, 3, 2, *range(4, len(f))]],
     r"plant\.csv: line 5: timestamp '2026-01-01 00:02:00' comes before .* sort the file by timestamp"),
    (lambda f: f.rename(columns={"is_anomaly": "label"}),
     r"plant\.csv: no column 'is_anomaly' \(columns: 'timestamp', 'a', 'b', 'label'\); pass --label-column"),
])
def test_bad_files_are_named_with_line_column_and_fix(tmp_path, change, message):
    change(_series()).to_csv(tmp_path / "plant.csv", index=False)
    with pytest.raises(DatasetFormatError, match=message):
        prepare("PLANT", tmp_path / "plant.csv", tmp_path / "store", layout="csv",
                options=ReadOptions(label_column="is_anomaly", time_column="timestamp", train_rows=600))
    assert not (tmp_path / "store" / "PLANT").exists()


def test_user_layout_mistakes_name_the_fix(tmp_path, capsys):
    _series().to_csv(tmp_path / "plant.csv", index=False)
    base = ["prepare", "PLANT", "--from", str(tmp_path / "plant.csv"), "--root", str(tmp_path / "store"), "--layout"]
    assert main(base + ["csv", "--train-rows", "600"]) == 2
    assert "--layout csv needs --label-column COL" in capsys.readouterr().err
    assert main(base + ["csv", "--label-column", "is_anomaly", "--time-column", "timestamp", "--train-rows", "1000"]) == 2
    assert "--train-rows 1000 leaves no train or no test part of its 1000 rows" in capsys.readouterr().err
    assert main(base + ["tsb-ad"]) == 2
    assert "not a TSB-AD file name" in capsys.readouterr().err
    with pytest.raises(UnknownDatasetError, match="'synthetic' is built in"):
        prepare("synthetic", tmp_path / "plant.csv", tmp_path / "store", layout="csv")
    with pytest.raises(ValueError, match="--label-column does not apply to the tsb-ad layout"):
        prepare("X", tmp_path, tmp_path / "store", layout="tsb-ad", options=ReadOptions(label_column="y"))
    assert to_json({}) == "{}"
