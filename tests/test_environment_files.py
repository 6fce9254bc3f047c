"""environment.yml, requirements.txt and requirements-gpu.txt must describe one environment."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def test_environment_pip_section_is_requirements_txt():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    assert "python=3.11" in environment["dependencies"]
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip_section == _requirement_lines(ROOT / "requirements.txt") + ["-e ."]


def test_every_requirement_is_pinned_exactly():
    for name in ("requirements.txt", "requirements-gpu.txt"):
        for line in _requirement_lines(ROOT / name):
            assert "==" in line, f"{name}: '{line}' is not pinned with =="


def test_gpu_extras_do_not_repin_the_cpu_stack():
    cpu = {line.split("==")[0].split("[")[0] for line in _requirement_lines(ROOT / "requirements.txt")}
    gpu = {line.split("==")[0] for line in _requirement_lines(ROOT / "requirements-gpu.txt")}
    assert gpu == {"mamba-ssm", "causal-conv1d"}
    assert not cpu & gpu


def test_python_pin_matches_pyproject():
    """CI and environment.yml stay on 3.11; the package admits 3.11 to 3.13, where every pin of
    requirements.txt publishes wheels (numpy 2.4.6 has none for 3.10)."""
    assert 'requires-python = ">=3.11,<3.14"' in (ROOT / "pyproject.toml").read_text()
