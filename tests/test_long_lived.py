"""Long-lived objects leave the garbage collector's walks (`tuning/long_lived.py`) and a reused
actor keeps none of its previous trial's garbage."""
import gc
import weakref

import pytest

from tsadbench.tuning.long_lived import freeze_long_lived_objects, skip_exit_collection


class _Node:
    def __init__(self):
        self.partner = None


def _cycle() -> weakref.ref:
    a, b = _Node(), _Node()
    a.partner, b.partner = b, a
    return weakref.ref(a)


@pytest.fixture
def thawed():
    gc.collect()
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_alive_at_a_freeze_are_exempt_and_a_later_freeze_frees_the_garbage_made_since(thawed):
    kept = _Node()
    kept.partner = kept
    freeze_long_lived_objects()
    assert gc.get_freeze_count() > 0
    frozen = gc.get_freeze_count()
    left_by_a_trial = _cycle()
    assert left_by_a_trial() is not None  # cyclic garbage waits for a collection
    freeze_long_lived_objects()  # the next trial of a reused actor begins
    assert left_by_a_trial() is None
    assert gc.get_freeze_count() >= frozen
    assert kept.partner is kept


def test_the_exit_freeze_collects_nothing(thawed):
    freeze_long_lived_objects()
    garbage = _cycle()
    skip_exit_collection()
    gc.collect()
    assert garbage() is not None
