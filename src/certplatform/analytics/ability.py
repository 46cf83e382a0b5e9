"""Learner ability: EAP (posterior mean) estimates with posterior SD, given item parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from certplatform.analytics.irt import FloatArray, ItemParameters, Responses, grid, node_posterior


@dataclass(frozen=True)
class Ability:
    """An EAP ability estimate: posterior mean and SD, and how many answers it rests on."""

    mean: float
    sd: float
    answered: int


def abilities(
    responses: Responses,
    items: ItemParameters,
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    points: int = 61,
) -> tuple[FloatArray, FloatArray]:
    """EAP estimates for every person: posterior means and SDs under a N(mean, sd²) prior.

    `responses` must index the same items as `items`. A person with no responses gets the
    prior. The grid is the standard one shifted and scaled to the prior.
    """
    if responses.n_items != len(items):
        raise ValueError(f"{responses.n_items} items answered but {len(items)} calibrated")
    if not (np.isfinite(prior_mean) and np.isfinite(prior_sd) and prior_sd > 0):
        raise ValueError("the prior needs a finite mean and a positive, finite SD")
    standard, weights = grid(points)
    nodes = prior_mean + prior_sd * standard
    shown, hits = responses.matrices()
    post, _ = node_posterior(shown, hits, items.a, items.b, items.c, nodes, np.log(weights))
    mean = post @ nodes
    var = post @ nodes**2 - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0))


def ability(
    items: ItemParameters,
    answered: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
) -> Ability:
    """EAP estimate for one person who answered the items at indices `answered`."""
    idx = np.asarray(answered, dtype=np.int64)
    one = Responses.from_triples(
        np.zeros(len(idx), dtype=np.int64),
        idx,
        correct,
        n_persons=1,
        n_items=len(items),
        item_names=items.names,
    )
    mean, sd = abilities(one, items, prior_mean=prior_mean, prior_sd=prior_sd)
    return Ability(float(mean[0]), float(sd[0]), len(idx))
