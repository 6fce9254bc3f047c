"""Ray's OptunaSearch over a study kept in Optuna's journal file, made safe to restore."""
from __future__ import annotations

import optuna
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch


class JournalOptunaSearch(OptunaSearch):
    """OptunaSearch whose restored state agrees with its Optuna journal.

    The journal records every ask, report and tell as it happens; Ray pickles this searcher only
    when it saves its experiment state. After a kill or a full disk, `Tuner.restore` brings back a
    searcher (and trial statuses) older than the journal, and Ray runs again trials the journal
    has already closed: telling Optuna about them raises UpdateFinishedTrialError and stops the
    driver. So on restore each trial the journal closed is settled once:
    - COMPLETE or PRUNED: its value in the journal is final; the rerun's reports are not told again
      (its result in Ray, which the tables read, is kept either way);
    - FAIL (an error, e.g. a full disk, which `--resume` runs again): the rerun's outcome goes to a
      new Optuna trial with the same parameters, so the sampler learns it (the journal only appends).
    """

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        study_trials = self._ot_study.get_trials(deepcopy=False)
        for trial_id, ot_trial in list(self._ot_trials.items()):
            stored = study_trials[ot_trial.number]
            if stored.state in (TrialState.COMPLETE, TrialState.PRUNED):
                self._completed_trials.add(trial_id)
            elif stored.state == TrialState.FAIL:
                self._completed_trials.discard(trial_id)
                self._ot_trials[trial_id] = self._reopen(stored)

    def _reopen(self, closed: optuna.trial.FrozenTrial) -> optuna.trial.Trial:
        """A new running Optuna trial with the parameters of a closed one."""
        self._ot_study.add_trial(optuna.trial.create_trial(state=TrialState.RUNNING, params=closed.params,
                                                           distributions=closed.distributions))
        return optuna.trial.Trial(self._ot_study, self._ot_study.get_trials(deepcopy=False)[-1]._trial_id)
