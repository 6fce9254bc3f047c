"""Named grids: which models and datasets, and how big each experiment is."""
from __future__ import annotations

import dataclasses

PAPER_DATASETS = ("SMD", "MSL", "SMAP", "PSM", "SWaT", "WADI")


@dataclasses.dataclass(frozen=True)
class GridSpec:
    """A named grid. `models`/`datasets` None means every registered model / every dataset
    found (built-in ones included); `epochs_cap` and `max_windows_per_epoch` shrink trials, and
    `tiny_models` fixes each search space's `smoke` values; `paper_settings` runs only each
    repository's own settings for the dataset (its first point), one trial per experiment."""

    name: str
    description: str
    models: tuple[str, ...] | None
    datasets: tuple[str, ...] | None
    num_samples: int
    max_concurrent: int
    epochs_cap: int | None = None
    max_windows_per_epoch: int | None = None
    tiny_models: bool = False
    paper_settings: bool = False


GRIDS: dict[str, GridSpec] = {
    grid.name: grid
    for grid in (
        # smoke: an experiment's trials run one after another in one actor. Its nine experiments
        # already fill a laptop's cores side by side, and a second trial at once would start another
        # actor process (torch, Ray Tune and torch._dynamo imported: about 2.3 CPU-s on the CI
        # machine) for a trial of one to three seconds.
        GridSpec("smoke", "every registered model on the synthetic set, tiny trials (minutes on a laptop)",
                 models=None, datasets=("synthetic",), num_samples=3, max_concurrent=1, epochs_cap=4,
                 max_windows_per_epoch=1024, tiny_models=True),
        GridSpec("all", "every registered model x every dataset found under the data root + synthetic",
                 models=None, datasets=None, num_samples=20, max_concurrent=4),
        GridSpec("paper", "the five paper models and Anomaly Transformer with their repositories' per-dataset "
                          "settings and threshold protocols, on the public benchmarks found (concatenated)",
                 models=("anomaly_transformer", "transmamba", "stformer", "dual_stf", "twavefussion", "slmr", "random",
                         "one_liner"),
                 datasets=PAPER_DATASETS, num_samples=1, max_concurrent=1, paper_settings=True),
    )
}


class UnknownGridError(KeyError):
    """A grid name that is not defined."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_grid(name: str) -> GridSpec:
    """The grid called `name`."""
    try:
        return GRIDS[name]
    except KeyError:
        raise UnknownGridError(f"unknown grid '{name}': known grids are {', '.join(GRIDS)}") from None
