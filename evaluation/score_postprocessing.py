"""Score post-processing that a repository applies between its model and its threshold, by name.

`entity-minmax` is MTAD-GAT's and SLMR's `adjust_anomaly_scores` for SMAP and MSL, whose channels
are concatenated end to end: the scores of the 19 points on either side of every start of a new
entity (and of that start itself) are set to 0, because no model can forecast across the seam,
then every entity's scores are min-max normalised on their own. The release works on scores that
start W points late; here every point has a score, so the seam is the first point of the next
entity. A constant entity (max = min) becomes all zeros instead of the release's NaNs.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np

from .validation import EvaluationInputError

SEAM_MARGIN = 19

Postprocessor = Callable[[np.ndarray, Sequence[int]], np.ndarray]


def entity_minmax(scores: np.ndarray, entity_lengths: Sequence[int], margin: int = SEAM_MARGIN) -> np.ndarray:
    """Zero `margin` points around each entity seam, then min-max each entity's scores to [0, 1]."""
    scores = np.asarray(scores, dtype=np.float64)
    lengths = np.asarray(entity_lengths, dtype=np.int64)
    if lengths.ndim != 1 or lengths.size == 0 or (lengths < 1).any() or int(lengths.sum()) != scores.size:
        raise EvaluationInputError(
            f"entity lengths {list(map(int, lengths))} do not add up to the {scores.size} scores: pass the "
            "lengths of the entities concatenated in this split, in order"
        )
    out = scores.copy()
    ends = np.cumsum(lengths)
    for seam in ends[:-1]:
        out[max(seam - margin, 0):seam + margin + 1] = 0.0
    for start, end in zip(np.concatenate(([0], ends[:-1])), ends):
        part = out[start:end]
        span = part.max() - part.min()
        out[start:end] = (part - part.min()) / span if span > 0 else 0.0
    return out


def _unchanged(scores: np.ndarray, entity_lengths: Sequence[int]) -> np.ndarray:
    return np.asarray(scores, dtype=np.float64)


SCORE_POSTPROCESSING: Mapping[str, Postprocessor] = MappingProxyType({
    "none": _unchanged,
    "entity-minmax": entity_minmax,
})


def postprocess_scores(name: str, scores: np.ndarray, entity_lengths: Sequence[int]) -> np.ndarray:
    """Apply the post-processing registered as `name`."""
    try:
        step = SCORE_POSTPROCESSING[name]
    except KeyError:
        raise EvaluationInputError(
            f"unknown score post-processing {name!r}; known: {', '.join(SCORE_POSTPROCESSING)}"
        ) from None
    return step(scores, entity_lengths)
