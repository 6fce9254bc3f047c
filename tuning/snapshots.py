"""Experiment-state snapshots only when the experiment changed.

The grid runs Tune with `TUNE_GLOBAL_CHECKPOINT_S=0` (`cluster.RAY_ENVIRONMENT`): the experiment
state is saved after every controller step, so a driver killed right after a trial finished loses
nothing on `--resume`. A step ends at least every 0.1 s even when nothing happened
(`TuneController.step` waits on its actors with that timeout), and each save pickles the searcher,
writes the trials' JSON and copies the folder to the storage path. With experiments side by side,
the idle ones (waiting for a slot) kept the driver busy saving unchanged states: in `make smoke`
on 2 cores, py-spy counted about 30 s of driver CPU in saves and their copies, taken from the trials.

`save_only_when_changed` wraps `TuneController.checkpoint` (Ray 2.60) so that a step whose trials
are unchanged since the last save (same trials, statuses, result times and failure counts, and
nothing Tune marked to save) saves nothing. Every change is still saved at the end of the step
that made it, as before, so resuming after a kill is as exact as with a save every step; a
forced save (Tune's own, e.g. before it deletes old checkpoints) always runs.

Before it saves, the wrapper waits for the upload Ray began after the previous save. Ray saves
into a staging folder and copies that folder to the storage path in a background thread; without
the wait (seen in `make smoke` on 2 cores, nine experiments side by side):
* the save replaced files under the running copy, which then failed and printed a traceback
  ("Last sync command failed ... FileNotFoundError: ... -tmp-searcher-state");
* Ray skips the upload of a save that finds the previous copy still running, so the storage path
  stayed a change behind until the next change (and this wrapper saves nothing in between).
"""
from __future__ import annotations

import functools
import logging
import weakref
from typing import Any, Hashable

from ray.tune.execution.tune_controller import TuneController

_LAST_SAVED: "weakref.WeakKeyDictionary[TuneController, Hashable]" = weakref.WeakKeyDictionary()
_LOG = logging.getLogger(__name__)


def experiment_fingerprint(controller: Any) -> Hashable:
    """What a saved experiment state depends on that changes while trials run: the trials (their
    ids, statuses, the time of their last result, their failure counts) and whether Tune marked any
    trial to be saved again."""
    trials = tuple((trial.trial_id, trial.status, trial.run_metadata.last_result_time,
                    trial.run_metadata.num_failures) for trial in controller._trials)
    return trials, bool(controller._trials_to_cache)


def save_only_when_changed() -> None:
    """Install the wrapper (once per process)."""
    original = TuneController.checkpoint
    if getattr(original, "_tsadbench_wrapped", False):
        return

    @functools.wraps(original)
    def checkpoint(self: TuneController, force: bool = False, wait: bool = False) -> None:
        forced = force or wait or self._checkpoint_manager._should_force_sync_up
        if not forced and _LAST_SAVED.get(self) == experiment_fingerprint(self):
            return
        finish_previous_upload(self)
        original(self, force=force, wait=wait)
        _LAST_SAVED[self] = experiment_fingerprint(self)

    checkpoint._tsadbench_wrapped = True
    TuneController.checkpoint = checkpoint


def finish_previous_upload(controller: Any) -> None:
    """Wait until the copy of the previous save to the storage path has ended. A copy that failed
    is reported; the save that follows copies the whole staging folder again."""
    try:
        controller._checkpoint_manager._storage.syncer.wait()
    except Exception as error:
        _LOG.warning("tsadbench: an earlier copy of the experiment state to %s failed (%s: %s); copying it again",
                     controller._checkpoint_manager._storage.experiment_fs_path, type(error).__name__, error)
