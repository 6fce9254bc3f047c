"""Search-space files: every shipped file loads for its model; malformed files name file and key."""
import dataclasses
from pathlib import Path

import optuna
import pytest
import yaml

from tsadbench.search_spaces import SearchSpaceError, load_search_space
from tsadbench.search_spaces.loader import SEARCH_SPACE_DIR
from tsadbench.tuning.trial import RUN_KEYS
from tsadbench.zoo import MODELS

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _allowed(model: str) -> set[str]:
    return {f.name for f in dataclasses.fields(MODELS[model].Config)} | set(RUN_KEYS)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_registered_model_has_a_valid_search_space(model):
    space = load_search_space(model, allowed_keys=_allowed(model))
    assert space.model == model
    trial = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0)).ask()
    returned = space.define_by_run(trial)
    config = {**trial.params, **returned}
    assert set(config) == space.keys()
    MODELS[model].Config.from_dict({k: v for k, v in config.items() if k not in RUN_KEYS})
    for value in space.smoke.values():
        assert value is not None


def test_no_orphan_search_space_files():
    assert {p.stem for p in SEARCH_SPACE_DIR.glob("*.yaml")} <= set(MODELS)


def _write(tmp_path: Path, document) -> Path:
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(document) if not isinstance(document, str) else document)
    return tmp_path


GOOD = {"model": "toy", "params": {"win_size": {"type": "int", "low": 8, "high": 64, "step": 8},
                                   "patch": {"type": "categorical", "choices": [[1, 2], [3, 5]]}},
        "fixed": {"lr": 0.001}, "first_points": {"*": {"win_size": 16, "patch": [3, 5]}}}


def test_list_choices_reach_the_trial_as_lists_and_first_points_are_encoded(tmp_path):
    space = load_search_space("toy", _write(tmp_path, GOOD))
    study = optuna.create_study()
    for point in space.first_points_for("SMD/machine-1-1"):
        study.enqueue_trial(point)
    trial = study.ask()
    returned = space.define_by_run(trial)
    assert returned == {"patch": [3, 5], "lr": 0.001} and trial.params["win_size"] == 16


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(model="other"), "key 'model': says 'other'"),
    (lambda d: d.update(extra=1), "key 'extra': unknown top-level key"),
    (lambda d: d["params"].update(lr={"type": "float", "low": 1, "high": 0.1}), "key 'lr': low .* is above high"),
    (lambda d: d["params"].update(lr={"type": "uniform", "low": 0, "high": 1}), "key 'lr': needs a mapping with 'type'"),
    (lambda d: d["params"].update(lr={"type": "float", "low": 0, "high": 1, "log": True}), "key 'lr': log: true needs low > 0"),
    (lambda d: d["params"].update(d={"type": "categorical", "choices": []}), "key 'd': a categorical distribution needs"),
    (lambda d: d["params"].update(d={"type": "int", "low": 1.5, "high": 3}), "key 'd': an int distribution needs integer"),
    (lambda d: d["params"].update(d={"type": "int", "low": 1, "high": 3, "q": 1}), "key 'd': unknown field 'q'"),
    (lambda d: d["fixed"].update(win_size=8), "key 'win_size': is both tuned"),
    (lambda d: d["first_points"]["*"].update(win_size=12), r"key 'first_points.\*.win_size': value 12 lies outside"),
    (lambda d: d["first_points"]["*"].update(lr=0.1), r"key 'first_points.\*.lr': is not a tuned parameter"),
    (lambda d: d.update(smoke={"nope": 1}), "key 'smoke.nope': 'toy' has no such hyperparameter"),
    (lambda d: d.update(extra_protocols=["epsilon"]), "key 'extra_protocols': unknown threshold protocol 'epsilon'"),
    (lambda d: d.update(protocol_settings={"SMAP": {"pot_levels": 0.9}}),
     "key 'protocol_settings.SMAP.pot_levels': unknown setting"),
    (lambda d: d.update(protocol_settings={"*": {"pot_level": 90}}),
     r"key 'protocol_settings.\*.pot_level': must be a number in \(0, 1\)"),
    (lambda d: d.update(protocol_settings={"MSL": {"score_postprocessing": "minmax"}}),
     "key 'protocol_settings.MSL.score_postprocessing': unknown post-processing 'minmax'"),
    (lambda d: d.update(protocol_settings={"MSL": {"epsilon_reg_level": 5}}),
     "key 'protocol_settings.MSL.epsilon_reg_level': must be 0, 1 or 2"),
])
def test_malformed_files_name_the_file_the_key_and_the_problem(tmp_path, change, message):
    document = yaml.safe_load(yaml.safe_dump(GOOD))
    change(document)
    folder = _write(tmp_path, document)
    with pytest.raises(SearchSpaceError, match=f"toy.yaml: {message}"):
        load_search_space("toy", folder, allowed_keys={"win_size", "patch", "lr", "d", "epochs"})


def test_unknown_hyperparameter_and_broken_yaml_and_missing_file(tmp_path):
    with pytest.raises(SearchSpaceError, match="key 'patch': 'toy' has no such hyperparameter"):
        load_search_space("toy", _write(tmp_path, GOOD), allowed_keys={"win_size", "lr"})
    with pytest.raises(SearchSpaceError, match="toy.yaml: not valid YAML"):
        load_search_space("toy", _write(tmp_path, "model: [unclosed"))
    with pytest.raises(SearchSpaceError, match="no search space for model 'ghost': create .*ghost.yaml"):
        load_search_space("ghost", tmp_path)


def test_protocol_settings_merge_the_default_with_the_dataset_family(tmp_path):
    document = {**GOOD, "extra_protocols": ["epsilon-train"], "protocol_settings": {
        "*": {"pot_q": 1.0e-3, "pot_level": 0.99}, "SMAP": {"pot_level": 0.9, "score_postprocessing": "entity-minmax"}}}
    space = load_search_space("toy", _write(tmp_path, document))
    assert space.extra_protocols == ("epsilon-train",)
    assert space.protocol_settings_for("SMAP/A-1") == {"pot_q": 1.0e-3, "pot_level": 0.9,
                                                       "score_postprocessing": "entity-minmax"}
    assert space.protocol_settings_for("SMD") == {"pot_q": 1.0e-3, "pot_level": 0.99}
