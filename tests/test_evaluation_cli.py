"""The evaluation command line: file formats, protocols, JSON output and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tsadbench.evaluation.cli import load_vector, main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    y = np.zeros(1500, dtype=int)
    y[200:260] = y[900:903] = 1
    s = rng.random(1500) + y
    np.save(tmp_path / "s.npy", s)
    np.savetxt(tmp_path / "y.csv", y, fmt="%d", header="label", comments="")
    np.savetxt(tmp_path / "t.csv", rng.random(2000))
    return tmp_path, s, y


def test_load_vector_formats(files, tmp_path):
    path, s, y = files
    assert np.array_equal(load_vector(str(path / "s.npy")), s)
    assert np.array_equal(load_vector(str(path / "y.csv")), y)
    (tmp_path / "two.csv").write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match="one value per time point"):
        load_vector(str(tmp_path / "two.csv"))
    assert load_vector(str(tmp_path / "two.csv"), one_column=False).shape == (2, 2)


def test_json_record_for_one_protocol(files, capsys):
    path, *_ = files
    code = main(["--scores", str(path / "s.npy"), "--labels", str(path / "y.csv"), "--train-scores",
                 str(path / "t.csv"), "--protocol", "at-compat", "--anomaly-ratio", "2", "--json"])
    record = json.loads(capsys.readouterr().out)
    assert code == 0
    assert record["protocol"] == "at-compat" and record["anomaly_ratio"] == 2.0 and "vus_pr" in record


def test_all_applicable_protocols_by_default(files, capsys):
    path, *_ = files
    assert main(["--scores", str(path / "s.npy"), "--labels", str(path / "y.csv"), "--window", "none", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert {k.split("/")[0] for k in record if "/" in k} == {"best-f1", "test-percentile"}
    assert record["best-f1/oracle"] is True and "vus_pr" not in record


def test_pot_and_epsilon_settings_reach_their_protocols(files, capsys):
    path, *_ = files
    assert main(["--scores", str(path / "s.npy"), "--labels", str(path / "y.csv"), "--train-scores",
                 str(path / "t.csv"), "--pot-q", "0.005", "--pot-level", "0.9", "--epsilon-reg-level", "0",
                 "--window", "none", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["pot-train/pot_q"] == 0.005 and record["pot-train/pot_level"] == 0.9
    assert record["epsilon-train/epsilon_reg_level"] == 0 and record["epsilon-train/oracle"] is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--protocol", "nope"], "known protocols"),
        (["--protocol", "at-compat"], "needs train scores"),
        (["--labels", "missing.npy"], "no such file"),
    ],
)
def test_errors_are_one_line_with_status_2(files, capsys, extra, message):
    path, *_ = files
    argv = ["--scores", str(path / "s.npy"), "--labels", str(path / "y.csv"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("error: ")


def test_period_window_from_the_series(files, capsys):
    path, s, _ = files
    t = np.arange(s.size)
    np.save(path / "x.npy", np.stack([np.sin(2 * np.pi * t / 40), t], axis=1))
    base = ["--scores", str(path / "s.npy"), "--labels", str(path / "y.csv"), "--protocol", "best-f1", "--json"]
    assert main([*base, "--window", "period", "--series", str(path / "x.npy")]) == 0
    assert json.loads(capsys.readouterr().out)["vus_window"] == 40
    assert main([*base, "--window", "period"]) == 2
    assert "needs the test data" in capsys.readouterr().err
    assert main([*base, "--window", "wide"]) == 2


def test_length_mismatch_is_refused(files, capsys):
    path, s, _ = files
    np.save(path / "short.npy", s[:-5])
    assert main(["--scores", str(path / "short.npy"), "--labels", str(path / "y.csv")]) == 2
    assert "1495 points but labels has 1500" in capsys.readouterr().err


def test_module_entry_points(files):
    path, *_ = files
    args = ["--scores", str(path / "s.npy"), "--labels", str(path / "y.csv"), "--protocol", "best-f1", "--json"]
    for module in ("tsadbench.evaluation", "evaluation"):
        out = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                             check=True, timeout=120)
        assert json.loads(out.stdout)["oracle"] is True
    bad = subprocess.run([sys.executable, "-m", "tsadbench.evaluation", *args[:2], "--labels", str(path / "t.csv")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
