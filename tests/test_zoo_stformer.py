"""STformer (zoo/stformer.py): its spatio-temporal attention, parameter counts and losses."""
import numpy as np
import pytest
import torch

from tsadbench.zoo.stformer import STformer, dependency_map


def tiny(**overrides) -> STformer:
    config = {"win_size": 24, "d_model": 16, "d_ff": 16, "n_heads": 2, "e_layers": 2, "batch_size": 8, **overrides}
    return STformer(3, STformer.Config.from_dict(config), seed=0)


def test_dependency_map_is_the_codes_numpy_correlation_outer_product():
    tokens = torch.randn(2, 7, 5)
    t = tokens.numpy().astype(np.float64)
    mean = t.mean(axis=1)
    normalised = (t - mean[:, None]) / t.std(axis=1)[:, None]
    correlation = np.einsum("ijk,ik->ij", normalised, mean)
    expected = np.einsum("ij,ik->ijk", correlation, correlation)
    np.testing.assert_allclose(dependency_map(tokens).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert not dependency_map(tokens.requires_grad_()).requires_grad


@pytest.mark.parametrize("layout", ["view", "permute"])
def test_gated_map_head_layout(layout):
    attention = tiny(head_layout=layout).network.layers[0].spatio_temporal
    tokens = torch.randn(2, 6, 16)
    gated = attention.gated_map(tokens)
    by_key = dependency_map(tokens)[..., None] * attention.lambda_projection(tokens)[:, None]  # [B, N, N, H]
    if layout == "view":
        torch.testing.assert_close(gated, by_key.reshape(2, 2, 6, 6))  # memory re-read, heads mixed
    else:
        torch.testing.assert_close(gated, by_key.permute(0, 3, 1, 2))
        gate = attention.lambda_projection(tokens)
        torch.testing.assert_close(gated[:, 1, 2, 4], dependency_map(tokens)[:, 2, 4] * gate[:, 4, 1])


@pytest.mark.parametrize("combination", ["matmul", "elementwise"])
def test_attention_combines_scores_with_the_gated_map(combination):
    attention = tiny(combination=combination, dropout=0.0).network.layers[0].spatio_temporal
    tokens = torch.randn(2, 6, 16)
    q = attention.query_projection(tokens).view(2, 6, 2, 8).transpose(1, 2)
    k = attention.key_projection(tokens).view(2, 6, 2, 8).transpose(1, 2)
    v = attention.value_projection(tokens).view(2, 6, 2, 8).transpose(1, 2)
    scores = q @ k.transpose(-1, -2)
    gated = attention.gated_map(tokens)
    combined = scores @ gated if combination == "matmul" else scores * gated
    weights = torch.softmax(combined / 8 ** 0.5, dim=-1)
    expected = attention.out_projection((weights @ v).transpose(1, 2).reshape(2, 6, 16))
    torch.testing.assert_close(attention(tokens), expected)


def test_patches_pad_the_window_end_by_replication():
    model = tiny(win_size=30, patch_len=12)
    network = model.network
    assert (network.n_segments, network.padding) == (3, 6)
    x = torch.randn(1, 30, 3)
    x_padded = torch.cat([x, x[:, -1:].expand(1, 6, 3)], dim=1)
    patches = x_padded.transpose(1, 2).reshape(1, 3, 3, 12)
    expected = network.pre_norm(network.patch_embedding(patches) + network.patch_positions + network.position)
    captured = {}

    def capture(module, args):
        captured["first"] = args[0]

    network.layers[0].register_forward_pre_hook(capture)
    network.eval()
    network(x)
    torch.testing.assert_close(captured["first"], expected)


def test_parameter_counts_match_the_traced_release():
    # ../shared/specs/models/stformer.md §1.4: 1,357,919 (D = 25), 1,377,926 (D = 38, 579,476 used),
    # 1,404,089 (D = 55); for D = 25, 559,508 used = the total minus 3 x (266,112 + D) never-used per layer.
    assert STformer(25, STformer.Config()).parameter_counts() == {"all": 1_357_919, "used": 559_508}
    assert sum(p.numel() for p in STformer(55, STformer.Config()).network.parameters()) == 1_404_089
    lean = STformer(25, STformer.Config(build_unused_parameters=False))
    assert sum(p.numel() for p in lean.network.parameters()) == 559_508


def test_used_parameter_count_for_smd_matches_the_spec():
    assert STformer(38, STformer.Config()).parameter_counts() == {"all": 1_377_926, "used": 579_476}


def test_losses_route_gradients_as_the_repository():
    model = tiny(e_layers=1)
    terms = model._terms(torch.randn(4, 24, 3))
    layer = model.network.layers[0]
    sigma = list(layer.anomaly_attention.sigma_projection.parameters())
    query_key = [*layer.anomaly_attention.query_projection.parameters(),
                 *layer.anomaly_attention.key_projection.parameters()]
    patch = [model.network.patch_embedding.weight, model.network.position]

    def reaches(term, parameters):
        grads = torch.autograd.grad(term.mean(), parameters, retain_graph=True, allow_unused=True)
        return [g is not None and bool(g.abs().sum() > 0) for g in grads]

    assert all(reaches(terms["embedding"], patch))  # loss_emb trains the patch tokens
    assert not any(reaches(terms["series"], sigma)) and all(reaches(terms["series"], query_key))
    assert not any(reaches(terms["prior"], query_key)) and all(reaches(terms["prior"], sigma))
    assert not any(reaches(terms["reconstruction"], sigma + query_key))  # the anomaly branch feeds no tokens
