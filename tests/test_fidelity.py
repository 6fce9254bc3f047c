"""Equivalence with the official implementations, on the official code's own numbers.

`tests/fidelity/` holds, per model, what the release computed in float64 from its own
initialisation (format: `tests/fidelity/README.md`). Each test loads the official parameters
through the model's documented `load_official_state_dict` and checks every stored quantity:
outputs, loss terms, scores and every gradient (SLMR: also the BatchNorm buffers), to 1e-9.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tsadbench.zoo import get_model
from tsadbench.zoo.official import OfficialCheckpointError

FIDELITY = Path(__file__).parent / "fidelity"
TOLERANCE = 1e-9


def golden(name: str) -> tuple[dict[str, np.ndarray], dict]:
    with np.load(FIDELITY / f"{name}_seed0.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    return arrays, json.loads(str(arrays.pop("config_json")))


def group(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix) + 1:]: value for key, value in arrays.items() if key.startswith(prefix + "/")}


def assert_equal(ours: torch.Tensor | np.ndarray, official: np.ndarray, what: str) -> None:
    """|ours - official| <= 1e-9 (relative to the magnitude where it exceeds 1)."""
    ours = ours.detach().cpu().numpy() if torch.is_tensor(ours) else np.asarray(ours)
    ours = np.broadcast_to(ours, official.shape)
    scale = max(1.0, float(np.abs(official).max(initial=0.0)))
    difference = float(np.abs(ours - official).max(initial=0.0))
    assert difference <= TOLERANCE * scale, f"{what}: max |difference| {difference:.3g} (scale {scale:.3g})"


def build(name: str, arrays: dict[str, np.ndarray], n_channels: int, **config):
    model_cls = get_model(name)
    model = model_cls(n_channels, model_cls.Config.from_dict(config), seed=0)
    model.set_dtype(torch.float64)
    model.load_official_state_dict(group(arrays, "param"))
    return model


def gradients(model, loss: torch.Tensor, official_keys) -> dict[str, torch.Tensor | None]:
    """d loss / d each of our parameters, under its official name (None: no gradient path)."""
    ours = dict(model.network.named_parameters())
    names = {model.official_keys.our_key(key): key for key in official_keys
             if not model.official_keys.is_not_built(key)}
    names = {key: official for key, official in names.items() if key in ours}
    grads = torch.autograd.grad(loss, [ours[key] for key in names], retain_graph=True, allow_unused=True)
    return {official: grad for official, grad in zip(names.values(), grads)}


def check_gradients(model, loss: torch.Tensor, arrays: dict[str, np.ndarray], config: dict, group_name: str) -> None:
    """Every official gradient of `group_name` to 1e-9, and no gradient where the release has none."""
    official = group(arrays, group_name)
    without = [key for key in config["params_without_grad"][group_name] if not model.official_keys.is_not_built(key)]
    ours = gradients(model, loss, group(arrays, "param"))
    for key, value in official.items():
        assert ours[key] is not None, f"{group_name}/{key}: the release has a gradient, we have none"
        assert_equal(ours[key], value, f"{group_name}/{key}")
    for key in without:
        assert ours.get(key) is None, f"{group_name}/{key}: the release has no gradient, we have one"
    assert set(ours) <= set(official) | set(without), "a parameter of ours is in neither list"


def check_losses_and_gradients(model, losses: dict[str, torch.Tensor], arrays: dict[str, np.ndarray], config: dict,
                               gradient_groups: dict[str, torch.Tensor]) -> None:
    """Every official loss term, and for each gradient group the gradient of its loss."""
    for name, value in group(arrays, "loss").items():
        assert_equal(losses[name], value, name)
    for group_name, loss in gradient_groups.items():
        check_gradients(model, loss, arrays, config, group_name)


def check_window_scores(model, arrays: dict[str, np.ndarray]) -> None:
    """The release's score of every window of the batch, each window scored as a whole series."""
    for b, window in enumerate(arrays["input"]):
        assert_equal(model.score(window), arrays["score"][b], f"score of window {b}")


def capture_inputs(modules) -> list[torch.Tensor]:
    """The input of every call of `modules` (a forward pre-hook each), in call order."""
    seen: list[torch.Tensor] = []
    for module in modules:
        module.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
    return seen


def test_anomaly_transformer_equals_the_release():
    arrays, config = golden("anomaly_transformer")
    kwargs = config["constructor_kwargs"]
    model = build("anomaly_transformer", arrays, kwargs["enc_in"], win_size=kwargs["win_size"],
                  d_model=kwargs["d_model"], n_heads=kwargs["n_heads"], e_layers=kwargs["e_layers"],
                  d_ff=kwargs["d_ff"], dropout=kwargs["dropout"], activation=kwargs["activation"],
                  k=float(config["solver_settings"]["k"]))
    x = torch.as_tensor(arrays["input"])
    attention_inputs = capture_inputs(layer.attention for layer in model.network.layers)
    model.network.eval()
    reconstruction, series, prior = model.network(x)
    assert_equal(reconstruction, arrays["out/reconstruction"], "reconstruction")
    for u, layer in enumerate(model.network.layers):
        sigma, raw_prior = layer.attention.gaussian_prior(attention_inputs[u])
        assert_equal(series[u], arrays[f"out/series_{u}"], f"series_{u}")
        assert_equal(prior[u], arrays[f"out/prior_normalised_{u}"], f"prior_normalised_{u}")
        assert_equal(raw_prior, arrays[f"out/prior_{u}"], f"prior_{u}")
        assert_equal(sigma, arrays[f"out/sigma_{u}"], f"sigma_{u}")
    check_window_scores(model, arrays)

    model.network.train()
    losses = model.losses(x)
    check_losses_and_gradients(model, losses, arrays, config, {
        "grad_phase1": losses["loss1"], "grad_phase2": losses["loss2"], "grad": model._objective(x)[0]})


def test_stformer_equals_the_release():
    arrays, config = golden("stformer")
    c = config["constructor_config"]
    model = build("stformer", arrays, c["enc_in"], win_size=c["win_size"], d_model=c["d_model"], d_ff=c["d_ff"],
                  n_heads=c["n_heads"], e_layers=c["e_layers"], dropout=c["dropout"], factor=c["factor"],
                  k=float(config["solver_settings"]["k"]))
    x = torch.as_tensor(arrays["input"])
    model.network.eval()
    reconstruction, series, prior, embedding_loss = model.network(x)
    assert_equal(reconstruction, arrays["out/reconstruction"], "reconstruction")
    assert_equal(embedding_loss.mean(), arrays["out/loss_emb"], "loss_emb")
    for u in range(c["e_layers"]):
        assert_equal(series[u], arrays[f"out/series_{u}"], f"series_{u}")
        assert_equal(prior[u], arrays[f"out/prior_normalised_{u}"], f"prior_normalised_{u}")
        raw_prior = model.network.layers[u].anomaly_attention.gaussian_prior(model.network.point_embedding(x))[1]
        assert_equal(raw_prior, arrays[f"out/prior_{u}"], f"prior_{u}")
    sigma = model.network.layers[-1].anomaly_attention.gaussian_prior(model.network.point_embedding(x))[0]
    assert_equal(sigma, arrays["out/sigma"], "sigma of the last block")
    check_window_scores(model, arrays)

    model.network.train()
    losses = model.losses(x)
    check_losses_and_gradients(model, losses, arrays, config, {
        "grad_emb": losses["loss_emb"], "grad_phase1": losses["loss1"], "grad_phase2": losses["loss2"],
        "grad": model._objective(x)[0]})


def test_transmamba_equals_the_release():
    from tsadbench.zoo.transmamba import coarse_view, fine_view, revin_normalise

    arrays, config = golden("transmamba")
    c = config["constructor_config"]
    model = build("transmamba", arrays, c["channel"], win_size=c["win_size"], d_model=c["d_model"],
                  n_heads=c["n_heads"], e_layers=c["e_layers"], dropout=c["dropout"], aug_rate=c["aug_rate"],
                  patch_sizes=[c["patch_size_high"], c["patch_size_low"]], revin=bool(c["revin"]),
                  mamba_backend="torch")
    for embedding in (*model.network.high_embeddings, *model.network.low_embeddings):
        embedding.dropout.p = 0.0  # the release's fixed 0.1, set to 0 by the golden run as well
    x = torch.as_tensor(arrays["input"])
    mamba_outputs: list[torch.Tensor] = []
    model.network.mamba.register_forward_hook(lambda _module, _args, output: mamba_outputs.append(output))
    model.network.eval()
    out = model.network(x, contrastive=False)
    assert_equal(out.reconstruction, arrays["out/reconstruction"], "reconstruction")
    assert_equal(mamba_outputs[0], arrays["aux/mamba_out"], "mamba_out")
    assert_equal(out.real, arrays["aux/real"], "real")
    assert_equal(out.imag, arrays["aux/imag"], "imag")
    spectrum_error = (out.spectrum.real - out.real).pow(2) + (out.spectrum.imag - out.imag).pow(2)
    assert_equal(spectrum_error.mean(), arrays["out/recon_loss_f"], "recon_loss_f of the test-mode forward")
    n_pairs = len(c["patch_size_high"])
    for u in range(n_pairs):
        assert_equal(out.high[u], arrays[f"out/high_{u}"], f"high_{u}")
        assert_equal(out.low[u], arrays[f"out/low_normalised_{u}"], f"low_normalised_{u}")
        # the release's raw low map rows sum to W / p, the up-sampling factor
        factor = c["win_size"] // c["patch_size_low"][u]
        assert_equal(out.low[u] * factor, arrays[f"out/low_{u}"], f"low_{u}")
    check_window_scores(model, arrays)

    normalised = revin_normalise(x)[0]
    assert_equal(coarse_view(normalised), arrays["out/coarse_view"], "coarse_view")
    torch.manual_seed(1000 + config["seed"])  # the golden run's draw, from the same global generator
    assert_equal(fine_view(normalised, c["aug_rate"]), arrays["out/fine_view"], "fine_view")
    model.network.train()
    losses = model.losses(x, fine=torch.as_tensor(arrays["out/fine_view"]))
    check_losses_and_gradients(model, losses, arrays, config, {
        "grad_phase1": losses["loss_T"], "grad_phase2": losses["loss_F"], "grad": losses["loss_T"] + losses["loss_F"]})


def build_slmr(arrays: dict[str, np.ndarray], config: dict, **flags):
    kw = config["constructor_kwargs"]
    return build("slmr", arrays, kw["inplanes"], win_size=kw["window"], planes=kw["planes"], groups=kw["groups"],
                 scales=kw["scales"], gru_hidden=kw["gru_hid_dim"], fc_hidden=kw["fc_hid_dim"],
                 recon_hidden=kw["recon_hid_dim"], dropout=0.0, gamma=config["scoring_settings"]["gamma"],
                 mask_ratio=config["training_settings"]["mask_ratio"], **flags)


def test_slmr_with_default_settings_equals_the_release():
    arrays, config = golden("slmr")
    model = build_slmr(arrays, config)
    win = config["constructor_kwargs"]["window"]
    x = torch.as_tensor(arrays["input"])
    model.network.eval()
    forecast, reconstruction, h_end = model.network.forward_with_state(x)
    assert_equal(forecast, arrays["out/forecast"], "forecast")
    assert_equal(reconstruction, arrays["out/reconstruction"], "reconstruction")
    assert_equal(h_end, arrays["aux/h_end"], "h_end")
    assert_equal(model.network.decoder_input(h_end), arrays["aux/decoder_input"], "decoder_input")
    assert_equal(model.score(arrays["series"])[win:], arrays["score"], "score")

    model.network.train()
    windows = torch.cat([x, torch.as_tensor(arrays["target"])], dim=1)
    keep = torch.as_tensor(arrays["mask"])
    assert_equal(windows[:, :-1] * keep, arrays["input_masked"], "input_masked")
    train_forecast, train_reconstruction, train_h_end = model.network.forward_with_state(windows[:, :-1] * keep)
    assert_equal(train_forecast, arrays["out/train_forecast"], "train_forecast")
    assert_equal(train_reconstruction, arrays["out/train_reconstruction"], "train_reconstruction")
    assert_equal(train_h_end, arrays["aux/train_h_end"], "train_h_end")
    for official, value in group(arrays, "buffer_after_step").items():
        if not model.official_keys.is_not_built(official):
            ours = dict(model.network.named_buffers())[model.official_keys.our_key(official)]
            assert_equal(ours.double(), value, f"buffer after the step: {official}")

    model.load_official_state_dict(group(arrays, "param"))  # running statistics as before the step
    losses = model.losses(windows, keep)
    check_losses_and_gradients(model, losses, arrays, config, {"grad": losses["loss"]})


@pytest.mark.parametrize("flag", [{"decoder_input": "repeated"}, {"half_order": "even_positions_first"}])
def test_slmr_paper_intent_flags_depart_from_the_release(flag):
    """Each flag changes what it names: the decoder input changes every score; the half order
    changes only the BatchNorm running statistics of a training forward."""
    arrays, config = golden("slmr")
    win = config["constructor_kwargs"]["window"]
    model = build_slmr(arrays, config, **flag)
    if "decoder_input" in flag:
        assert np.abs(model.score(arrays["series"])[win:] - arrays["score"]).max() > 1e-3
    else:
        assert_equal(model.score(arrays["series"])[win:], arrays["score"], "eval-mode score")
        model.network.train()
        model.network(torch.as_tensor(arrays["input_masked"]))
        drift = model.network.norm_out.running_mean.numpy() - arrays["buffer_after_step/bn3.running_mean"]
        assert np.abs(drift).max() > 1e-6


def test_official_checkpoint_errors_name_the_key(tmp_path):
    arrays, config = golden("slmr")
    state = {key: torch.as_tensor(value) for key, value in group(arrays, "param").items()}
    model = build_slmr(arrays, config)
    path = tmp_path / "slmr.pt"
    torch.save(state, path)
    model.load_official_state_dict(path)  # a file saved by the official code's torch.save
    with pytest.raises(OfficialCheckpointError, match="not_a_key"):
        model.load_official_state_dict({**state, "not_a_key": torch.zeros(1)})
    with pytest.raises(OfficialCheckpointError, match="gru.weight_ih_l0"):
        model.load_official_state_dict({key: value for key, value in state.items() if key != "gru.weight_ih_l0"})
    with pytest.raises(OfficialCheckpointError, match="shape"):
        model.load_official_state_dict({**state, "conv1.weight": torch.zeros(3, 3, 1)})


def test_a_full_official_position_table_loads_its_first_rows():
    """Official checkpoints hold the whole [1, 5000, d] sinusoid table; the window reads its first rows."""
    arrays, config = golden("anomaly_transformer")
    kwargs = config["constructor_kwargs"]
    state = group(arrays, "param")
    table = state["embedding.position_embedding.pe"]
    state["embedding.position_embedding.pe"] = np.concatenate([table, np.ones((1, 5000 - table.shape[1], 64))], 1)
    model_cls = get_model("anomaly_transformer")
    model = model_cls(kwargs["enc_in"], model_cls.Config(win_size=50, d_model=64, n_heads=2, e_layers=2, d_ff=64))
    model.set_dtype(torch.float64)
    model.load_official_state_dict(state)
    assert_equal(model.network.embedding.positions, table[0], "position table")
    assert_equal(model.score(arrays["input"][0]), arrays["score"][0], "score of window 0")
