"""TWavefussion: Haar = pywt, exact reverse chain, two-stage training, beats random, aligned scores."""
import copy
from pathlib import Path

import numpy as np
import pytest
import pywt
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from tests.zoo_series import sines_with_anomalies
from tsadbench.zoo import get_model
from tsadbench.zoo.base import ModelConfigError
from tsadbench.zoo.twavefussion import TWavefussion, TWavefussionConfig
from tsadbench.zoo.twavefussion_diffusion import (
    UNet1d,
    add_noise,
    ddim_reverse,
    haar_dwt,
    haar_idwt,
    linear_alphas_bar,
)

TINY = dict(win_size=16, latent_dim=4, embed_dim=16, ff_dim=32, n_heads=2, ae_epochs=3, batch_size=32, lr=2e-3,
            diffusion_lr=2e-3, diffusion_steps=100, t_star=10, ddim_stride=5, unet_channels=8,
            unet_multipliers=[1, 2], unet_res_blocks=1, unet_attention_lengths=[4], unet_heads=2, ema_decay=0.99)
SPACE = Path(__file__).parents[1] / "search_spaces" / "twavefussion.yaml"


def synthetic(seed: int = 0, **sizes):
    return sines_with_anomalies(seed, **sizes)


def tiny(seed: int = 0, **changes) -> TWavefussion:
    return TWavefussion(3, TWavefussionConfig.from_dict({**TINY, **changes}), seed=seed)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_haar_step_equals_pywt_db1(rows, half_length, seed):
    x = np.random.default_rng(seed).standard_normal((rows, 2 * half_length))
    approximation, detail = haar_dwt(torch.from_numpy(x))
    expected_a, expected_d = pywt.dwt(x, "db1", mode="zero", axis=-1)
    np.testing.assert_allclose(approximation.numpy(), expected_a, atol=1e-12)
    np.testing.assert_allclose(detail.numpy(), expected_d, atol=1e-12)
    inverse = pywt.idwt(expected_a, expected_d, "db1", axis=-1)
    np.testing.assert_allclose(haar_idwt(approximation, detail).numpy(), inverse, atol=1e-12)
    with pytest.raises(ValueError, match="even"):
        haar_dwt(torch.zeros(rows, 2 * half_length + 1))


@pytest.mark.parametrize("t_star, stride", [(50, 10), (49, 10), (7, 3), (0, 1), (499, 100)])
def test_reverse_chain_with_a_perfect_noise_predictor_recovers_the_input(t_star, stride):
    alphas_bar = linear_alphas_bar(500, 1e-4, 0.02).float()
    clean = torch.randn(4, 16, 32, dtype=torch.float32)
    noise = torch.randn_like(clean)
    noisy = add_noise(clean, torch.full((4,), t_star), alphas_bar, noise)
    visited = []

    def oracle(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        visited.append(int(t[0]))
        a = alphas_bar[t[0]]
        return (x - a.sqrt() * clean) / (1 - a).sqrt()

    torch.testing.assert_close(ddim_reverse(noisy, t_star, stride, alphas_bar, oracle), clean, atol=2e-4, rtol=1e-4)
    assert visited == list(range(t_star, -1, -stride))


def test_unet_matches_the_release_denoiser_size():
    unet = UNet1d(16, 32, (2, 2, 2, 4), 2, (8, 4), 32, 0.2, 4)
    # 1,392,816 traced for the release's Model2, minus 3 never-called Downsample 1x1 convs (3 x 4,160).
    assert sum(p.numel() for p in unet.parameters()) == 1_392_816 - 3 * 4_160
    assert unet(torch.randn(2, 16, 32), torch.tensor([0, 499])).shape == (2, 16, 32)


def test_two_stages_train_different_parts():
    train, _, _ = synthetic(n_train=300, n_test=100)
    model = tiny(ae_epochs=1)
    frozen = copy.deepcopy(model.network.state_dict())

    def changed(prefix: str) -> bool:
        now = model.network.state_dict()
        return any(not torch.equal(now[k], frozen[k]) for k in now if k.startswith(prefix))

    assert model.stage == "autoencoder"
    assert set(model.train_epoch(train, max_windows=64)) == {"ae_loss"}
    assert changed("autoencoder.") and not changed("denoiser.") and not changed("ema_denoiser.")
    frozen = copy.deepcopy(model.network.state_dict())
    assert model.stage == "diffusion"
    assert set(model.train_epoch(train, max_windows=64)) == {"diffusion_loss"}
    assert not changed("autoencoder.") and changed("denoiser.") and changed("ema_denoiser.")
    assert model.ema_updates == 2


def test_trains_loss_falls_beats_random_and_scores_align_with_rows():
    train, test, labels = synthetic()
    model, untrained = tiny(), tiny()
    held_out = train[-200:]
    losses = []
    for _ in range(6):
        losses.append(model.train_epoch(train[:-200]))
    assert losses[2]["ae_loss"] < 0.5 * losses[0]["ae_loss"]
    assert losses[5]["diffusion_loss"] < losses[3]["diffusion_loss"]
    assert model.validation_loss(held_out) < 0.2 * untrained.validation_loss(held_out)
    scores = model.score(test)
    np.testing.assert_array_equal(scores, model.score(test))
    auc = roc_auc_score(labels, scores)
    assert auc > 0.8
    for position in (70, 190, 300, 520):  # each spike is the top score of its neighbourhood
        assert position <= np.argmax(scores[position - 20:position + 20]) + position - 20 <= position + 1
    assert roc_auc_score(labels, untrained.score(test)) < auc  # Kim et al.'s untrained copy, same scoring


def test_same_seed_same_scores_and_state_dict_round_trip():
    train, test, _ = synthetic(n_train=300, n_test=100)
    runs = []
    for _ in range(2):
        model = tiny(seed=5, ae_epochs=1)
        model.train_epoch(train, max_windows=64)
        model.train_epoch(train, max_windows=64)
        runs.append(model.score(test))
    np.testing.assert_array_equal(runs[0], runs[1])
    state = model.state_dict()
    restored = tiny(seed=11, ae_epochs=1)
    restored.load_state_dict(copy.deepcopy(state))
    assert restored.stage == "diffusion" and restored.ema_updates == model.ema_updates
    np.testing.assert_array_equal(restored.score(test), runs[1])
    continued = restored.train_epoch(train, max_windows=32)
    model.load_state_dict(copy.deepcopy(state))
    assert model.train_epoch(train, max_windows=32) == continued


def test_config_errors_name_the_key_and_search_space_holds_the_release_defaults():
    assert get_model("twavefussion") is TWavefussion
    assert TWavefussion.display_name == "TWavefussion (clean re-implementation)"
    for bad, key in (({"win_size": 18}, "win_size"), ({"t_star": 100}, "t_star"), ({"n_heads": 3}, "n_heads")):
        with pytest.raises(ModelConfigError, match=key):
            TWavefussionConfig.from_dict({**TINY, **bad})
    space = yaml.safe_load(SPACE.read_text())
    run_keys = {"epochs", "anomaly_ratio"}
    for point in space["first_points"].values():
        assert (point["win_size"], point["latent_dim"], point["diffusion_steps"], point["t_star"]) == (64, 16, 500, 50)
        assert point["epochs"] > point["ae_epochs"]
        TWavefussionConfig.from_dict({**{k: v for k, v in point.items() if k not in run_keys}, **space["fixed"]})
    smoke = TWavefussion(3, TWavefussionConfig.from_dict({**space["fixed"], **space["smoke"]}))
    assert smoke.score(np.zeros((40, 3), dtype=np.float32)).shape == (40,)
