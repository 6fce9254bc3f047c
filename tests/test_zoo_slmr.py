"""SLMR: learns, beats random, one score per point (lead-in included), masks as specified, release sizes."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import roc_auc_score

from tests.zoo_series import sines_with_anomalies
from tsadbench.datasets.windows import points_from_window_ends, window_starts
from tsadbench.zoo import get_model
from tsadbench.zoo.base import ModelConfigError
from tsadbench.zoo.slmr import SLMR, SLMRConfig, geometric_keep_mask

TINY = dict(win_size=10, planes=8, groups=2, scales=4, gru_hidden=16, fc_hidden=16, recon_hidden=16,
            batch_size=64, lr=3e-3)
SPACE = Path(__file__).parents[1] / "search_spaces" / "slmr.yaml"


def synthetic(seed: int = 0, **sizes):
    return sines_with_anomalies(seed, **sizes)


def tiny(seed: int = 0, **changes) -> SLMR:
    return SLMR(3, SLMRConfig.from_dict({**TINY, **changes}), seed=seed)


def test_trains_loss_falls_and_beats_random():
    train, test, labels = synthetic()
    model, untrained = tiny(), tiny()
    held_out = train[-200:]
    stats = [model.train_epoch(train[:-200]) for _ in range(5)]
    assert stats[-1]["train_loss"] < stats[0]["train_loss"]
    assert model.validation_loss(held_out) < 0.85 * untrained.validation_loss(held_out)
    scores = model.score(test)
    np.testing.assert_array_equal(scores, model.score(test))
    auc = roc_auc_score(labels, scores)
    assert auc > 0.8
    assert roc_auc_score(labels, untrained.score(test)) < auc  # Kim et al.'s untrained copy, same scoring


def test_every_point_gets_one_score_and_the_lead_in_takes_the_first_forecast():
    model = tiny()
    series = np.random.default_rng(2).standard_normal((37, 3)).astype(np.float32)
    scores = model.score(series)
    assert scores.shape == (37,)
    np.testing.assert_array_equal(scores[:10], np.full(10, scores[10]))
    shortest = model.score(series[:11])
    np.testing.assert_array_equal(shortest, np.full(11, scores[10]))
    with pytest.raises(ValueError, match="at least 11 points"):
        model.score(series[:10])


def test_score_at_t_is_forecast_plus_gamma_times_last_step_reconstruction():
    model = tiny(gamma=0.5)
    series = np.random.default_rng(3).standard_normal((12, 3)).astype(np.float32)
    model.network.eval()
    with torch.no_grad():
        forecast, _ = model.network(torch.from_numpy(series[1:11])[None])
        _, reconstruction = model.network(torch.from_numpy(series[2:12])[None])
    observed = series[11]
    expected = (np.abs(forecast[0].numpy() - observed) + 0.5 * np.abs(reconstruction[0, -1].numpy() - observed)).mean()
    assert model.score(series)[11] == pytest.approx(expected, rel=1e-5)


def test_window_ends_mapping_refuses_gaps():
    starts = window_starts(20, 5, 1)
    mapped = points_from_window_ends(np.arange(starts.size, dtype=float), starts, 5, 20)
    np.testing.assert_array_equal(mapped, [0, 0, 0, 0] + list(range(16)))
    with pytest.raises(ValueError, match="stride 1"):
        points_from_window_ends(np.zeros(4), window_starts(20, 5, 5), 5, 20)
    with pytest.raises(ValueError, match="one value per window"):
        points_from_window_ends(np.zeros(3), starts, 5, 20)


def test_geometric_mask_has_the_configured_ratio_and_run_length():
    torch.manual_seed(0)
    keep = geometric_keep_mask(400, 200, 4, ratio=0.1, mean_run=3.0)
    masked = ~keep
    assert masked.float().mean().item() == pytest.approx(0.1, abs=0.01)
    starts = (masked[:, 1:] & ~masked[:, :-1]).sum().item()
    assert masked[:, 1:].sum().item() / starts == pytest.approx(3.0, rel=0.1)
    assert geometric_keep_mask(8, 10, 3, ratio=0.0, mean_run=3.0).all()


def test_parameter_counts_match_the_release_without_its_unused_downsample():
    # Traced release counts (spec §1) minus the never-called `downsample` branch.
    for channels, targets, release, unused in ((25, (0,), 389_568, 16_200), (55, (0,), 476_000, 34_200),
                                               (51, (), 479_616, 31_800)):
        model = SLMR(channels, SLMRConfig(target_channels=targets))
        assert sum(p.numel() for p in model.network.parameters()) == release - unused


def test_same_seed_same_scores_and_state_dict_round_trip():
    train, test, _ = synthetic(n_train=300, n_test=100)
    runs = []
    for _ in range(2):
        model = tiny(seed=4)
        model.train_epoch(train, max_windows=128)
        runs.append(model.score(test))
    np.testing.assert_array_equal(runs[0], runs[1])
    state = model.state_dict()
    restored = tiny(seed=8)
    restored.load_state_dict(copy.deepcopy(state))
    np.testing.assert_array_equal(restored.score(test), runs[1])
    continued = restored.train_epoch(train, max_windows=64)
    model.load_state_dict(copy.deepcopy(state))
    assert model.train_epoch(train, max_windows=64) == continued


def test_config_errors_target_channels_and_search_space():
    assert get_model("slmr") is SLMR
    for bad, key in (({"win_size": 9}, "win_size"), ({"scales": 3}, "scales"), ({"mask_ratio": 1.0}, "mask_ratio")):
        with pytest.raises(ModelConfigError, match=key):
            SLMRConfig.from_dict({**TINY, **bad})
    with pytest.raises(ModelConfigError, match="target_channels"):
        tiny(target_channels=[3])
    single = tiny(target_channels=[0])
    assert single.score(np.zeros((30, 3), dtype=np.float32)).shape == (30,)
    space = yaml.safe_load(SPACE.read_text())
    run_keys = {"epochs", "anomaly_ratio"}
    first = space["first_points"]["*"]
    assert (first["win_size"], space["fixed"]["batch_size"], first["lr"], first["dropout"]) == (10, 256, 1e-3, 0.3)
    for point in space["first_points"].values():
        SLMRConfig.from_dict({**{k: v for k, v in point.items() if k not in run_keys}, **space["fixed"]})
    assert space["first_points"]["SMAP"]["target_channels"] == [0] == space["first_points"]["MSL"]["target_channels"]
    SLMR(3, SLMRConfig.from_dict({**space["fixed"], **space["smoke"]}))


def test_shared_forward_scoring_equals_the_per_window_definition():
    model = tiny(gamma=0.8)
    model.train_epoch(np.random.default_rng(5).standard_normal((300, 3)).astype(np.float32))
    series = np.random.default_rng(6).standard_normal((157, 3)).astype(np.float32)
    model.network.eval()
    with torch.no_grad():
        windows = torch.from_numpy(np.lib.stride_tricks.sliding_window_view(series, 11, axis=0).transpose(0, 2, 1).copy())
        per_window = model._window_point_scores(windows)[:, 0].numpy()
    expected = points_from_window_ends(per_window, window_starts(157, 11, 1), 11, 157)
    np.testing.assert_allclose(model.score(series), expected, rtol=1e-5, atol=1e-6)
