"""Learning curves from the trial reports: training and validation loss (and the objective when it
is another metric) per epoch, every trial of a study thin, the selected one bold, seed repeats dashed."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from ..marks import ORACLE
from ..records import TrialRecord, flat_value
from ..select import Selection
from .common import WrittenFigure, integer_axis, safe_stem, save

LOSSES = ("train_loss", "val_loss")


def _series(trial: TrialRecord, key: str) -> tuple[list[float], list[float]]:
    points = [(r.get("epoch", i + 1), flat_value(r, key)) for i, r in enumerate(trial.epochs)]
    points = [(e, v) for e, v in points if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return [e for e, _ in points], [v for _, v in points]


def curves_figure(selection: Selection, label: str, out: Path) -> WrittenFigure | None:
    """One panel per curve; None when no trial reported any of them."""
    metric = selection.objective["metric"]
    keys = list(LOSSES) + ([metric] if metric not in LOSSES else [])
    keys = [k for k in keys if any(_series(t, k)[0] for t in selection.trials)]
    if not keys:
        return None
    figure, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for trial in selection.trials:
            epochs, values = _series(trial, key)
            if not epochs:
                continue
            if trial is selection.best:
                ax.plot(epochs, values, color="tab:orange", lw=2.2, marker="o", ms=3, zorder=3,
                        label=f"selected ({trial.trial_id})")
            elif trial.seed_repeat:
                ax.plot(epochs, values, color="tab:green", lw=1, ls="--", label="seed repeat")
            else:
                ax.plot(epochs, values, color="tab:red" if trial.status == "ERROR" else "grey", lw=0.8, alpha=0.7,
                        label="failed trial" if trial.status == "ERROR" else "other trial")
        oracle = ORACLE.symbol * (key == metric and selection.objective_uses_test_labels)
        ax.set(xlabel="epoch", ylabel=key + oracle, title=key + oracle + (" (objective)" if key == metric else ""))
        integer_axis(ax)
        ax.title.set_fontsize(9)
        handles, names = ax.get_legend_handles_labels()
        unique = dict(zip(names, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=7)
    name = f"{label} on {selection.dataset}"
    figure.suptitle(f"Learning curves: {name}", fontsize=10)
    figure.tight_layout()
    caption = (f"Per-epoch reports of every trial of {name} ({len(selection.trials)} trials): "
               f"{', '.join(keys)}; the selected trial in bold orange, seed repeats dashed green, failed trials red, "
               f"others grey (ASHA stops the weaker trials early); {ORACLE.symbol} marks a metric read on test labels.")
    return save(figure, out, f"curves_{safe_stem(selection.meta['experiment'])}", "Learning curves",
                f"Curves: {name}", caption)
