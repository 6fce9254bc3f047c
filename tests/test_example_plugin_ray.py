"""The README's "Benchmark your own model" commands, exactly as printed there, run end to end on the
local Ray cluster from a copy of `examples/` outside the repository; the plug-in's row reaches the
tables."""
import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The bash block of the README section "Benchmark your own model"."""
    section = (ROOT / "README.md").read_text().split("## Benchmark your own model", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_the_readme_commands_check_and_run_the_example_plugin(ray_session, tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    commands = readme_commands()
    assert [c.split()[:2] for c in commands] == [[".venv/bin/python", "-m"], [".venv/bin/python", "orchestrate.py"]]
    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address, "PYTHONUNBUFFERED": "1"}
    outputs = []
    for command in commands:
        argv = shlex.split(command)
        argv[0] = sys.executable
        argv = [str(ROOT / "orchestrate.py") if arg == "orchestrate.py" else arg for arg in argv]
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        outputs.append(done.stdout)
    check_lines = [line for line in outputs[0].splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(check_lines) == 8 and all(line.startswith("PASS  conv_autoencoder") for line in check_lines)
    [run] = list((tmp_path / "ray_results").iterdir())
    assert "trials: 3 run, 0 failed" in outputs[1], outputs[1]  # conv_autoencoder, its untrained copy, random
    metadata = json.loads((run / "conv_autoencoder__synthetic" / "tsadbench_experiment.json").read_text())
    assert metadata["search_space"]["file"] == str(tmp_path / "examples" / "conv_autoencoder.yaml")
    assert metadata["plugins"][0]["source"] == str(tmp_path / "examples" / "conv_autoencoder.py")
    with open(run / "tables" / "main.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    text = (run / "tables" / "main.md").read_text()
    assert "Example conv autoencoder" in text and "Random score" in text, text
    assert any("Example conv autoencoder" in " ".join(row.values()) for row in rows), rows
