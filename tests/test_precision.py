"""`--precision bf16`: PyTorch detectors run their forward passes under bf16 autocast, their scores
stay finite and rank the points as the fp32 scores do; other detectors refuse it by name, and the
trial runs them in fp32 (the experiment's provenance says so: tests/test_provenance.py)."""
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from tsadbench.evaluation.ranking import roc_auc
from tsadbench.tuning.trial import TrialSettings, precision_record, precision_used, run_trial
from tsadbench.zoo import MODELS, ModelConfigError
from tsadbench.zoo.at_family import AnomalyAttention

from tests.test_device_data_path import TORCH_MODELS, smoke_config
from tests.test_trial import _collect, data  # noqa: F401  (the synthetic PreparedData fixture)
from tests.zoo_series import sines_with_anomalies

# Tolerances from measurement (CPU autocast, smoke configs, 2 epochs of 256 windows, seeds 0-2 of the
# series below): the lowest Spearman correlation of fp32 and bf16 test scores was 0.991 (Dual-STF,
# seed 2), the largest ROC-AUC difference on the planted anomalies 0.0074 (the same run); every other
# model stayed above 0.998 and within 0.004. The bounds leave about twice that room. Longer training
# lets the two runs drift further apart (STformer, 2 x 512 windows: 0.961), so they hold for this recipe.
MIN_SPEARMAN = 0.98
MAX_AUC_DIFFERENCE = 0.02


def _scores(name, precision, train, test):
    model = MODELS[name](3, smoke_config(name), seed=0)
    model.set_precision(precision)
    for _ in range(2):
        model.train_epoch(train, max_windows=256)
    return model.score(test)


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_bf16_scores_are_finite_and_rank_points_as_fp32_does(name):
    train, test, labels = sines_with_anomalies(seed=0)
    fp32, bf16 = (_scores(name, precision, train, test) for precision in ("fp32", "bf16"))
    assert bf16.dtype == np.float64 and np.isfinite(bf16).all()
    assert not np.array_equal(fp32, bf16)  # autocast did run
    assert spearmanr(fp32, bf16)[0] >= MIN_SPEARMAN
    assert abs(roc_auc(fp32, labels) - roc_auc(bf16, labels)) <= MAX_AUC_DIFFERENCE


def test_the_association_prior_stays_finite_under_bf16_autocast():
    """The cause of Anomaly Transformer's NaN loss under bf16: sigma = 3 ** (sigmoid(5 s) + 1e-5) - 1
    rounds to 0 in bfloat16 for strongly negative s (1 + 1.1e-5 is 1 there), and the Gaussian prior
    divides 0 by 0. The prior and the association maps are computed in float32 under autocast."""
    attention = AnomalyAttention(d_model=8, n_heads=2, win_size=6, dropout=0.0)
    with torch.no_grad():
        attention.sigma_projection.weight.zero_()
        attention.sigma_projection.bias.fill_(-10.0)  # sigmoid(-50): sigma at its floor
    with torch.autocast("cpu", dtype=torch.bfloat16):
        series, prior = attention.associations(torch.randn(3, 6, 8))
    assert series.dtype == prior.dtype == torch.float32
    assert torch.isfinite(prior).all() and torch.allclose(prior.sum(-1), torch.ones(3, 2, 6))


def test_detectors_without_torch_refuse_bf16_and_the_trial_runs_them_in_fp32():
    random = MODELS["random"](3, MODELS["random"].Config(), seed=0)
    with pytest.raises(ModelConfigError, match="random runs in fp32 only, not 'bf16': use --precision fp32"):
        random.set_precision("bf16")
    assert precision_used(MODELS["random"], "bf16") == "fp32"
    assert precision_record(MODELS["one_liner"], "bf16")["note"].endswith("--precision ignored")
    assert precision_used(MODELS["mlp_autoencoder"], "bf16") == "bf16"
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, got 'fp16'"):
        TrialSettings("mlp_autoencoder", "synthetic", precision="fp16")


def test_run_trial_passes_the_precision_to_the_model(data):
    config = {"win_size": 32, "d_model": 16, "epochs": 1, "anomaly_ratio": 1.0}
    runs = {precision: _collect(config, data, TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=128,
                                                            precision=precision))
            for precision in ("fp32", "bf16")}
    (_, fp32), = runs["fp32"]
    (_, bf16), = runs["bf16"]
    assert not np.array_equal(fp32["scores"]["test"], bf16["scores"]["test"])
    assert spearmanr(fp32["scores"]["test"], bf16["scores"]["test"])[0] >= MIN_SPEARMAN
    (_, random), = _collect({"epochs": 1}, data, TrialSettings("random", "synthetic", precision="bf16"))
    assert np.isfinite(random["scores"]["test"]).all()
