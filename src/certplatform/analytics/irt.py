"""Item response theory: item calibration and learner ability.

Models (θ ~ N(0, 1) in the calibration population):

* 2PL: P(correct | θ) = 1 / (1 + exp(-a(θ - b)))
* 3PL with a fixed guessing floor: P = c + (1 - c) · 2PL, c = 1 / number of choices.

`calibrate` estimates a and b by marginal maximum likelihood with the Bock–Aitkin EM
algorithm over a fixed quadrature grid (`certplatform.analytics.ability` gives learners'
EAP abilities). Responses are sparse (person, item, correct) triples: an item a person was not
shown is simply absent, and no dense person × item × node array is ever built, so memory
grows with the number of answers, not with persons × items. See docs/adr/0014.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.special import expit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Bounds keep a runaway item (e.g. one with a negative item-total correlation) from
# overflowing; they are far outside what real items show.
_LOG_A_RANGE = (np.log(0.02), np.log(20.0))
_B_RANGE = (-12.0, 12.0)


class Model(StrEnum):
    TWO_PL = "2pl"
    THREE_PL = "3pl"  # guessing floor fixed at 1 / number of choices


@dataclass(frozen=True)
class Priors:
    """Weak priors for MAP estimation: log a ~ N(log_a_mean, log_a_sd²), b ~ N(b_mean, b_sd²).

    They keep estimates finite for items everyone (or no one) answered correctly and barely
    move well-measured items; see docs/adr/0014.
    """

    log_a_mean: float = 0.0
    log_a_sd: float = 1.0
    b_mean: float = 0.0
    b_sd: float = 4.0


DEFAULT_PRIORS = Priors()


@dataclass(frozen=True)
class Responses:
    """Scored responses as parallel arrays: `person[k]` answered `item[k]`, `correct[k]`."""

    person: IntArray
    item: IntArray
    correct: BoolArray
    n_persons: int
    n_items: int
    item_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.person)
        if len(self.item) != n or len(self.correct) != n:
            raise ValueError("person, item and correct must have the same length")
        if len(self.item_names) != self.n_items:
            raise ValueError(f"{self.n_items} items but {len(self.item_names)} item names")
        if n and (self.person.min() < 0 or self.person.max() >= self.n_persons):
            raise ValueError("a person index is out of range")
        if n and (self.item.min() < 0 or self.item.max() >= self.n_items):
            raise ValueError("an item index is out of range")
        keys = self.person * self.n_items + self.item
        if len(np.unique(keys)) != n:
            raise ValueError("a person has more than one response to the same item")

    @classmethod
    def from_triples(
        cls,
        person: npt.ArrayLike,
        item: npt.ArrayLike,
        correct: npt.ArrayLike,
        *,
        n_persons: int,
        n_items: int,
        item_names: tuple[str, ...] | None = None,
    ) -> Responses:
        y = np.asarray(correct)
        if y.size and not np.isin(y, (0, 1)).all():
            raise ValueError("responses must be scored 0 or 1")
        return cls(
            person=np.asarray(person, dtype=np.int64),
            item=np.asarray(item, dtype=np.int64),
            correct=y.astype(bool),
            n_persons=n_persons,
            n_items=n_items,
            item_names=item_names or tuple(f"item{i + 1}" for i in range(n_items)),
        )

    @classmethod
    def from_matrix(
        cls, matrix: npt.ArrayLike, item_names: tuple[str, ...] | None = None
    ) -> Responses:
        """From a persons × items matrix of 0/1, with NaN where an item was not presented."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2:
            raise ValueError("the response matrix must have two dimensions")
        person, item = np.nonzero(~np.isnan(m))
        return cls.from_triples(
            person,
            item,
            m[person, item],
            n_persons=m.shape[0],
            n_items=m.shape[1],
            item_names=item_names,
        )

    def counts(self) -> tuple[FloatArray, FloatArray]:
        """Per item: number of responses and number correct."""
        n = np.bincount(self.item, minlength=self.n_items).astype(np.float64)
        r = np.bincount(self.item, weights=self.correct, minlength=self.n_items)
        return n, r.astype(np.float64)

    def p_values(self) -> FloatArray:
        """Per item: the share of correct responses (NaN for an item nobody answered)."""
        n, r = self.counts()
        with np.errstate(invalid="ignore", divide="ignore"):
            return r / n

    def matrices(self) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """Persons × items sparse indicators: every response, and the correct ones."""
        shape = (self.n_persons, self.n_items)
        ones = np.ones(len(self.person))
        shown = sparse.csr_matrix((ones, (self.person, self.item)), shape=shape)
        right = self.correct
        hits = sparse.csr_matrix((ones[right], (self.person[right], self.item[right])), shape)
        return shown, hits


@dataclass(frozen=True)
class ItemParameters:
    """Item parameters in the IRT (difficulty) form; `c` is 0 for the 2PL."""

    names: tuple[str, ...]
    a: FloatArray
    b: FloatArray
    c: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if len(self.c) == 0:
            object.__setattr__(self, "c", np.zeros(len(self.a)))
        if not (len(self.names) == len(self.a) == len(self.b) == len(self.c)):
            raise ValueError("names, a, b and c must have the same length")

    def __len__(self) -> int:
        return len(self.a)

    def probability(self, theta: npt.ArrayLike) -> FloatArray:
        """P(correct) for every θ (rows) and item (columns)."""
        t = np.asarray(theta, dtype=np.float64).reshape(-1, 1)
        prob: FloatArray = self.c + (1 - self.c) * expit(self.a * (t - self.b))
        return prob


@dataclass(frozen=True)
class Calibration:
    """The result of `calibrate`: item parameters and the marginal log-likelihood."""

    model: Model
    items: ItemParameters
    loglik: float
    iterations: int
    converged: bool


def grid(points: int) -> tuple[FloatArray, FloatArray]:
    """Quadrature nodes on [-6, 6] and their N(0, 1) weights (summing to 1)."""
    if points < 5:
        raise ValueError("use at least 5 quadrature points")
    nodes = np.linspace(-6.0, 6.0, points)
    weights = np.exp(-0.5 * nodes**2)
    return nodes, weights / weights.sum()


def guessing_floor(choices: int | npt.ArrayLike, n_items: int) -> FloatArray:
    """c = 1 / number of choices, per item."""
    k = np.broadcast_to(np.asarray(choices, dtype=np.float64), (n_items,))
    if (k < 2).any() or not np.isfinite(k).all():
        raise ValueError("an item needs at least 2 choices for a guessing floor")
    return 1.0 / k


def calibrate(
    responses: Responses,
    model: Model = Model.TWO_PL,
    *,
    choices: int | npt.ArrayLike | None = None,
    priors: Priors | None = DEFAULT_PRIORS,
    points: int = 41,
    max_iter: int = 500,
    tol: float = 1e-4,
) -> Calibration:
    """Estimate item parameters by marginal maximum likelihood (Bock–Aitkin EM).

    `priors=None` is plain MML; it refuses items that everyone or no one answered correctly,
    which have no finite estimate. `choices` (per item or one number) is required for the
    3PL. Converged when no a or b moves more than `tol` in an iteration.
    """
    if max_iter < 1 or not tol > 0:
        raise ValueError("max_iter must be at least 1 and tol positive")
    n_resp, n_right = responses.counts()
    unseen = [responses.item_names[i] for i in np.flatnonzero(n_resp == 0)]
    if unseen:
        raise ValueError(f"no responses to {_names(unseen)}; leave those items out")
    if priors is None:
        extreme = [
            responses.item_names[i] for i in np.flatnonzero((n_right == 0) | (n_right == n_resp))
        ]
        if extreme:
            raise ValueError(
                f"everyone or no one answered {_names(extreme)} correctly: no finite "
                "maximum-likelihood estimate; calibrate with priors or leave them out"
            )
    if model is Model.THREE_PL:
        if choices is None:
            raise ValueError("the 3PL needs the number of choices per item")
        c = guessing_floor(choices, responses.n_items)
    elif choices is not None:
        raise ValueError("the number of choices only applies to the 3PL")
    else:
        c = np.zeros(responses.n_items)

    nodes, weights = grid(points)
    log_weights = np.log(weights)
    shown, hits = responses.matrices()
    shown_t, hits_t = shown.T.tocsr(), hits.T.tocsr()

    # Start: a = 1 and b from the p-value, using the normal-ogive approximation of the
    # marginal P for a = 1 (logit P ≈ -0.87 b).
    p = np.clip((n_right / n_resp - c) / (1 - c), 0.02, 0.98)
    log_a = np.zeros(responses.n_items)
    b = -np.log(p / (1 - p)) / 0.87
    converged = False
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        a = np.exp(log_a)
        posterior, _ = node_posterior(shown, hits, a, b, c, nodes, log_weights)
        expected_n = np.asarray(shown_t @ posterior)  # items × nodes: expected responses
        expected_r = np.asarray(hits_t @ posterior)  # items × nodes: expected correct
        new_log_a, new_b = _maximise(expected_n, expected_r, log_a, b, c, nodes, priors)
        change = max(np.abs(np.exp(new_log_a) - a).max(), np.abs(new_b - b).max())
        log_a, b = new_log_a, new_b
        if change < tol:
            converged = True
            break
    a = np.exp(log_a)
    _, loglik = node_posterior(shown, hits, a, b, c, nodes, log_weights)
    items = ItemParameters(responses.item_names, a, b, c)
    return Calibration(model, items, float(loglik), iteration, converged)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def node_posterior(
    shown: sparse.csr_matrix,
    hits: sparse.csr_matrix,
    a: FloatArray,
    b: FloatArray,
    c: FloatArray,
    nodes: FloatArray,
    log_weights: FloatArray,
) -> tuple[FloatArray, float]:
    """E-step: each person's posterior over the nodes, and the marginal log-likelihood.

    log L(person, node) = Σ_shown log(1 - P) + Σ_correct (log P - log(1 - P)), i.e. two
    sparse × dense products of size persons × nodes.
    """
    prob = np.clip(
        c[:, None] + (1 - c[:, None]) * expit(a[:, None] * (nodes - b[:, None])), 1e-12, 1 - 1e-12
    )
    log_q = np.log1p(-prob)
    log_odds = np.log(prob) - log_q
    log_post = np.asarray(shown @ log_q) + np.asarray(hits @ log_odds) + log_weights
    peak = log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post - peak)
    total = post.sum(axis=1, keepdims=True)
    post /= total
    return post, float((peak + np.log(total)).sum())


def _objective(
    n: FloatArray,
    r: FloatArray,
    log_a: FloatArray,
    b: FloatArray,
    c: FloatArray,
    nodes: FloatArray,
    priors: Priors | None,
) -> FloatArray:
    """Per item: expected complete-data log-likelihood plus log prior."""
    prob = c[:, None] + (1 - c[:, None]) * expit(np.exp(log_a)[:, None] * (nodes - b[:, None]))
    prob = np.clip(prob, 1e-12, 1 - 1e-12)
    value: FloatArray = (r * np.log(prob) + (n - r) * np.log1p(-prob)).sum(axis=1)
    if priors is not None:
        value -= 0.5 * ((log_a - priors.log_a_mean) / priors.log_a_sd) ** 2
        value -= 0.5 * ((b - priors.b_mean) / priors.b_sd) ** 2
    return value


def _maximise(
    n: FloatArray,
    r: FloatArray,
    log_a: FloatArray,
    b: FloatArray,
    c: FloatArray,
    nodes: FloatArray,
    priors: Priors | None,
    steps: int = 8,
) -> tuple[FloatArray, FloatArray]:
    """M-step: Fisher scoring in (log a, b) for all items at once, with step halving.

    The expected information is positive semi-definite and the priors add a positive
    diagonal, so each step is an ascent direction; halving makes every accepted step
    increase the objective (a generalised EM step).
    """
    current = _objective(n, r, log_a, b, c, nodes, priors)
    for _ in range(steps):
        a = np.exp(log_a)
        z = a[:, None] * (nodes - b[:, None])
        s = expit(z)
        prob = np.clip(c[:, None] + (1 - c[:, None]) * s, 1e-12, 1 - 1e-12)
        dp_dz = (1 - c[:, None]) * s * (1 - s)
        resid = (r - n * prob) * dp_dz / (prob * (1 - prob))
        info = n * dp_dz**2 / (prob * (1 - prob))
        # dz/d(log a) = z, dz/db = -a
        g1 = (resid * z).sum(axis=1)
        g2 = -a * resid.sum(axis=1)
        h11 = (info * z * z).sum(axis=1) + 1e-9
        h12 = -a * (info * z).sum(axis=1)
        h22 = a * a * info.sum(axis=1) + 1e-9
        if priors is not None:
            g1 -= (log_a - priors.log_a_mean) / priors.log_a_sd**2
            g2 -= (b - priors.b_mean) / priors.b_sd**2
            h11 += 1 / priors.log_a_sd**2
            h22 += 1 / priors.b_sd**2
        det = h11 * h22 - h12 * h12
        det = np.where(det > 1e-12, det, 1e-12)
        step_a = (h22 * g1 - h12 * g2) / det
        step_b = (h11 * g2 - h12 * g1) / det
        scale = np.ones_like(log_a)
        # Never jump further than 1 logit in a step: the information can be near singular.
        scale = np.minimum(scale, 1.0 / np.maximum(np.abs(step_a), 1e-12))
        scale = np.minimum(scale, 2.0 / np.maximum(np.abs(step_b), 1e-12))
        pending = np.ones_like(log_a, dtype=bool)
        new_log_a, new_b = log_a.copy(), b.copy()
        for _ in range(20):
            trial_a = np.clip(log_a + scale * step_a, *_LOG_A_RANGE)
            trial_b = np.clip(b + scale * step_b, *_B_RANGE)
            value = _objective(n, r, trial_a, trial_b, c, nodes, priors)
            better = pending & (value >= current - 1e-12)
            new_log_a[better], new_b[better] = trial_a[better], trial_b[better]
            current = np.where(better, value, current)
            pending &= ~better
            if not pending.any():
                break
            scale = np.where(pending, scale / 2, scale)
        moved = max(np.abs(new_log_a - log_a).max(), np.abs(new_b - b).max())
        log_a, b = new_log_a, new_b
        if moved < 1e-7:
            break
    return log_a, b
