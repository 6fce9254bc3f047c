"""Per-epoch evaluation: one scoring pass per split changes no reported number, and `eval_every`.

The oracle is the trial loop as it was before the splits shared their passes, written here from
the public detector methods called separately in the old order (train_epoch, validation_loss on
the monitored split, score_set of train, val and test, evaluate_epoch, validation_loss of val)
with its own patience bookkeeping. Every built-in model runs its search space's `smoke:` values
on a fixed seed; every metric and every score vector must be bit for bit equal.
"""
import dataclasses
import math

import numpy as np
import pytest
import torch

from tsadbench.datasets.preprocessing import prepare
from tsadbench.datasets.synthetic import SyntheticSpec, generate_synthetic
from tsadbench.search_spaces import load_search_space
from tsadbench.tuning.early_stopping import monitored_split
from tsadbench.tuning.trial import (RUN_KEYS, TrialSettings, evaluate_epoch, postprocess_split_scores, run_trial,
                                    split_config)
from tsadbench.zoo import MODELS, get_model
from tsadbench.zoo.base import HEADLINE_SCORE

TIMINGS = ("train_seconds", "epoch_seconds", "cpu_seconds")
NEW_KEYS = ("evaluated", "evaluated_epoch")
# patience 2 and a min_delta no loss can beat: epochs 1-3 train, 2 and 3 are bad, epoch 1 is
# restored and reported again; so the loop's every path runs (monitored loss, scoring, restore)
RUN = {"epochs": 3, "anomaly_ratio": 2.0, "seed": 5, "patience": 2, "min_delta": 1e9}
PROTOCOLS = ("at-compat", "best-f1", "pot-train", "epsilon-train")


@pytest.fixture(scope="module")
def data():
    spec = SyntheticSpec(n_channels=4, train_length=1200, test_length=1000, anomalies_per_kind=1)
    return prepare("synthetic", [generate_synthetic(spec).arrays])


def smoke_config(name: str) -> dict:
    cls = get_model(name)
    allowed = {f.name for f in dataclasses.fields(cls.Config)}
    smoke = load_search_space(name, allowed_keys=allowed | set(RUN_KEYS)).smoke
    return {key: value for key, value in smoke.items() if key in allowed}


def oracle_trial(config: dict, data, settings: TrialSettings) -> list[tuple[dict, dict]]:
    """The old loop, from the public methods: (metrics without timings, headline scores) per report."""
    cls = get_model(settings.model)
    model_values, run_values = split_config(config, cls)
    model = cls(data.n_channels, cls.Config.from_dict(model_values), seed=run_values["seed"])
    if settings.precision != "fp32":
        model.set_precision(settings.precision)
    split = monitored_split(cls, settings.dataset, settings.protocol_mode)
    monitored = data.val if split == "val" else data.test
    best_loss, best_epoch, bad, best_state, best_stats = math.inf, 0, 0, None, {}
    reports = []

    def evaluate(run: dict, stats: dict) -> None:
        sets = {name: model.score_set(series) for name, series in (("train", data.train), ("val", data.val),
                                                                    ("test", data.test))}
        evaluated = {}
        for name in sets["test"]:
            scores = postprocess_split_scores({s: values[name] for s, values in sets.items()}, data,
                                              settings.score_postprocessing)
            evaluated[name] = (scores, evaluate_epoch(scores, data.labels, run_values["anomaly_ratio"],
                                                      settings.protocols, settings.protocol_options,
                                                      settings.vus_window, data.test))
        scores, records = evaluated.pop(HEADLINE_SCORE)
        metrics = {**run, **stats, "val_loss": model.validation_loss(data.val), **records}
        if evaluated:
            metrics["extra_scores"] = {name: extra for name, (_, extra) in evaluated.items()}
        reports.append((metrics, scores))

    run = {"epochs_planned": run_values["epochs"], "seed": run_values["seed"], "anomaly_ratio": run_values["anomaly_ratio"]}
    for epoch in range(1, run_values["epochs"] + 1):
        stats = model.train_epoch(data.train)
        loss = model.validation_loss(monitored)
        if loss <= best_loss - run_values["min_delta"]:
            best_loss, best_epoch, bad, best_state, best_stats = loss, epoch, 0, model.state_dict(), dict(stats)
        else:
            bad += 1
        reason = "patience" if bad >= run_values["patience"] else None
        if reason is None and epoch == run_values["epochs"]:
            reason = "planned_epochs"
        record = {"split": split, "patience": run_values["patience"], "min_delta": run_values["min_delta"],
                  "monitored_loss": loss, "best_epoch": best_epoch, "best_loss": best_loss, "bad_epochs": bad,
                  "stop_reason": reason}
        evaluate({"epoch": epoch, "reported_epoch": best_epoch, **run, "early_stopping": record}, stats)
        if reason is not None:
            break
    if best_epoch != epoch:
        model.load_state_dict(best_state)
        record = {**record, "monitored_loss": best_loss, "restored": True, "stopped_after_epoch": epoch}
        evaluate({"epoch": best_epoch, "reported_epoch": best_epoch, **run, "early_stopping": record}, best_stats)
    return reports


def same(a, b) -> bool:
    """Exact equality of nested reports; NaN equals NaN (a metric undefined in both)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name,precision", [(name, "fp32") for name in sorted(MODELS)]
                         + [(name, "bf16") for name in ("anomaly_transformer", "transmamba", "dual_stf")])
def test_one_pass_per_split_reports_every_number_of_the_old_loop_bit_for_bit(name, precision, data):
    settings = TrialSettings(name, "synthetic", protocols=PROTOCOLS, protocol_mode="paper", precision=precision)
    config = {**smoke_config(name), **RUN}
    reports = []
    run_trial(config, data, settings, lambda metrics, artifacts: reports.append((metrics, artifacts["scores"])))
    expected = oracle_trial(config, data, settings)
    assert [m["epoch"] for m, _ in reports] == [m["epoch"] for m, _ in expected] == [1, 2, 3, 1]
    for (metrics, scores), (oracle_metrics, oracle_scores) in zip(reports, expected):
        assert metrics["evaluated"] is True and metrics["evaluated_epoch"] == metrics["epoch"]
        got = {key: value for key, value in metrics.items() if key not in TIMINGS + NEW_KEYS}
        differing = sorted(key for key in got.keys() | oracle_metrics.keys()
                           if not same(got.get(key), oracle_metrics.get(key)))
        assert not differing, f"{name} epoch {metrics['epoch']}: {differing} differ from the old loop"
        for split in ("train", "val", "test"):
            assert np.array_equal(scores[split], oracle_scores[split]), f"{name}: {split} scores differ"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("name", ["anomaly_transformer", "stformer", "transmamba", "dual_stf", "twavefussion",
                                  "mlp_autoencoder"])
def test_a_shared_pass_equals_the_two_separate_calls(name, precision, data):
    cls = get_model(name)
    model = cls(data.n_channels, cls.Config.from_dict(smoke_config(name)), seed=1)
    model.set_precision(precision)
    model.train_epoch(data.train, max_windows=64)
    scores, loss = model.score_set_and_loss(data.test)
    separate = model.score_set(data.test)
    assert loss == model.validation_loss(data.test)
    assert scores.keys() == separate.keys()
    assert all(np.array_equal(scores[key], separate[key]) for key in scores)


def test_the_shared_kl_terms_are_the_row_kls_of_the_losses_and_scores_bit_for_bit():
    """The evaluation pass computes KL(a||b) + KL(b||a) once with each logarithm taken once; the
    floats must be those of the definitions (`row_kl` twice, as the score and the minimax terms)."""
    import torch

    from tsadbench.zoo.at_family import (association_scores, discrepancy_term, row_kl, scores_from_discrepancies,
                                         stop_gradient_discrepancies, symmetric_discrepancies)

    generator = torch.Generator().manual_seed(0)
    for shape in ((3, 2, 7, 7), (16, 8, 100, 100), (5, 1, 90, 90)):
        a_maps = [torch.softmax(5 * torch.randn(shape, generator=generator), -1) for _ in range(3)]
        b_maps = [torch.softmax(20 * torch.randn(shape, generator=generator), -1) for _ in range(3)]
        b_maps[0][..., :3] = 0.0  # exact zeros, as an underflowed prior
        pairs = symmetric_discrepancies(a_maps, b_maps)
        for pair, a, b in zip(pairs, a_maps, b_maps):
            assert torch.equal(pair, row_kl(a, b) + row_kl(b, a))
        definition = torch.softmax(-50.0 * sum(row_kl(a, b) + row_kl(b, a) for a, b in zip(a_maps, b_maps)), dim=-1)
        assert torch.equal(association_scores(a_maps, b_maps, 50.0), definition)
        assert torch.equal(scores_from_discrepancies(pairs, 50.0), definition)
        a_term, b_term = stop_gradient_discrepancies(a_maps, b_maps)
        assert torch.equal(discrepancy_term(pairs), a_term) and torch.equal(discrepancy_term(pairs), b_term)


# --- --eval-every -----------------------------------------------------------------------------

AE = {"win_size": 32, "d_model": 16, "lr": 3e-3, "anomaly_ratio": 2.0, "seed": 2}


def _reports(config, data, settings, state=None):
    reports = []
    run_trial(config, data, settings, lambda metrics, artifacts: reports.append((metrics, artifacts)), state=state)
    return reports


def _numbers(metrics):
    return {key: value for key, value in metrics.items() if key not in TIMINGS + NEW_KEYS}


def test_eval_every_skips_scoring_between_evaluated_epochs_and_changes_no_evaluated_number(data):
    every = TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=128)
    config = {**AE, "epochs": 7}
    reference = _reports(config, data, every)
    sparse = _reports(config, data, dataclasses.replace(every, eval_every=3, evaluate_epochs=(5,)))
    assert [m["epoch"] for m, _ in sparse] == list(range(1, 8))
    # the first epoch of a run, every 3rd, the scheduler's milestone 5 and the last planned epoch
    assert [m["evaluated"] for m, _ in sparse] == [True, False, True, False, True, True, True]
    assert [m["evaluated_epoch"] for m, _ in sparse] == [1, 1, 3, 3, 5, 6, 7]
    for (metrics, artifacts), (expected, expected_artifacts) in zip(sparse, reference):
        if metrics["evaluated"]:
            assert same(_numbers(metrics), _numbers(expected))
            assert all(np.array_equal(artifacts["scores"][s], expected_artifacts["scores"][s]) for s in artifacts["scores"])
        else:  # trained as before; the last evaluated epoch's records, named as such; no scores
            assert artifacts["scores"] is None
            source = reference[metrics["evaluated_epoch"] - 1][0]
            assert metrics["train_loss"] == expected["train_loss"]
            for key in ("val_loss", "at_compat", "best_f1", "threshold_free"):
                assert same(metrics[key], source[key])
        network, expected_network = artifacts["state"]["model"]["network"], expected_artifacts["state"]["model"]["network"]
        assert all(torch.equal(network[key], expected_network[key]) for key in network)


def test_eval_every_keeps_counting_the_monitored_loss_and_evaluates_the_restored_epoch(data):
    config = {**AE, "epochs": 6, "patience": 2, "min_delta": 0.0}
    settings = TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=64)
    reference = _reports(config, data, settings)
    sparse = _reports(config, data, dataclasses.replace(settings, eval_every=4))
    assert [m["epoch"] for m, _ in sparse] == [m["epoch"] for m, _ in reference]
    for (metrics, _), (expected, _) in zip(sparse, reference):
        assert metrics["early_stopping"] == expected["early_stopping"]
        assert metrics["reported_epoch"] == expected["reported_epoch"]
    final, _ = sparse[-1]
    assert final["evaluated"] is True and same(_numbers(final), _numbers(reference[-1][0]))


def test_a_run_resumed_after_an_unevaluated_epoch_evaluates_its_first_epoch(data):
    settings = TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=64)
    reference = _reports({**AE, "epochs": 6}, data, settings)
    sparse = dataclasses.replace(settings, eval_every=3)
    straight = _reports({**AE, "epochs": 6}, data, sparse)
    assert [m["evaluated"] for m, _ in straight] == [True, False, True, False, False, True]
    resumed = _reports({**AE, "epochs": 6}, data, sparse, state=straight[2][1]["state"])
    assert [(m["epoch"], m["evaluated"]) for m, _ in resumed] == [(4, True), (5, False), (6, True)]
    assert same(_numbers(resumed[0][0]), _numbers(reference[3][0]))


def test_eval_every_must_be_a_positive_int():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="eval_every must be an int >= 1"):
            TrialSettings("random", "synthetic", eval_every=bad)


def test_the_tables_use_evaluated_epochs_only(tmp_path):
    from tsadbench.results.records import TrialRecord

    def record(epoch, evaluated, reported, f1):
        return {"epoch": epoch, "reported_epoch": reported, "evaluated": evaluated,
                "evaluated_epoch": epoch if evaluated else epoch - 1, "at_compat": {"pa_f1": f1}}

    # a budget ended the trial after epoch 4, whose best monitored epoch 4 was not evaluated
    epochs = [record(1, True, 1, 0.1), record(2, True, 2, 0.2), record(3, False, 3, 0.2), record(4, False, 4, 0.2)]
    trial = TrialRecord("e", "m", "d", tmp_path, {}, epochs, None, {})
    assert trial.last["epoch"] == 2 and trial.last["evaluated"] is True
    assert "epoch 2: the last evaluated epoch (epoch 4" in trial.reported_epoch_reason
    named = TrialRecord("e", "m", "d", tmp_path, {}, [*epochs[:3], record(4, True, 2, 0.4)], None, {})
    assert named.last is named.epochs[1]
    old_run = TrialRecord("e", "m", "d", tmp_path, {}, [{"epoch": 1}, {"epoch": 2}], None, {})  # no `evaluated` key
    assert old_run.last["epoch"] == 2


def test_asha_milestones_are_the_rungs_of_the_experiments_scheduler():
    from ray.tune.schedulers import ASHAScheduler

    from tsadbench.tuning.experiment import ASHA_GRACE_EPOCHS, ASHA_REDUCTION_FACTOR, asha_milestones

    for max_epochs in (1, 2, 3, 7, 10, 100):
        scheduler = ASHAScheduler(time_attr="training_iteration", metric="m", mode="max", max_t=max_epochs + 1,
                                  grace_period=min(ASHA_GRACE_EPOCHS, max_epochs),
                                  reduction_factor=ASHA_REDUCTION_FACTOR)
        rungs = sorted(milestone for milestone, _ in scheduler._brackets[0]._rungs)
        assert list(asha_milestones(max_epochs)) == rungs


def test_eval_every_reaches_every_trial_and_the_experiments_provenance(tmp_path):
    from tsadbench.tuning.experiment import _metadata, asha_milestones
    from tsadbench.tuning.grids import GridSpec
    from tsadbench.tuning.runner import GridRequest, plan_grid

    grid = GridSpec("g", "", models=("mlp_autoencoder",), datasets=("synthetic",), num_samples=1, max_concurrent=1,
                    tiny_models=True)
    [experiment] = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", fixed={"epochs": 10},
                                         eval_every=4)).experiments
    assert experiment.settings.eval_every == 4
    meta = _metadata(experiment)
    assert meta["settings"]["eval_every"] == 4
    assert "every 4th epoch is scored and evaluated (--eval-every 4)" in meta["evaluation"]
    assert str(list(asha_milestones(10))) in meta["evaluation"]


def test_an_untrained_copy_is_reported_as_the_initialised_model(tmp_path):
    from tsadbench.results.records import TrialRecord

    untrained = TrialRecord("e", "m", "d", tmp_path, {}, [{"epoch": 0, "reported_epoch": 0, "epochs_planned": 0}],
                            None, {})
    assert untrained.reported_epoch_reason == "epoch 0: the initialised model, scored untrained"
    trained = TrialRecord("e", "m", "d", tmp_path, {}, [{"epoch": 1, "reported_epoch": 1, "epochs_planned": 1}],
                          None, {})
    assert trained.reported_epoch_reason == "epoch 1: the last epoch trained (no early stopping)"
