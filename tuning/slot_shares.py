"""Which experiments' trials take the cluster's slots when the grid has more work than slots.

Every search of a grid runs side by side (`scheduler.py`). Left to Ray, each experiment asked for
as many trials as its `--max-concurrent` allowed, and Ray granted the pending placement groups in
an order of its own: another experiment order on every run, the longest experiment now first, now
last (then running alone at the end of the grid, the other slots idle), and an experiment granted
two slots at once started a second actor process (torch, Ray Tune and torch._dynamo imported:
about 2.3 CPU-s on the CI machine) while other experiments waited for any.

Shares decide instead. Experiments that ask for the same resources share the slots the cluster
offers for them (read from Ray, again every few seconds, so an autoscaled cluster's new nodes
count):
* they are ranked by estimated work, largest first (the plan's calibration; the longest-
  processing-time-first rule keeps the grid from ending on its longest experiment), then by plan
  order;
* in rank order each gets one trial while slots last; the others wait without asking Ray for
  anything;
* slots left over when fewer experiments remain than slots go, one at a time in rank order, to
  experiments still under their own `--max-concurrent`.

An experiment's searcher (`SharedConcurrencyLimiter`) reads its share each time Tune asks it for
a trial, so shares follow experiments as they start and end. Seed repeats and untrained copies
are not shared: they ask Ray directly, as before. A search with `--time-budget` counts its
budget from its start, waiting included.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import defaultdict
from typing import Any, Callable

import ray
from ray.tune.search import ConcurrencyLimiter, Searcher

Shape = tuple[tuple[str, float], ...]

#: Seconds a reading of the cluster's resources is used before it is read again.
CLUSTER_READ_EVERY_S = 5.0


@dataclasses.dataclass(frozen=True)
class Claim:
    """An experiment's place in the shares: its resource shape (`shape_of`), its own concurrency
    cap, its estimated work (seconds; 0 when not estimated) and its position in the plan."""

    shape: Shape
    cap: int
    work_s: float
    plan_index: int


def slots_for(resources: dict[str, float], cluster: dict[str, float]) -> int:
    """How many trials with `resources` the cluster holds at once (whole-cluster count)."""
    needs = {"CPU": resources.get("cpu", 0.0), "GPU": resources.get("gpu", 0.0)}
    counts = [math.floor(cluster.get(kind, 0.0) / need + 1e-9) for kind, need in needs.items() if need > 0]
    return min(counts) if counts else 0


def shape_of(resources: dict[str, float]) -> Shape:
    """A trial's resources (`{"cpu": 1, "gpu": 0.25}`) as a shape key."""
    return tuple(sorted(resources.items()))


class ClusterSlots:
    """How many trials of a shape the cluster holds now: Ray's cluster resources, read again at
    most every `CLUSTER_READ_EVERY_S` seconds, so that nodes an autoscaler adds (or a cluster
    loses) change the shares while the grid runs."""

    def __init__(self) -> None:
        self._read_at = -math.inf
        self._resources: dict[str, float] = {}

    def __call__(self, shape: Shape) -> int:
        if time.monotonic() - self._read_at > CLUSTER_READ_EVERY_S:
            self._resources, self._read_at = ray.cluster_resources(), time.monotonic()
        return slots_for(dict(shape), self._resources)


class SlotShares:
    """The running experiments' claims and the trials each may have at once (thread-safe);
    `slots(shape)` counts the slots the cluster offers for a shape."""

    def __init__(self, slots: Callable[[Shape], int]) -> None:
        self._lock = threading.Lock()
        self._claims: dict[str, Claim] = {}
        self._slots = slots

    def join(self, name: str, claim: Claim) -> None:
        with self._lock:
            self._claims[name] = claim

    def leave(self, name: str) -> None:
        with self._lock:
            self._claims.pop(name, None)

    def share(self, name: str) -> int | None:
        """Trials `name` may have at once now; None when it holds no claim."""
        with self._lock:
            if name not in self._claims:
                return None
            return _shares(self._claims, self._slots)[name]


def _shares(claims: dict[str, Claim], slots: Callable[[Shape], int]) -> dict[str, int]:
    by_shape: dict[tuple, list[str]] = defaultdict(list)
    for name, claim in claims.items():
        by_shape[claim.shape].append(name)
    given: dict[str, int] = {}
    for shape, names in by_shape.items():
        ranked = sorted(names, key=lambda n: (-claims[n].work_s, claims[n].plan_index))
        free = max(1, slots(shape))
        given.update({n: 0 for n in ranked})
        while free:
            takers = [n for n in ranked if given[n] < claims[n].cap][:free]
            if not takers:
                break
            for n in takers:
                given[n] += 1
            free -= len(takers)
    return given


SHARES = SlotShares(ClusterSlots())


class SharedConcurrencyLimiter(ConcurrencyLimiter):
    """A `ConcurrencyLimiter` whose limit is the experiment's share (`SHARES`), at most `cap`;
    without a claim (a run outside the grid scheduler) the limit is `cap`."""

    def __init__(self, searcher: Searcher, max_concurrent: int, experiment: str):
        super().__init__(searcher, max_concurrent=max_concurrent)
        self.cap = max_concurrent
        self.experiment = experiment

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        share = SHARES.share(self.experiment)
        self.max_concurrent = self.cap if share is None else min(share, self.cap)
        return super().suggest(trial_id)
