"""Slot shares (`tuning/slot_shares.py`): which experiments' trials take the slots, largest
estimated work first, one trial each before any gets a second; the searcher follows its share."""
from ray.tune.search import Searcher

from tsadbench.tuning import slot_shares
from tsadbench.tuning.slot_shares import SHARES, Claim, ClusterSlots, SharedConcurrencyLimiter, SlotShares, shape_of

CPU = shape_of({"cpu": 1.0})
GPU = shape_of({"gpu": 0.25, "cpu": 1.0})


def _claim(work_s, index, cap=2, shape=CPU):
    return Claim(shape, cap, work_s, index)


def _cluster(**slots):
    """Slots per shape: `cpu` for CPU, `gpu` for GPU."""
    return lambda shape: slots["gpu" if shape == GPU else "cpu"]


def _shares(shares, names):
    return [shares.share(name) for name in names]


def test_more_experiments_than_slots_the_largest_estimated_work_runs_first_one_trial_each():
    shares = SlotShares(_cluster(cpu=2))
    for index, (name, work) in enumerate([("short", 1.0), ("long", 30.0), ("middle", 10.0), ("tie", 10.0)]):
        shares.join(name, _claim(work, index))
    assert _shares(shares, ["long", "middle", "tie", "short"]) == [1, 1, 0, 0]  # a tie goes by plan order
    shares.leave("long")
    assert _shares(shares, ["middle", "tie", "short"]) == [1, 1, 0]
    shares.leave("middle")
    assert _shares(shares, ["tie", "short"]) == [1, 1]
    shares.leave("tie")
    assert _shares(shares, ["short"]) == [2]  # the last one takes every slot it may
    assert shares.share("long") is None


def test_leftover_slots_go_in_rank_order_up_to_each_cap_and_shapes_do_not_mix():
    shares = SlotShares(_cluster(cpu=8, gpu=4))
    shares.join("a", _claim(5.0, 0, cap=2))
    shares.join("b", _claim(9.0, 1, cap=4))
    shares.join("c", _claim(1.0, 2, cap=1))
    shares.join("gpu", _claim(0.0, 3, cap=4, shape=GPU))
    assert _shares(shares, ["b", "a", "c", "gpu"]) == [4, 2, 1, 4]


def test_a_shape_the_cluster_cannot_hold_still_lets_its_first_experiment_ask():
    shares = SlotShares(_cluster(cpu=0))
    shares.join("a", _claim(1.0, 0))
    shares.join("b", _claim(2.0, 1))
    assert _shares(shares, ["b", "a"]) == [1, 0]


class _Counting(Searcher):
    def __init__(self):
        super().__init__(metric="m", mode="max")
        self.asked = 0

    def suggest(self, trial_id):
        self.asked += 1
        return {"x": self.asked}

    def on_trial_complete(self, trial_id, result=None, error=False):
        pass


def test_the_limiter_suggests_only_within_its_share_and_its_cap(monkeypatch):
    limiter = SharedConcurrencyLimiter(_Counting(), max_concurrent=2, experiment="lim-a")
    assert limiter.suggest("t0") == {"x": 1} and limiter.suggest("t1") == {"x": 2}  # no claim: the cap
    assert limiter.suggest("t2") is None
    limiter.on_trial_complete("t0")
    limiter.on_trial_complete("t1")
    SHARES.join("lim-b", _claim(9.0, 0))
    SHARES.join("lim-a", _claim(1.0, 1))
    monkeypatch.setattr(SHARES, "_slots", _cluster(cpu=1))
    try:
        assert limiter.suggest("t3") is None  # "lim-b" holds the only slot
        SHARES.leave("lim-b")
        assert limiter.suggest("t4") == {"x": 3}
        assert limiter.suggest("t5") is None
    finally:
        SHARES.leave("lim-a")
        SHARES.leave("lim-b")


def test_slots_follow_the_cluster_as_nodes_join(monkeypatch):
    resources = [{"CPU": 2.0}, {"CPU": 6.0, "GPU": 1.0}]
    monkeypatch.setattr(slot_shares.ray, "cluster_resources", lambda: resources[0])
    clock = [0.0]
    monkeypatch.setattr(slot_shares.time, "monotonic", lambda: clock[0])
    slots = ClusterSlots()
    shares = SlotShares(slots)
    for index in range(4):
        shares.join(f"e{index}", _claim(10.0 - index, index, cap=1))
    assert [shares.share(f"e{i}") for i in range(4)] == [1, 1, 0, 0]
    resources.pop(0)  # an autoscaler added a node
    clock[0] += slot_shares.CLUSTER_READ_EVERY_S / 2
    assert slots(CPU) == 2  # read again only after a while
    clock[0] += slot_shares.CLUSTER_READ_EVERY_S
    assert [shares.share(f"e{i}") for i in range(4)] == [1, 1, 1, 1] and slots(GPU) == 4
