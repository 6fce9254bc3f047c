"""info: the statistics table of a canonical store, checked against the staged READMEs."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tsadbench.datasets.canonical import EntityArrays, save_entity
from tsadbench.datasets.cli import main
from tsadbench.datasets.info import collect, format_table, segment_count

README_COUNTS = {  # ../shared/datasets/*/README.md: entities, channels, train rows, test rows, anomalous
    "SMD": (19, [38], 450_219, 450_232, 20_763, 4.61),
    "SMAP": (53, [25], 135_183, 427_617, 54_696, 12.79),
    "MSL": (27, [55], 58_317, 73_729, 7_766, 10.53),
    "NAB": (58, [1], 54_800, 365_558, 33_495, 9.16),
    "MBA": (1, [2], 7_680, 7_680, 2_600, 33.85),
}


def test_info_reproduces_the_counts_of_the_staged_readmes(shared_data_root, capsys):
    assert main(["info", "--root", shared_data_root, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert sorted(stats) == sorted(README_COUNTS)
    for name, (entities, channels, train, test, anomalies, percent) in README_COUNTS.items():
        got = stats[name]
        assert (got["entities"], got["channels"], got["train_rows"], got["test_rows"], got["anomalies"],
                got["nan_count"]) == (entities, channels, train, test, anomalies, 0), name
        assert round(100 * got["anomaly_ratio"], 2) == percent, name
    table = format_table(collect(shared_data_root)).splitlines()
    assert table[0].split() == ["dataset", "entities", "channels", "train", "rows", "test", "rows",
                                "anomaly", "%", "segments", "NaNs"]
    assert table[5].split()[:6] == ["SMD", "19", "38", "450,219", "450,232", "4.61"]


def _store(root):
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=np.uint8)
    train = np.ones((5, 1), dtype=np.float32)
    train[2, 0] = np.nan
    save_entity(root, EntityArrays("TOY", "a", train, np.zeros((8, 1), np.float32), labels))
    save_entity(root, EntityArrays("TOY", "b", np.ones((3, 3), np.float32), np.ones((2, 3), np.float32),
                                   np.array([1, 1], dtype=np.uint8)))


def test_segments_nans_and_per_entity_lines(tmp_path, capsys):
    _store(tmp_path)
    assert main(["info", "--root", str(tmp_path), "--entities"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "dataset  entities  channels  train rows  test rows  anomaly %  segments  NaNs",
        "TOY             2       1-3           8         10      60.00         4     1",
        "  a                       1           5          8      50.00         3     1",
        "  b                       3           3          2     100.00         1     0",
    ]


def test_json_per_entity(tmp_path, capsys):
    _store(tmp_path)
    assert main(["info", "--root", str(tmp_path), "--json", "--entities"]) == 0
    toy = json.loads(capsys.readouterr().out)["TOY"]
    assert (toy["channels"], toy["segments"], toy["anomaly_ratio"]) == ([1, 3], 4, 0.6)
    per_entity = [(e["entity"], e["anomalies"], e["nan_count"]) for e in toy["per_entity"]]
    assert per_entity == [("a", 4, 1), ("b", 2, 0)]


@pytest.mark.parametrize("labels, expected",
                         [([], 0), ([0, 0], 0), ([1], 1), ([1, 1, 0, 1], 2), ([0, 1, 0, 1, 1], 2)])
def test_segment_count(labels, expected):
    assert segment_count(np.array(labels, dtype=np.uint8)) == expected


def test_info_on_a_missing_or_empty_root(tmp_path, capsys):
    assert main(["info", "--root", str(tmp_path / "none")]) == 2
    assert f"error: {tmp_path / 'none'}: folder not found; pass --root" in capsys.readouterr().err
    assert main(["info", "--root", str(tmp_path)]) == 2
    assert ("no <DATASET>/<entity>.npz files; run `python -m tsadbench.datasets prepare"
            in capsys.readouterr().err)


@pytest.mark.parametrize("module", ["datasets", "tsadbench.datasets"])
def test_module_entry_points_from_the_repository_root(module, tmp_path):
    _store(tmp_path)
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", module, "info", "--root", str(tmp_path)], cwd=repo,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split() == ["TOY", "2", "1-3", "8", "10", "60.00", "4", "1"]
