"""The plug-in API without Ray: a detector file outside the repository is loaded, checked, planned
with its own search space, shipped to a fresh process, and broken plug-ins are named clearly."""
import dataclasses
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tsadbench.search_spaces import SearchSpaceError
from tsadbench.search_spaces.loader import SEARCH_SPACE_DIR
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridRequest, plan_grid
from tsadbench.zoo import MODELS
from tsadbench.zoo.cli import main as zoo_main
from tsadbench.zoo.plugins import PluginBundle, PluginError, load_plugins

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "conv_autoencoder.py"


def _plugin_copy(folder: Path, name: str, score_body: str | None = None, yaml: bool = True) -> Path:
    """The example plug-in under another registry name (and file name), optionally with another `_score`."""
    folder.mkdir(parents=True, exist_ok=True)
    source = EXAMPLE.read_text().replace('"conv_autoencoder"', f'"{name}"')
    if score_body is not None:
        source += f"\n\ndef _other_score(self, series):\n{textwrap.indent(score_body, '    ')}\n\n\n" \
                  "ConvAutoencoder._score = _other_score\n"
    path = folder / f"{name}.py"
    path.write_text(source)
    if yaml:
        (folder / f"{name}.yaml").write_text(
            EXAMPLE.with_suffix(".yaml").read_text().replace("model: conv_autoencoder", f"model: {name}"))
    return path


def test_the_public_api_is_importable_from_tsadbench_zoo():
    from tsadbench.zoo import AnomalyDetector, DetectorConfig, TorchWindowDetector, register  # noqa: F401
    from tsadbench.zoo import ModelConfigError, TorchWindowConfig  # noqa: F401


def test_a_plugin_outside_the_repository_passes_check(tmp_path, capsys):
    path = _plugin_copy(tmp_path / "mine", "plugin_ok")
    assert zoo_main(["check", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    results = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert len(results) == 8 and all(line.startswith("PASS  plugin_ok") for line in results), lines
    assert str(path.with_suffix(".yaml")) in lines[0]


def test_a_plugin_whose_score_drops_the_last_point_fails_check_with_a_clear_line(tmp_path, capsys):
    path = _plugin_copy(tmp_path / "short", "plugin_short",
                        score_body="return TorchWindowDetector._score(self, series)[:-1]")
    assert zoo_main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert ("FAIL  plugin_short  one finite score per point: a series of 32 points x 1 channel(s): "
            "_score returned shape (31,), expected (32,): one score per point") in out, out
    assert "FAIL  plugin_short  same seed, same scores: RuntimeError: plugin_short returned scores of shape" in out
    assert "PASS  plugin_short  short series refused" in out


def test_a_plugin_that_reuses_its_rng_wrongly_fails_the_seed_and_resume_checks(tmp_path, capsys):
    path = _plugin_copy(tmp_path / "noisy", "plugin_noisy",
                        score_body="import numpy as np\nreturn TorchWindowDetector._score(self, series) + "
                                   "np.random.default_rng().random(series.shape[0])")
    assert zoo_main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  plugin_noisy  same seed, same scores: two detectors trained with seed 7 differ" in out
    assert "FAIL  plugin_noisy  resume from state_dict" in out


def test_a_plugin_whose_shared_pass_differs_from_its_hooks_fails_check(tmp_path, capsys):
    path = _plugin_copy(tmp_path / "shared", "plugin_shared")
    path.write_text(path.read_text() + textwrap.dedent("""

        def _scores_and_scaled_losses(self, batch):
            scores, losses = TorchWindowDetector._window_scores_and_losses(self, batch)
            return scores, 2 * losses


        ConvAutoencoder._window_scores_and_losses = _scores_and_scaled_losses
        """))
    assert zoo_main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  plugin_shared  one pass for scores and loss: score_set_and_loss gave validation loss" in out, out
    assert "PASS  plugin_shared  same seed, same scores" in out


@pytest.mark.parametrize("source, message", [
    ("import torch\ndef broken(:\n", r"plug-in .*broken_syntax\.py, line 2: importing it raised SyntaxError"),
    ("import no_such_module_anywhere\n", r"broken_import\.py, line 1: importing it raised ModuleNotFoundError"),
    ("from tsadbench.zoo import AnomalyDetector\nclass A(AnomalyDetector):\n    name = 'a'\n",
     r"broken_unregistered\.py registers no detector: decorate .* with @register"),
    ("from tsadbench.zoo import register\nfrom tsadbench.zoo.random_score import RandomScore\n"
     "@register\nclass Clash(RandomScore):\n    pass\n", r"two detectors are registered as 'random'"),
])
def test_broken_plugins_are_named_with_the_fix(tmp_path, capsys, source, message):
    stem = {"def broken": "broken_syntax", "no_such": "broken_import", "class A": "broken_unregistered"}
    name = next((v for k, v in stem.items() if k in source), "broken_clash")
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    with pytest.raises(PluginError, match=message):
        load_plugins([str(path)])
    assert zoo_main(["check", str(path)]) == 2
    assert str(path) in capsys.readouterr().err


def test_unknown_plugin_paths_and_modules_say_what_to_give(tmp_path):
    with pytest.raises(PluginError, match="no such file; give the path of the detector's .py file"):
        load_plugins([str(tmp_path / "missing.py")])
    with pytest.raises(PluginError, match="no such .py file, folder or importable module"):
        load_plugins(["no_such_plugin_module"])


def _smoke_request(tmp_path: Path, **kwargs) -> GridRequest:
    grid = GridSpec("t", "", models=None, datasets=("synthetic",), num_samples=1, max_concurrent=1,
                    epochs_cap=1, max_windows_per_epoch=64, tiny_models=True)
    return GridRequest(grid=grid, storage=tmp_path / "runs", run_name="t", **kwargs)


def test_a_plugin_model_is_planned_with_the_yaml_beside_it(tmp_path):
    path = _plugin_copy(tmp_path / "planned", "plugin_planned")
    plan = plan_grid(_smoke_request(tmp_path, models=("plugin_planned", "random"), plugins=(str(path),)))
    [experiment, _] = plan.experiments
    assert experiment.space.path == path.with_suffix(".yaml")
    assert experiment.space.fixed["channels"] == 8  # its smoke value
    assert experiment.plugins.modules == ("tsadbench_plugins.plugin_planned",)
    assert experiment.plugins.describe()[0]["source"] == str(path)


def test_a_plugin_without_yaml_is_refused_naming_where_to_put_it(tmp_path):
    path = _plugin_copy(tmp_path / "bare", "plugin_bare", yaml=False)
    with pytest.raises(SearchSpaceError, match=rf"create {path.with_suffix('.yaml')} beside the plug-in .* "
                                               "or pass --search-spaces DIR"):
        plan_grid(_smoke_request(tmp_path, models=("plugin_bare",), plugins=(str(path),)))
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    (spaces / "plugin_bare.yaml").write_text(
        EXAMPLE.with_suffix(".yaml").read_text().replace("model: conv_autoencoder", "model: plugin_bare"))
    plan = plan_grid(_smoke_request(tmp_path, models=("plugin_bare",), plugins=(str(path),),
                                    search_space_dirs=(spaces,)))
    assert plan.experiments[0].space.path == spaces / "plugin_bare.yaml"


def test_search_spaces_dir_overrides_a_builtin_space(tmp_path):
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    text = (SEARCH_SPACE_DIR / "mlp_autoencoder.yaml").read_text().replace("hidden: 128", "hidden: 24")
    (spaces / "mlp_autoencoder.yaml").write_text(text)
    plan = plan_grid(_smoke_request(tmp_path, models=("mlp_autoencoder",), search_space_dirs=(spaces,)))
    assert plan.experiments[0].space.path == spaces / "mlp_autoencoder.yaml"
    assert plan.experiments[0].space.fixed["hidden"] == 24
    default = plan_grid(_smoke_request(tmp_path, models=("mlp_autoencoder",)))
    assert default.experiments[0].space.fixed["hidden"] == 128


def test_a_folder_plugin_loads_every_file_in_it(tmp_path):
    folder = tmp_path / "several"
    _plugin_copy(folder, "plugin_one")
    _plugin_copy(folder, "plugin_two")
    bundle = load_plugins([str(folder)])
    assert bundle.modules == ("tsadbench_plugins.plugin_one", "tsadbench_plugins.plugin_two")
    assert {"plugin_one", "plugin_two"} <= set(MODELS)


def test_a_package_plugin_with_relative_imports_is_shipped_whole(tmp_path):
    package = tmp_path / "my_detectors"
    package.mkdir()
    shutil.copy(EXAMPLE, package / "net.py")
    (package / "net.py").write_text((package / "net.py").read_text().replace('"conv_autoencoder"', '"plugin_pkg"'))
    (package / "__init__.py").write_text("from . import net  # noqa: F401\n")
    bundle = load_plugins([str(package)])
    assert bundle.modules == ("my_detectors",)
    assert [name for name, _ in bundle.files] == ["my_detectors/__init__.py", "my_detectors/net.py"]
    assert MODELS["plugin_pkg"].__module__ == "my_detectors.net"


def test_the_bundle_registers_the_plugin_in_a_fresh_process_after_the_file_is_gone(tmp_path):
    path = _plugin_copy(tmp_path / "gone", "plugin_gone")
    bundle = load_plugins([str(path)])
    shutil.rmtree(tmp_path / "gone")
    (tmp_path / "bundle.pkl").write_bytes(pickle.dumps(bundle))
    script = ("import pickle, sys\nfrom tsadbench.zoo import get_model\n"
              f"pickle.loads(open({str(tmp_path / 'bundle.pkl')!r}, 'rb').read()).install()\n"
              "cls = get_model('plugin_gone')\nprint(cls.__module__, cls.display_name)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tsadbench_plugins.plugin_gone Example conv autoencoder"


def test_the_plugin_module_knows_nothing_of_ray():
    source = (Path(__file__).resolve().parent.parent / "zoo" / "plugins.py").read_text()
    assert "import ray" not in source and dataclasses.is_dataclass(load_plugins([]))


def _installed_distribution(site: Path, entry_point: str) -> Path:
    """A package on `site` declaring `entry_point` in the group tsadbench.detectors, as pip installs it."""
    package = site / "my_installed_detector"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(EXAMPLE.read_text().replace('"conv_autoencoder"', '"plugin_installed"'))
    (package / "plugin_installed.yaml").write_text(
        EXAMPLE.with_suffix(".yaml").read_text().replace("model: conv_autoencoder", "model: plugin_installed"))
    dist = site / "my_installed_detector-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-installed-detector\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[tsadbench.detectors]\n{entry_point}\n")
    return package


def test_an_installed_entry_point_is_loaded_when_its_name_is_asked_for(tmp_path, monkeypatch):
    from tsadbench.zoo import get_model, plugins

    package = _installed_distribution(tmp_path / "site", "plugin_installed = my_installed_detector:ConvAutoencoder")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(plugins, "_INSTALLED_LOADED", False)
    assert get_model("plugin_installed").__module__ == "my_installed_detector"
    assert plugins.plugin_folder("plugin_installed") == package
    plan = plan_grid(_smoke_request(tmp_path, models=("plugin_installed",)))
    assert plan.experiments[0].space.path == package / "plugin_installed.yaml"


def test_a_broken_entry_point_names_itself_and_the_fix(tmp_path, monkeypatch):
    from tsadbench.zoo import plugins

    _installed_distribution(tmp_path / "site", "plugin_broken_ep = my_installed_detector:NoSuchClass")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(plugins, "_INSTALLED_LOADED", False)
    with pytest.raises(PluginError, match=r"installed plug-in plugin_broken_ep \(my_installed_detector:NoSuchClass, "
                                          r"entry point group tsadbench.detectors\).*fix or uninstall that package"):
        plugins.load_installed_plugins()


def test_a_bundle_installs_in_a_process_that_loaded_other_plugin_files(tmp_path):
    first = load_plugins([str(_plugin_copy(tmp_path / "first", "plugin_first"))])
    assert first.modules[0] in sys.modules
    path = _plugin_copy(tmp_path / "later", "plugin_later")
    files = (("tsadbench_plugins/plugin_later.py", path.read_bytes()),)
    PluginBundle(files, ("tsadbench_plugins.plugin_later",), (str(path),)).install()
    assert MODELS["plugin_later"].__module__ == "tsadbench_plugins.plugin_later"
