"""Pass prediction: P(pass) under the exam's real rule, by simulation.

A simulated sitting draws the learner's ability in each subject from its posterior, draws an
exam form as the blueprint does (N questions per section, or one per topic), answers each
question with its IRT probability, and grades the counts with the exam's `PassRule` exactly
as `learning.grading.grade_exam` does (section floor 과락, overall percent, section average,
or count). See docs/adr/0014 for the method and the interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from certplatform.analytics.ability import Ability
from certplatform.analytics.irt import FloatArray, IntArray, ItemParameters
from certplatform.content.contracts import PassMode, PassRule, SectionSpec


@dataclass(frozen=True)
class SectionPool:
    """One exam section: how many questions it has and the items its draw comes from.

    With `topics` (one label per item) the draw takes one item of each topic, as a
    `one_per_topic` blueprint section does; otherwise it takes `count` distinct items. A
    fixed past paper's section is a pool of exactly its own questions (`count` = all).
    """

    code: str
    name: str
    count: int
    items: ItemParameters
    points: float = 1.0
    topics: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"section {self.code}: needs at least one question")
        if self.topics is not None:
            if len(self.topics) != len(self.items):
                raise ValueError(f"section {self.code}: one topic per item is needed")
            if len(set(self.topics)) != self.count:
                raise ValueError(
                    f"section {self.code}: draws one of each of {len(set(self.topics))} "
                    f"topics, not {self.count} questions"
                )
        elif len(self.items) < self.count:
            raise ValueError(
                f"section {self.code}: {len(self.items)} calibrated items, {self.count} needed"
            )

    @classmethod
    def from_spec(
        cls, spec: SectionSpec, items: ItemParameters, topics: Sequence[str] | None = None
    ) -> SectionPool:
        """The pool for a blueprint section; `topics` are needed for `one_per_topic`."""
        if spec.draw == "one_per_topic" and topics is None:
            raise ValueError(f"section {spec.code} draws one per topic: give each item's topic")
        return cls(
            spec.code,
            spec.name,
            spec.question_count,
            items,
            spec.points_per_question,
            tuple(topics) if spec.draw == "one_per_topic" and topics is not None else None,
        )

    def draw(self, forms: int, rng: np.random.Generator) -> IntArray:
        """`forms` × `count` item indices, one exam form per row."""
        if self.topics is None:
            return _distinct(len(self.items), self.count, forms, rng)
        labels = np.array(self.topics)
        columns = []
        for topic in sorted(set(self.topics)):
            members = np.flatnonzero(labels == topic)
            columns.append(members[rng.integers(len(members), size=forms)])
        return np.stack(columns, axis=1)


def _distinct(pool: int, count: int, forms: int, rng: np.random.Generator) -> IntArray:
    """`forms` rows of `count` distinct indices below `pool`, each row uniformly random."""
    if 2 * pool < count * count:
        # Repeats would be common: take the smallest of random keys (cost forms × pool).
        keys = rng.random((forms, pool), dtype=np.float32)
        return np.argpartition(keys, count - 1, axis=1)[:, :count]
    # Large pool: draw with replacement and redraw the rows that repeat an item (about
    # 1 - exp(-count²/2·pool) ≤ 63 % of rows per round); a kept row is uniform over rows
    # without repeats, which is the uniform draw without replacement.
    rows = rng.integers(pool, size=(forms, count))
    todo = np.arange(forms)
    while len(todo):
        ordered = np.sort(rows[todo], axis=1)
        todo = todo[(ordered[:, 1:] == ordered[:, :-1]).any(axis=1)]
        rows[todo] = rng.integers(pool, size=(len(todo), count))
    return rows


@dataclass(frozen=True)
class ExamModel:
    """An exam as the prediction sees it: its sections' pools and its pass rule."""

    sections: tuple[SectionPool, ...]
    rule: PassRule

    def __post_init__(self) -> None:
        if not self.sections:
            raise ValueError("an exam needs at least one section")
        codes = [s.code for s in self.sections]
        if len(set(codes)) != len(codes):
            raise ValueError("section codes must be unique")


@dataclass(frozen=True)
class SectionRisk:
    code: str
    name: str
    expected_percent: float
    p_below_floor: float | None  # None when the rule has no section floor


@dataclass(frozen=True)
class PassPrediction:
    """P(pass) with a 90 % interval, the section most at risk, and a data warning.

    `low`/`high` bound the learner's pass probability given what their answers tell about
    their ability (5th and 95th percentile over the ability posterior); `mc_error` is the
    simulation's standard error of `p_pass`.
    """

    p_pass: float
    low: float
    high: float
    mc_error: float
    sections: tuple[SectionRisk, ...]
    most_at_risk: str
    too_little_data: bool
    thin_sections: tuple[str, ...]


class _Grader:
    """`grade_exam`'s pass decision on integer correct counts, in exact integer arithmetic.

    Within a section every question has the same points, so a section's percent is
    100·k/N whatever the points; every comparison is cleared of fractions first.
    """

    def __init__(self, exam: ExamModel) -> None:
        rule = exam.rule
        sizes = [s.count for s in exam.sections]
        self.mode = rule.mode
        self.need: IntArray | None = None
        if rule.section_floor is not None:
            floor = Fraction(repr(rule.section_floor))
            self.need = np.array([math.ceil(floor * n / 100) for n in sizes], dtype=np.int64)
        threshold = Fraction(repr(rule.threshold))
        if rule.mode is PassMode.COUNT:
            weights = [Fraction(1)] * len(sizes)
            bound = threshold
        elif rule.mode is PassMode.SECTION_AVERAGE:
            # mean_s 100·k_s/N_s ≥ T  ⇔  Σ k_s·100/N_s ≥ T·S
            weights = [Fraction(100, n) for n in sizes]
            bound = threshold * len(sizes)
        else:
            # 100·Σ k_s·p_s / Σ N_s·p_s ≥ T
            pts = [Fraction(repr(s.points)) for s in exam.sections]
            total = sum((n * p for n, p in zip(sizes, pts, strict=True)), Fraction(0))
            weights = [100 * p / total for p in pts]
            bound = threshold
        scale = math.lcm(*(w.denominator for w in weights), bound.denominator)
        self.weights = np.array([int(w * scale) for w in weights], dtype=np.int64)
        self.bound = math.ceil(bound * scale)
        if max(self.weights) * sum(sizes) > 2**62:
            raise ValueError("the pass rule's numbers are too fine to grade exactly")

    def below_floor(self, counts: IntArray) -> npt.NDArray[np.bool_]:
        if self.need is None:
            return np.zeros(counts.shape, dtype=bool)
        return counts < self.need

    def passed(self, counts: IntArray) -> npt.NDArray[np.bool_]:
        """`counts[..., s]` = questions right in section s."""
        ok: npt.NDArray[np.bool_] = (counts @ self.weights) >= self.bound
        if self.need is not None:
            ok &= (counts >= self.need).all(axis=-1)
        return ok


def simulate_counts(exam: ExamModel, theta: FloatArray, rng: np.random.Generator) -> IntArray:
    """Correct counts per section for abilities `theta[learner, sitting, section]`.

    Sitting j of every learner uses the same freshly drawn form j: each learner's sittings
    still see independent forms, and the draw costs forms × pool size, not more.
    """
    _, sittings, n_sections = theta.shape
    if n_sections != len(exam.sections):
        raise ValueError(f"{n_sections} abilities for {len(exam.sections)} sections")
    counts = np.empty(theta.shape, dtype=np.int64)
    for s, pool in enumerate(exam.sections):
        form = pool.draw(sittings, rng)  # sittings × N
        t = theta[:, :, s, None].astype(np.float32)
        prob = _probability(pool, form, t)
        counts[:, :, s] = (rng.random(prob.shape, dtype=np.float32) < prob).sum(axis=2)
    return counts


def _probability(pool: SectionPool, form: IntArray, theta: npt.NDArray[np.float32]) -> Any:
    """P(correct) of the drawn items (`form`, sittings × N) at `theta` (broadcast over
    leading axes). Single precision halves the time; a probability off by 1e-7 changes
    nothing here. The guessing floor is skipped when no item has one (the 2PL)."""
    items = pool.items
    a = items.a.astype(np.float32)[form]
    b = items.b.astype(np.float32)[form]
    prob = expit(a * (theta - b))
    if items.c.any():
        c = items.c.astype(np.float32)[form]
        prob = c + (1 - c) * prob
    return prob


def _abilities(exam: ExamModel, posteriors: Mapping[str, Ability]) -> tuple[FloatArray, FloatArray]:
    missing = [s.code for s in exam.sections if s.code not in posteriors]
    if missing:
        raise ValueError(f"no ability estimate for section(s) {', '.join(missing)}")
    mean = np.array([posteriors[s.code].mean for s in exam.sections])
    sd = np.array([posteriors[s.code].sd for s in exam.sections])
    if not (np.isfinite(mean).all() and np.isfinite(sd).all() and (sd >= 0).all()):
        raise ValueError("ability means must be finite and SDs finite and ≥ 0")
    return mean, sd


def predict_pass(
    exam: ExamModel,
    posteriors: Mapping[str, Ability],
    *,
    draws: int = 400,
    sittings_per_draw: int = 25,
    min_answers: int = 20,
    seed: int | None = None,
) -> PassPrediction:
    """P(pass) for one learner, from `draws` ability draws × `sittings_per_draw` sittings.

    The point estimate is the posterior predictive probability (mean over all sittings).
    The interval is the 5th–95th percentile of the pass probability across ability draws,
    after removing the binomial noise of estimating each from a few sittings.
    """
    if draws < 20 or sittings_per_draw < 2:
        raise ValueError("use at least 20 ability draws and 2 sittings per draw")
    rng = np.random.default_rng(seed)
    mean, sd = _abilities(exam, posteriors)
    theta = mean + sd * rng.standard_normal((draws, len(mean)))
    sittings = np.repeat(theta, sittings_per_draw, axis=0)[None]
    counts = simulate_counts(exam, sittings, rng)[0]
    grader = _Grader(exam)
    passed = grader.passed(counts).astype(np.float64)
    per_draw = passed.reshape(draws, sittings_per_draw).mean(axis=1)
    p = float(passed.mean())
    low, high = _interval(per_draw, p, sittings_per_draw)

    sizes = np.array([s.count for s in exam.sections])
    percent = (counts / sizes * 100).mean(axis=0)
    below = grader.below_floor(counts).mean(axis=0)
    has_floor = exam.rule.section_floor is not None
    risks = tuple(
        SectionRisk(s.code, s.name, float(percent[i]), float(below[i]) if has_floor else None)
        for i, s in enumerate(exam.sections)
    )
    # The subject most likely to fail its floor; without a floor, the weakest subject.
    worst = int(np.argmax(below)) if has_floor and below.max() > 0 else int(np.argmin(percent))
    thin = tuple(s.code for s in exam.sections if posteriors[s.code].answered < min_answers)
    return PassPrediction(
        p_pass=p,
        low=low,
        high=high,
        mc_error=math.sqrt(max(per_draw.var(ddof=1), 1e-12) / draws),
        sections=risks,
        most_at_risk=exam.sections[worst].code,
        too_little_data=bool(thin),
        thin_sections=thin,
    )


def _interval(per_draw: FloatArray, p: float, sittings: int) -> tuple[float, float]:
    # Var(observed per-draw rate) = Var(true rate) + E[binomial noise]; shrink the observed
    # rates toward their mean so that only the spread of the true rate is left.
    total = per_draw.var(ddof=1)
    noise = float(np.mean(per_draw * (1 - per_draw))) / (sittings - 1)
    shrink = math.sqrt(max(0.0, 1 - noise / total)) if total > 0 else 0.0
    true_rates = p + shrink * (per_draw - p)
    low, high = np.quantile(true_rates, [0.05, 0.95])
    # Rounding can put a degenerate interval a hair beside the point estimate.
    return float(np.clip(min(low, p), 0, 1)), float(np.clip(max(high, p), 0, 1))


def predict_pass_many(
    exam: ExamModel,
    means: npt.ArrayLike,
    sds: npt.ArrayLike,
    *,
    sittings: int = 400,
    seed: int | None = None,
    chunk: int = 250,
) -> FloatArray:
    """P(pass) for many learners at once: `means`/`sds` are learners × sections.

    Each learner's sittings draw their own abilities from the posterior (normal
    approximation); forms are shared across learners within a chunk (see
    `simulate_counts`). Memory is bounded by `chunk` × `sittings` × questions.
    """
    mu = np.asarray(means, dtype=np.float64)
    sigma = np.asarray(sds, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != sigma.shape or mu.shape[1] != len(exam.sections):
        raise ValueError("means and sds must both be learners × sections")
    rng = np.random.default_rng(seed)
    grader = _Grader(exam)
    result = np.empty(len(mu))
    for start in range(0, len(mu), chunk):
        m, s = mu[start : start + chunk, None, :], sigma[start : start + chunk, None, :]
        theta = m + s * rng.standard_normal((len(m), sittings, mu.shape[1]))
        counts = simulate_counts(exam, theta, rng)
        result[start : start + chunk] = grader.passed(counts).mean(axis=1)
    return result


def what_if_pass_rates(
    exam: ExamModel, means: npt.ArrayLike, sds: npt.ArrayLike, *, sittings: int, seed: int
) -> FloatArray:
    """P(pass) of one learner under several what-if posteriors (rows of `means`/`sds`),
    with common random numbers: every row sees the same forms, the same standard-normal
    ability draws and the same uniforms, so differences between rows are not noise. The
    forms and uniforms are drawn once and every row is graded in the same array pass."""
    mu = np.asarray(means, dtype=np.float64)
    sigma = np.asarray(sds, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != sigma.shape or mu.shape[1] != len(exam.sections):
        raise ValueError("means and sds must both be scenarios × sections")
    grader = _Grader(exam)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((sittings, mu.shape[1]))
    theta = (mu[:, None, :] + sigma[:, None, :] * z).astype(np.float32)  # rows × sittings × S
    counts = np.empty(theta.shape, dtype=np.int64)
    for s, pool in enumerate(exam.sections):
        form = pool.draw(sittings, rng)
        uniform = rng.random(form.shape, dtype=np.float32)  # shared by every row
        prob = _probability(pool, form, theta[:, :, s, None])
        counts[:, :, s] = (uniform < prob).sum(axis=2)
    rates: FloatArray = grader.passed(counts).mean(axis=1)
    return rates
