"""Malformed inputs: each error names the file, the line and column where it applies, and the fix."""
import datetime
import re

import numpy as np
import pytest

from tests import fixtures_raw as fx
from tsadbench.datasets.canonical import DatasetFormatError
from tsadbench.datasets.cli import main
from tsadbench.datasets.prepare import prepare
from tsadbench.datasets.raw import ReadOptions, UnknownDatasetError


@pytest.fixture
def smd(tmp_path):
    """One good SMD machine; tests damage one of its files."""
    base = fx.write_smd(tmp_path / "raw", {"machine-1-1": (fx.values(6, 3, 1), fx.values(5, 3, 2),
                                                           fx.labels_from(5, [(1, 2)]))})
    return base


def _prepare(name, source, tmp_path, **kwargs):
    return prepare(name, source, tmp_path / "store", **kwargs)


def _rewrite_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_ragged_row(smd, tmp_path):
    _rewrite_line(smd / "train/machine-1-1.txt", 4, "0.1,0.2")
    with pytest.raises(DatasetFormatError, match=r"train/machine-1-1\.txt: line 4 has 2 fields but "
                       r"line 1 has 3 .*ragged or truncated: repair or re-download it"):
        _prepare("SMD", smd, tmp_path)


def test_non_numeric_cell(smd, tmp_path):
    _rewrite_line(smd / "test/machine-1-1.txt", 2, "0.1,abc,0.3")
    with pytest.raises(DatasetFormatError, match=r"test/machine-1-1\.txt: line 2, column 2: 'abc' is "
                       r"not a number .*correct the cell"):
        _prepare("SMD", smd, tmp_path)


def test_non_numeric_cell_in_a_named_column(tmp_path):
    fx.write_psm(tmp_path, fx.values(4, 2, 1), fx.values(3, 2, 2), fx.labels_from(3, []))
    _rewrite_line(tmp_path / "train.csv", 3, "1,0.5,x1")
    with pytest.raises(DatasetFormatError, match=r"train\.csv: line 3, column 3 \('feature_1'\): "
                       r"'x1' is not a number"):
        _prepare("PSM", tmp_path, tmp_path)


def test_label_length_differs_from_test_length(smd, tmp_path):
    (smd / "test_label/machine-1-1.txt").write_text("0\n1\n1\n0\n")
    with pytest.raises(DatasetFormatError, match=r"test_label/machine-1-1\.txt: 4 labels for the 5 rows "
                       r"of .*test/machine-1-1\.txt; there must be exactly one label per test row"):
        _prepare("SMD", smd, tmp_path)


def test_label_outside_zero_and_one(smd, tmp_path):
    _rewrite_line(smd / "test_label/machine-1-1.txt", 4, "2")
    with pytest.raises(DatasetFormatError, match=r"test_label/machine-1-1\.txt: line 4: label 2 is not "
                       r"0 or 1 \(1 such rows\)"):
        _prepare("SMD", smd, tmp_path)


def test_missing_file(smd, tmp_path):
    (smd / "test/machine-1-1.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"test/machine-1-1\.txt: file not found; point --from "
                       r"at OmniAnomaly's ServerMachineDataset folder"):
        _prepare("SMD", smd, tmp_path)


def test_all_nan_column(tmp_path):
    train = fx.values(4, 3, 1)
    train[:, 1] = np.nan
    fx.write_psm(tmp_path, train, fx.values(3, 3, 2), fx.labels_from(3, []))
    with pytest.raises(DatasetFormatError, match=r"train\.csv: column 3 \('feature_1'\) is empty "
                       r"\(NaN on every row\).*fetch it again"):
        _prepare("PSM", tmp_path, tmp_path)


def test_train_test_channel_mismatch(tmp_path):
    fx.write_telemanom(tmp_path, [("A-1", "SMAP", fx.values(5, 3, 1), fx.values(4, 2, 2), [[0, 1]])])
    with pytest.raises(DatasetFormatError, match=r"test/A-1\.npy: 2 channels but .*train/A-1\.npy has 3; "
                       r"train and test must hold the same channels"):
        _prepare("SMAP", tmp_path, tmp_path)


def test_empty_file(smd, tmp_path):
    (smd / "train/machine-1-1.txt").write_text("")
    with pytest.raises(DatasetFormatError, match=r"train/machine-1-1\.txt: the file is empty; "
                       r"re-download or re-export it"):
        _prepare("SMD", smd, tmp_path)


def test_duplicated_timestamps(tmp_path):
    fx.write_psm(tmp_path, fx.values(4, 2, 1), fx.values(5, 2, 2), fx.labels_from(5, []))
    _rewrite_line(tmp_path / "test.csv", 4, "1001,0.5,0.5")
    with pytest.raises(DatasetFormatError, match=r"test\.csv: line 4 repeats the timestamp_\(min\) of "
                       r"line 3 .*remove the duplicate rows"):
        _prepare("PSM", tmp_path, tmp_path)


def test_truncated_npy(tmp_path):
    fx.write_preprocessed(tmp_path, "MSL", fx.values(50, 3, 1), fx.values(40, 3, 2),
                          fx.labels_from(40, []))
    data = (tmp_path / "MSL_test.npy").read_bytes()
    (tmp_path / "MSL_test.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match=r"MSL_test\.npy: not a readable \.npy file .*truncated "
                       r"or damaged: re-download or re-create it"):
        _prepare("MSL", tmp_path, tmp_path)


def test_truncated_npz_in_the_store(smd, tmp_path, capsys):
    _prepare("SMD", smd, tmp_path)
    npz = tmp_path / "store/SMD/machine-1-1.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    assert main(["info", "--root", str(tmp_path / "store")]) == 2
    assert re.search(r"error: .*SMD/machine-1-1\.npz: not a readable \.npz file", capsys.readouterr().err)


def test_unknown_dataset_name_lists_the_known_ones(tmp_path, capsys):
    with pytest.raises(UnknownDatasetError, match=r"unknown dataset 'FOO'; known datasets: SMD, SMAP, "
                       r"MSL, PSM, SWaT, WADI"):
        _prepare("FOO", tmp_path, tmp_path)
    assert main(["download", "FOO"]) == 2
    assert "known datasets: SMD, SMAP, MSL, PSM, SWaT, WADI" in capsys.readouterr().err


def test_missing_folder(tmp_path, capsys):
    assert main(["prepare", "smap", "--from", str(tmp_path / "nowhere"), "--root", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'nowhere'}: folder not found; pass "
                                              "--from the folder holding your SMAP files")


def test_folder_holding_no_known_layout_lists_the_expected_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"holds none of the PSM layouts \(ebay-csv: train\.csv, "
                       r"test\.csv, test_label\.csv; npy: PSM_train\.npy, PSM_test\.npy, PSM_test_label\.npy\)"):
        _prepare("PSM", tmp_path, tmp_path)


def test_label_range_outside_the_test_series(tmp_path):
    fx.write_telemanom(tmp_path, [("A-1", "SMAP", fx.values(5, 2, 1), fx.values(4, 2, 2), [[2, 4]])])
    with pytest.raises(DatasetFormatError, match=r"labeled_anomalies\.csv: line 2: range \[2, 4\] of A-1 "
                       r"lies outside its 4 test rows"):
        _prepare("SMAP", tmp_path, tmp_path)


def test_num_values_disagreeing_with_the_test_file(tmp_path):
    base = fx.write_telemanom(tmp_path, [("A-1", "SMAP", fx.values(5, 2, 1), fx.values(4, 2, 2), [[0, 1]])])
    np.save(base / "test/A-1.npy", fx.values(6, 2, 2))
    with pytest.raises(DatasetFormatError, match=r"labeled_anomalies\.csv: line 2: num_values 4 for A-1 "
                       r"but .*test/A-1\.npy has 6 rows"):
        _prepare("SMAP", tmp_path, tmp_path)


def test_swat_label_that_is_neither_normal_nor_attack(tmp_path):
    start = datetime.datetime(2015, 12, 22, 16, 30)
    fx.write_swat_csv(tmp_path / "SWaT_Dataset_Normal_v1.csv", fx.values(3, 4, 1), ["Normal"] * 3, start)
    fx.write_swat_csv(tmp_path / "SWaT_Dataset_Attack_v0.csv", fx.values(3, 4, 2),
                      ["Normal", "Atack?", "Normal"], start)
    with pytest.raises(DatasetFormatError, match=r"SWaT_Dataset_Attack_v0\.csv: line 4, column 6 "
                       r"\('Normal/Attack'\): label 'Atack\?' is neither Normal nor Attack"):
        _prepare("SWaT", tmp_path, tmp_path)


def test_swat_bad_timestamp(tmp_path):
    start = datetime.datetime(2015, 12, 22, 16, 30)
    fx.write_swat_csv(tmp_path / "SWaT_Dataset_Normal_v1.csv", fx.values(3, 4, 1), ["Normal"] * 3, start)
    fx.write_swat_csv(tmp_path / "SWaT_Dataset_Attack_v0.csv", fx.values(3, 4, 2), ["Normal"] * 3, start)
    _rewrite_line(tmp_path / "SWaT_Dataset_Normal_v1.csv", 5, "2015-12-22,1,1,1,1,Normal")
    with pytest.raises(DatasetFormatError, match=r"SWaT_Dataset_Normal_v1\.csv: line 5, column 1 "
                       r"\('Timestamp'\): '2015-12-22' is not a timestamp like"):
        _prepare("SWaT", tmp_path, tmp_path)


def test_wadi_a1_without_attack_table(tmp_path):
    fx.write_wadi_a1(tmp_path, fx.values(4, 4, 1), fx.values(3, 4, 2), [])
    (tmp_path / "WADI_attacklabels.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"WADI_attacklabels\.csv: file not found; put the attack "
                       r"table .* or use the A2 release"):
        _prepare("WADI", tmp_path, tmp_path)


def test_startup_hours_option_on_a_layout_without_it(smd, tmp_path):
    with pytest.raises(ValueError, match=r"--drop-startup-hours does not apply to the omnianomaly layout"):
        _prepare("SMD", smd, tmp_path, options=ReadOptions(drop_startup_hours=1))


def test_existing_store_is_not_overwritten_silently(smd, tmp_path):
    _prepare("SMD", smd, tmp_path)
    with pytest.raises(FileExistsError, match=r"SMD: already holds 1 entity files; pass --overwrite"):
        _prepare("SMD", smd, tmp_path)


def test_two_copies_of_an_itrust_file_are_refused(tmp_path):
    start = datetime.datetime(2015, 12, 22, 16, 30)
    for copy in ("a", "b"):
        fx.write_swat_csv(tmp_path / copy / "SWaT_Dataset_Normal_v1.csv", fx.values(3, 4, 1), ["Normal"] * 3, start)
    with pytest.raises(DatasetFormatError, match=r"several SWaT_Dataset_Normal_v1\.csv files \(.*a/SWaT_Dataset_"
                       r"Normal_v1\.csv, .*b/SWaT_Dataset_Normal_v1\.csv\); point --from at one copy"):
        _prepare("SWaT", tmp_path, tmp_path)
