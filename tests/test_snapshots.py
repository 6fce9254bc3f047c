"""Experiment-state snapshots are saved at the end of every controller step that changed the
experiment, and only then (`tuning/snapshots.py`); the Ray tests of SIGKILL + `--resume` prove the
resume side on the real controller."""
import inspect
import logging
import types

from ray.tune.execution.experiment_state import _ExperimentCheckpointManager
from ray.tune.execution.tune_controller import TuneController

from tsadbench.tuning.snapshots import save_only_when_changed


class _Syncer:
    """Ray's background copy of the staging folder: `wait` ends the copy begun by the last save."""

    def __init__(self, events):
        self.events = events
        self.failure = None

    def wait(self):
        self.events.append("wait")
        failure, self.failure = self.failure, None
        if failure is not None:
            raise failure


class _Manager:
    def __init__(self):
        self.saves = []
        self.events = []
        self._should_force_sync_up = False
        self._storage = types.SimpleNamespace(syncer=_Syncer(self.events), experiment_fs_path="/runs/exp")

    def sync_up_experiment_state(self, save_fn, force=False, wait=False):
        save_fn()
        self.saves.append(force)
        self.events.append("save")


class _Controller:
    """The attributes of Ray 2.60's TuneController that the wrapper reads."""

    def __init__(self):
        self._trials = [types.SimpleNamespace(trial_id="a", status="PENDING", run_metadata=types.SimpleNamespace(
            last_result_time=-float("inf"), num_failures=0))]
        self._trials_to_cache = set()
        self._checkpoint_manager = _Manager()

    def save_to_dir(self):
        self._trials_to_cache.clear()


def test_a_step_that_changed_nothing_saves_nothing_and_every_change_is_saved():
    save_only_when_changed()
    save_only_when_changed()  # installing twice wraps once
    controller, checkpoint = _Controller(), TuneController.checkpoint
    saves = controller._checkpoint_manager.saves
    checkpoint(controller)
    checkpoint(controller)
    assert len(saves) == 1
    controller._trials[0].status = "RUNNING"
    checkpoint(controller)
    checkpoint(controller)
    assert len(saves) == 2
    controller._trials[0].run_metadata.last_result_time = 1.0  # a result arrived
    checkpoint(controller)
    controller._trials.append(types.SimpleNamespace(trial_id="b", status="PENDING", run_metadata=types.SimpleNamespace(
        last_result_time=-float("inf"), num_failures=0)))  # the searcher added a trial
    checkpoint(controller)
    controller._trials_to_cache.add("a")  # Tune marked a trial to save again
    checkpoint(controller)
    assert len(saves) == 5
    checkpoint(controller, force=True)
    controller._checkpoint_manager._should_force_sync_up = True
    checkpoint(controller)
    assert saves == [False, False, False, False, False, True, False]


def test_the_wrapped_ray_method_is_the_one_the_wrapper_expects():
    save_only_when_changed()
    original = TuneController.checkpoint.__wrapped__
    assert list(inspect.signature(original).parameters) == ["self", "force", "wait"]
    assert "sync_up_experiment_state" in inspect.getsource(original)
    assert "self._storage.syncer.sync_up(" in inspect.getsource(_ExperimentCheckpointManager.sync_up_experiment_state)


def test_every_save_waits_for_the_previous_copy_to_storage_and_reports_one_that_failed(caplog):
    save_only_when_changed()
    controller, checkpoint = _Controller(), TuneController.checkpoint
    events = controller._checkpoint_manager.events
    checkpoint(controller)
    checkpoint(controller)  # unchanged: neither waits nor saves
    controller._trials[0].status = "RUNNING"
    controller._checkpoint_manager._storage.syncer.failure = FileNotFoundError("tmp-searcher-state vanished")
    with caplog.at_level(logging.WARNING, logger="tsadbench.tuning.snapshots"):
        checkpoint(controller)
    assert events == ["wait", "save", "wait", "save"]
    assert "an earlier copy of the experiment state to /runs/exp failed (FileNotFoundError" in caplog.text
    assert controller._checkpoint_manager.saves == [False, False]
