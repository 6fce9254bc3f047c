"""Adam and AdamW for the built-in detectors, step for step the arithmetic of `torch.optim`'s.

Why our own: every `torch.optim.Optimizer` imports `torch._dynamo` on its first use (its
`add_param_group`, `zero_grad` and `step` go through `torch._disable_dynamo` and
`_use_grad_for_differentiable`). That import costs about 0.8 CPU-s in each new process, and a grid
starts one process per trial: with these classes `make smoke` takes about 6 % less wall time on
2 cores. They never compile anything and import nothing beyond torch.

The update is Adam (Kingma & Ba, 2015, Algorithm 1, with eps added after the bias correction of the
second moment, as torch does), with L2 weight decay added to the gradient (`Adam`) or decoupled
weight decay applied to the parameters first (`AdamW`, Loshchilov & Hutter, 2019). Each step runs
the operations of torch's multi-tensor ("foreach") path, in its order. On CPU those operations fall
back to the same per-tensor kernels as torch's default single-tensor path, so the parameters come
out bit-equal to `torch.optim.Adam` / `AdamW` with default options (`tests/test_optim.py`); on CUDA,
where torch defaults to the foreach path, they are the same multi-tensor kernels
(`benchmarks/gpu_check.py` reports the difference on a device).

`state_dict()` has `torch.optim`'s layout (per-parameter "step", "exp_avg", "exp_avg_sq" under the
parameter's index, and the groups' hyperparameters with "params" as indices), so checkpoints move
both ways between these classes and torch's. Not supported: amsgrad, maximize, sparse gradients,
capturable/fused/differentiable modes; a plug-in that needs them can return any `torch.optim`
optimizer from `_build_optimizer`.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import torch

#: Options a torch.optim checkpoint may carry; loading accepts them only at these values.
_UNSUPPORTED_OPTIONS: dict[str, Any] = {"amsgrad": False, "maximize": False, "capturable": False,
                                        "differentiable": False}
#: Group keys of a checkpoint that are not hyperparameters of ours (the rest, "initial_lr" included,
#: are restored into the group).
_NOT_RESTORED = {"params", "decoupled_weight_decay", "foreach", "fused", *_UNSUPPORTED_OPTIONS}


class Optimizer(Protocol):
    """What a detector's optimiser offers: these classes and every `torch.optim.Optimizer`."""

    param_groups: list[dict[str, Any]]

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def step(self) -> Any: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


class Adam:
    """Adam with L2 weight decay (`grad + weight_decay * param`), as `torch.optim.Adam`.

    `params` is an iterable of tensors or of group dicts ({"params": [...], "lr": ..., any extra
    keys such as "initial_lr"}); group keys override the keyword defaults.
    """

    decoupled_weight_decay = False

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], *, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        _check_hyperparameters(defaults, type(self).__name__)
        given = list(params)
        if not given:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = given if isinstance(given[0], dict) else [{"params": given}]
        self.param_groups: list[dict[str, Any]] = []
        seen: set[int] = set()
        for group in groups:
            full = {**defaults, **group, "params": list(group["params"])}
            full["betas"] = tuple(full["betas"])
            _check_hyperparameters(full, type(self).__name__)
            for parameter in full["params"]:
                if not isinstance(parameter, torch.Tensor):
                    raise TypeError(f"{type(self).__name__} optimises tensors, got {type(parameter).__name__}")
                if id(parameter) in seen:
                    raise ValueError(f"{type(self).__name__}: a parameter appears in more than one group")
                seen.add(id(parameter))
            self.param_groups.append(full)
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for group in self.param_groups:
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                if set_to_none:
                    parameter.grad = None
                else:
                    if parameter.grad.grad_fn is not None:
                        parameter.grad.detach_()
                    else:
                        parameter.grad.requires_grad_(False)
                    parameter.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            by_device: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                if parameter.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not take sparse gradients")
                by_device.setdefault((parameter.device, parameter.dtype), []).append(parameter)
            for parameters in by_device.values():
                self._update(group, parameters)

    def _update(self, group: dict[str, Any], parameters: list[torch.Tensor]) -> None:
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        states = [self._state_of(parameter) for parameter in parameters]
        grads = [parameter.grad for parameter in parameters]
        exp_avgs = [state["exp_avg"] for state in states]
        exp_avg_sqs = [state["exp_avg_sq"] for state in states]
        steps = [state["step"] for state in states]
        torch._foreach_add_(steps, 1)
        if weight_decay != 0:
            if self.decoupled_weight_decay:
                torch._foreach_mul_(parameters, 1 - lr * weight_decay)
            else:
                grads = torch._foreach_add(grads, parameters, alpha=weight_decay)
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
        counts = [step.item() for step in steps]
        step_sizes = [(lr / (1 - beta1 ** count)) * -1 for count in counts]
        second_moment_corrections = [(1 - beta2 ** count) ** 0.5 for count in counts]
        denominators = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denominators, second_moment_corrections)
        torch._foreach_add_(denominators, eps)
        torch._foreach_addcdiv_(parameters, exp_avgs, denominators, step_sizes)

    def _state_of(self, parameter: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state.get(parameter)
        if state is None:
            state = {"step": torch.tensor(0.0),
                     "exp_avg": torch.zeros_like(parameter, memory_format=torch.preserve_format),
                     "exp_avg_sq": torch.zeros_like(parameter, memory_format=torch.preserve_format)}
            self.state[parameter] = state
        return state

    def state_dict(self) -> dict[str, Any]:
        """The moments and step counts by parameter index, and each group's hyperparameters
        (`torch.optim`'s layout)."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for parameter in group["params"]:
                index.setdefault(id(parameter), len(index))
            groups.append({**{key: value for key, value in group.items() if key != "params"},
                           "decoupled_weight_decay": self.decoupled_weight_decay,
                           "params": [index[id(parameter)] for parameter in group["params"]]})
        state = {index[id(parameter)]: dict(values) for parameter, values in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what `state_dict` (ours or `torch.optim.Adam`/`AdamW`'s) returned for the same
        parameter groups."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups) or any(
                len(saved["params"]) != len(group["params"]) for saved, group in zip(saved_groups, self.param_groups)):
            raise ValueError(f"{name}.load_state_dict: the saved parameter groups do not match this optimiser's "
                             "(another model or config wrote it); load a checkpoint of the same detector config")
        if saved_groups and saved_groups[0].get("decoupled_weight_decay", self.decoupled_weight_decay) \
                != self.decoupled_weight_decay:
            raise ValueError(f"{name}.load_state_dict: the checkpoint was written by "
                             f"{'AdamW' if not self.decoupled_weight_decay else 'Adam'}, not {name}")
        by_index: dict[int, torch.Tensor] = {}
        for saved, group in zip(saved_groups, self.param_groups):
            for option, supported in _UNSUPPORTED_OPTIONS.items():
                if saved.get(option, supported) != supported:
                    raise ValueError(f"{name}.load_state_dict: the checkpoint uses {option}={saved[option]!r}, "
                                     f"which {name} does not implement; build the detector with torch.optim instead")
            by_index.update(zip(saved["params"], group["params"]))
            for key, value in saved.items():
                if key not in _NOT_RESTORED:
                    group[key] = tuple(value) if key == "betas" else value
        self.state = {}
        for key, values in state_dict["state"].items():
            parameter = by_index[int(key)]
            self.state[parameter] = {
                "step": torch.tensor(float(values["step"])),
                "exp_avg": values["exp_avg"].detach().to(device=parameter.device, dtype=parameter.dtype).clone(),
                "exp_avg_sq": values["exp_avg_sq"].detach().to(device=parameter.device,
                                                               dtype=parameter.dtype).clone(),
            }


class AdamW(Adam):
    """Adam with decoupled weight decay (`param *= 1 - lr * weight_decay` before the step), as
    `torch.optim.AdamW` (default weight_decay 1e-2, as there)."""

    decoupled_weight_decay = True

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], *, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def _check_hyperparameters(group: dict[str, Any], name: str) -> None:
    beta1, beta2 = group["betas"]
    for key, value, upper in (("lr", group["lr"], None), ("eps", group["eps"], None),
                              ("weight_decay", group["weight_decay"], None), ("betas[0]", beta1, 1.0),
                              ("betas[1]", beta2, 1.0)):
        if not (0.0 <= value and (upper is None or value < upper)):
            raise ValueError(f"{name}: {key}={value!r} is out of range; use 0 <= {key}"
                             + (f" < {upper}" if upper is not None else ""))
