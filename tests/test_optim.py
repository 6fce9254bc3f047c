"""Our Adam/AdamW against torch.optim (the oracle): bit-equal parameters, interchangeable checkpoints,
clear errors; and the built-in detectors train without importing torch._dynamo (why they exist)."""
import subprocess
import sys
import textwrap

import pytest
import torch

from tsadbench.zoo.optim import Adam, AdamW

PAIRS = [(Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)]


def _network():
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.GELU(), torch.nn.Linear(7, 3),
                                  torch.nn.Linear(3, 2))
    network[3].requires_grad_(False)  # parameters that never get a gradient are left alone
    return network


def _groups(network):
    return [{"params": list(network[0].parameters()), "lr": 3e-3, "initial_lr": 3e-3},
            {"params": list(network[2].parameters()) + list(network[3].parameters()), "lr": 1e-3}]


def _train(network, optimizer, steps, generator=None, start=0):
    generator = generator or torch.Generator().manual_seed(1)
    for step in range(start, start + steps):
        batch = torch.randn(16, 5, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        (network(batch) ** 2).mean().backward()
        optimizer.step()
        if step == 7:  # a schedule halving the rate, as the AT family does between epochs
            for group in optimizer.param_groups:
                group["lr"] *= 0.5
    return [parameter.detach().clone() for parameter in network.parameters()]


@pytest.mark.parametrize("ours, theirs", PAIRS)
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("foreach", [False, True])
def test_parameters_are_bit_equal_to_torch_optim(ours, theirs, weight_decay, foreach):
    network = _network()
    expected = _train(network, theirs(_groups(network), weight_decay=weight_decay, foreach=foreach), 20)
    network = _network()
    got = _train(network, ours(_groups(network), weight_decay=weight_decay), 20)
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
    assert not torch.equal(got[0], _network()[0].weight.detach())
    assert torch.equal(got[-2], _network()[3].weight.detach())  # no gradient: untouched


@pytest.mark.parametrize("ours, theirs", PAIRS)
def test_checkpoints_move_both_ways_between_ours_and_torch(ours, theirs):
    network = _network()
    straight = _train(network, ours(_groups(network), weight_decay=0.01), 12)

    for first, second in ((ours, theirs), (theirs, ours)):
        network = _network()
        generator = torch.Generator().manual_seed(1)
        optimizer = first(_groups(network), weight_decay=0.01)
        _train(network, optimizer, 9, generator)  # past the halving at step 7: the saved rate is halved
        resumed = second(_groups(network), weight_decay=0.01)
        resumed.load_state_dict(optimizer.state_dict())
        assert resumed.param_groups[0]["initial_lr"] == 3e-3 and resumed.param_groups[0]["lr"] == 1.5e-3
        rest = _train(network, resumed, 3, generator, start=9)
        assert all(torch.equal(a, b) for a, b in zip(rest, straight)), f"{first.__name__} -> {second.__name__}"


def test_a_checkpoint_of_other_groups_or_options_is_refused_with_the_fix():
    network = _network()
    optimizer = Adam(_groups(network))
    _train(network, optimizer, 1)
    with pytest.raises(ValueError, match="same detector config"):
        Adam(network.parameters()).load_state_dict(optimizer.state_dict())
    with pytest.raises(ValueError, match="written by Adam, not AdamW"):
        AdamW(_groups(network)).load_state_dict(optimizer.state_dict())
    amsgrad = torch.optim.Adam(_groups(network), amsgrad=True)
    _train(network, amsgrad, 1)
    with pytest.raises(ValueError, match="amsgrad=True.*torch.optim instead"):
        Adam(_groups(network)).load_state_dict(amsgrad.state_dict())


@pytest.mark.parametrize("keyword, value", [("lr", -1e-3), ("eps", -1.0), ("weight_decay", -0.1),
                                            ("betas", (1.0, 0.999)), ("betas", (0.9, -0.1))])
def test_bad_hyperparameters_are_refused_naming_the_key(keyword, value):
    with pytest.raises(ValueError, match=keyword):
        Adam(_network().parameters(), **{keyword: value})


def test_bad_parameter_lists_are_refused():
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    parameters = list(_network().parameters())
    with pytest.raises(ValueError, match="more than one group"):
        Adam([{"params": parameters[:2]}, {"params": parameters[1:3]}])


def test_zero_grad_without_set_to_none_keeps_zeroed_tensors():
    network = _network()
    optimizer = AdamW(network.parameters())
    (network(torch.ones(2, 5)) ** 2).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    trainable = [p for p in network.parameters() if p.requires_grad]
    assert all(p.grad is not None and not p.grad.any() for p in trainable)


def test_builtin_detectors_train_score_and_resume_without_importing_torch_dynamo():
    # torch.optim imports torch._dynamo (about 0.8 CPU-s) in every trial process; ours must not.
    probe = textwrap.dedent("""
        import sys
        from tsadbench.zoo import MODELS, get_model
        from tsadbench.zoo.cli import check_values
        from tsadbench.zoo.conformance import synthetic_series
        from tsadbench.zoo.plugins import plugin_folder
        for name in sorted(MODELS):
            if plugin_folder(name) is not None or not MODELS[name].__module__.startswith("tsadbench."):
                continue
            values, _ = check_values(name)
            cls = get_model(name)
            model = cls(3, cls.Config.from_dict(values), seed=0)
            for _ in range(2):
                model.train_epoch(synthetic_series(512, 3), max_windows=32)
            model.load_state_dict(model.state_dict())
            model.score(synthetic_series(300, 3))
            print(name, "torch._dynamo" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert {"anomaly_transformer False", "dual_stf False", "twavefussion False", "transmamba False"} <= set(lines)
    assert not [line for line in lines if line.endswith("True")], result.stdout
