"""The GPU check script's Ray-free code path on CPU (its `--tiny` mode): every figure it promises
comes out, the CPU-vs-device comparison compares identical weights, and it imports without Ray,
Optuna, PyYAML, mambapy or PyWavelets (the lent GPU machine has only torch and numpy)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCKER = """
import runpy, sys
for name in ("ray", "optuna", "yaml", "pandas", "scipy", "sklearn", "matplotlib", "mambapy", "pywt"):
    sys.modules[name] = None  # import fails, find_spec answers None: as if not installed
sys.argv = ["gpu_check.py"] + sys.argv[1:]
runpy.run_path(%r, run_name="__main__")
"""


def test_tiny_cpu_run_reports_every_figure_without_ray_optuna_or_yaml(tmp_path):
    out = tmp_path / "check.json"
    script = BLOCKER % str(ROOT / "benchmarks" / "gpu_check.py")
    completed = subprocess.run([sys.executable, "-c", script, "--device", "cpu", "--tiny", "--precision", "bf16",
                                "--models", "mlp_autoencoder,anomaly_transformer,random,transmamba", "--out", str(out)],
                               capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    summary = json.loads(out.read_text())
    assert summary["device"] == "cpu" and summary["precision"] == "bf16"
    assert summary["optimiser_vs_torch_max_abs_diff"] == {"Adam": 0.0, "AdamW": 0.0}  # bit-equal on CPU
    assert [row["model"] for row in summary["models"]] == ["mlp_autoencoder", "anomaly_transformer", "random",
                                                           "transmamba"]
    # A model whose own dependency is missing (TransMamba's scan: mambapy) is reported, the rest measured.
    assert "needs mambapy: pip install mambapy==1.2.0" in summary["models"].pop()["error"]
    for row in summary["models"]:
        assert row["epoch_s"] >= row["train_s"] >= 0
        assert row["fp32_train_windows_per_s"] > 0 and row["fp32_scored_points_per_s"] > 0
        assert row["cpu_vs_device_max_rel_diff"] == 0.0  # same weights, same device: identical scores
    torch_rows = [row for row in summary["models"] if row["model"] != "random"]
    for row in torch_rows:  # bf16 runs (Anomaly Transformer's prior and KL stay float32), host batching beside it
        assert row["bf16_train_windows_per_s"] > 0 and row["host_fp32_train_windows_per_s"] > 0
        assert 0.5 < row["fp32_vs_bf16_spearman"] <= 1.0 and 0 <= row["bf16_roc_auc"] <= 1
    [random] = [row for row in summary["models"] if row["model"] == "random"]
    assert "not a TorchWindowDetector" in random["bf16_error"] and "fp32_vs_bf16_spearman" not in random
    assert "anomaly_transformer" in completed.stdout and "host = fp32" in completed.stdout
