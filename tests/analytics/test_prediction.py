"""Pass prediction: the simulated grading is the real rule, and predicted probabilities are
calibrated against simulated learners who sit simulated exams."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from certplatform.analytics import irt
from certplatform.analytics.ability import Ability, abilities
from certplatform.analytics.prediction import (
    ExamModel,
    SectionPool,
    _Grader,
    predict_pass,
    predict_pass_many,
    simulate_counts,
)
from certplatform.content.contracts import PassMode, PassRule, SectionSpec
from certplatform.learning.grading import ItemResult, grade_exam

KOREAN = PassRule(mode=PassMode.SECTION_AVERAGE, threshold=60, section_floor=40)
FCC = PassRule(mode=PassMode.COUNT, threshold=26)


def pool(
    rng: np.random.Generator, code: str, size: int, count: int, shift: float = -0.4
) -> SectionPool:
    names = tuple(f"{code}-{i}" for i in range(size))
    items = irt.ItemParameters(
        names, np.exp(rng.normal(0.1, 0.3, size)), rng.normal(shift, 1.0, size)
    )
    return SectionPool(code, f"Subject {code}", count, items)


def korean_exam(rng: np.random.Generator) -> ExamModel:
    return ExamModel(tuple(pool(rng, f"S{s}", 60, 20) for s in range(5)), KOREAN)


@pytest.mark.parametrize(
    ("rule", "sizes", "points"),
    [
        (KOREAN, (20, 20, 20, 20, 20), (5.0,) * 5),
        (
            PassRule(mode=PassMode.SECTION_AVERAGE, threshold=60, section_floor=40),
            (7, 9, 3),
            (1.0, 2.0, 0.5),
        ),
        (
            PassRule(mode=PassMode.PERCENT, threshold=70, section_floor=30),
            (10, 15, 5),
            (1.5, 1.0, 2.5),
        ),
        (FCC, (35,), (1.0,)),
        (
            PassRule(mode=PassMode.COUNT, threshold=26, section_floor=40),
            (10, 12, 13),
            (1.0, 1.0, 1.0),
        ),
    ],
)
def test_simulated_grading_is_grade_exam(
    rule: PassRule, sizes: tuple[int, ...], points: tuple[float, ...]
) -> None:
    rng = np.random.default_rng(1)
    sections = tuple(
        SectionPool(
            f"S{i}",
            f"S{i}",
            n,
            irt.ItemParameters(tuple(str(j) for j in range(n)), np.ones(n), np.zeros(n)),
            p,
        )
        for i, (n, p) in enumerate(zip(sizes, points, strict=True))
    )
    grader = _Grader(ExamModel(sections, rule))
    # Every count vector near the thresholds, plus random ones.
    samples = [rng.integers(0, np.array(sizes) + 1) for _ in range(300)]
    for counts in samples:
        items = [
            ItemResult(
                f"S{s}-{q}", f"S{s}", points[s], points[s] if q < counts[s] else 0.0, q < counts[s]
            )
            for s, n in enumerate(sizes)
            for q in range(n)
        ]
        expected = grade_exam(items, [(f"S{i}", f"S{i}") for i in range(len(sizes))], rule)
        assert bool(grader.passed(np.array(counts))) == expected.passed, counts
        below = grader.below_floor(np.array(counts))
        assert list(below) == [s.below_floor for s in expected.sections]


def test_predicted_pass_probabilities_are_calibrated(
    record_property: Callable[[str, object], None],
) -> None:
    rng = np.random.default_rng(20261206)
    exam = korean_exam(rng)
    learners, practice = 10_000, 15
    theta = rng.normal(size=(learners, 5))

    # Each learner practises 15 questions per subject; abilities are EAP estimates.
    means, sds = np.empty_like(theta), np.empty_like(theta)
    person = np.repeat(np.arange(learners), practice)
    for s, section in enumerate(exam.sections):
        item = np.argsort(rng.random((learners, 60)), axis=1)[:, :practice].ravel()
        prob = section.items.probability(theta[:, s])[person, item]
        data = irt.Responses.from_triples(
            person, item, rng.random(len(prob)) < prob, n_persons=learners, n_items=60
        )
        means[:, s], sds[:, s] = abilities(data, section.items)
    predicted = predict_pass_many(exam, means, sds, sittings=200, seed=1)

    # Then each sits one real exam: 20 distinct questions per subject, 과락 below 8 of 20,
    # pass with an average of 60 (= 60 of 100 right). Written out here independently.
    right = np.empty((learners, 5), dtype=int)
    for s, section in enumerate(exam.sections):
        form = np.argsort(rng.random((learners, 60)), axis=1)[:, :20]
        a, b = section.items.a[form], section.items.b[form]
        prob = 1 / (1 + np.exp(-a * (theta[:, s, None] - b)))
        right[:, s] = (rng.random(prob.shape) < prob).sum(axis=1)
    passed = ((right >= 8).all(axis=1) & (right.sum(axis=1) >= 60)).astype(float)

    for decile in np.array_split(np.argsort(predicted), 10):
        assert abs(predicted[decile].mean() - passed[decile].mean()) <= 0.05
    brier = float(np.mean((predicted - passed) ** 2))
    base_rate = float(np.mean((passed.mean() - passed) ** 2))
    record_property("brier_score", round(brier, 4))
    print(f"Brier score {brier:.4f}; the base rate {passed.mean():.3f} scores {base_rate:.4f}")  # noqa: T201
    assert brier < 0.8 * base_rate


def test_one_learner_prediction_names_the_risk_and_the_thin_data() -> None:
    rng = np.random.default_rng(4)
    exam = korean_exam(rng)
    strong = {f"S{s}": Ability(1.2, 0.2, 80) for s in range(5)}
    weak_one = {**strong, "S3": Ability(-1.8, 0.5, 5)}

    sure = predict_pass(exam, strong, seed=1)
    assert sure.p_pass > 0.9
    assert sure.low <= sure.p_pass <= sure.high
    assert not sure.too_little_data

    risky = predict_pass(exam, weak_one, seed=1)
    assert risky.p_pass < sure.p_pass
    assert risky.most_at_risk == "S3"
    worst = next(r for r in risky.sections if r.code == "S3")
    assert worst.p_below_floor is not None
    assert worst.p_below_floor == max(r.p_below_floor or 0 for r in risky.sections)
    assert risky.too_little_data
    assert risky.thin_sections == ("S3",)
    assert 0 <= risky.low <= risky.p_pass <= risky.high <= 1
    assert risky.mc_error < 0.02


def test_interval_narrows_as_the_ability_becomes_certain() -> None:
    rng = np.random.default_rng(8)
    exam = korean_exam(rng)
    vague = predict_pass(exam, {f"S{s}": Ability(0.3, 0.8, 10) for s in range(5)}, seed=2)
    sharp = predict_pass(exam, {f"S{s}": Ability(0.3, 0.05, 400) for s in range(5)}, seed=2)
    assert sharp.high - sharp.low < 0.5 * (vague.high - vague.low)
    assert sharp.high - sharp.low < 0.1


def test_fcc_count_rule_with_one_question_per_group() -> None:
    # FCC Technician: 35 groups, one question from each, pass with 26 right.
    rng = np.random.default_rng(9)
    groups = [f"T{g // 3}{'ABC'[g % 3]}" for g in range(35)]
    topics = tuple(g for g in groups for _ in range(12))
    items = irt.ItemParameters(
        tuple(f"{t}{i:02d}" for i, t in enumerate(topics)),
        np.exp(rng.normal(0.0, 0.3, len(topics))),
        rng.normal(-0.8, 0.8, len(topics)),
    )
    spec = SectionSpec(
        code="E2",
        name="Element 2",
        draw="one_per_topic",
        question_count=35,
        topic_codes=tuple(groups),
    )
    section = SectionPool.from_spec(spec, items, topics)
    exam = ExamModel((section,), FCC)
    form = section.draw(50, rng)
    assert [len({topics[i] for i in row}) for row in form] == [35] * 50

    p_hi = predict_pass(exam, {"E2": Ability(1.0, 0.1, 100)}, seed=3).p_pass
    p_lo = predict_pass(exam, {"E2": Ability(-0.5, 0.1, 100)}, seed=3).p_pass
    assert p_hi > 0.8 > 0.2 > p_lo
    counts = simulate_counts(exam, np.full((1, 4000, 1), 1.0), rng)
    assert p_hi == pytest.approx(float((counts >= 26).mean()), abs=0.05)


def test_bad_exam_models_are_refused() -> None:
    rng = np.random.default_rng(0)
    small = pool(rng, "S1", 10, 10)
    with pytest.raises(ValueError, match="11 needed"):
        SectionPool("S1", "S1", 11, small.items)
    with pytest.raises(ValueError, match="no ability estimate"):
        predict_pass(ExamModel((small,), KOREAN), {})
    with pytest.raises(ValueError, match="unique"):
        ExamModel((small, small), KOREAN)


@pytest.mark.parametrize(("pool_size", "count"), [(60, 20), (400, 20), (35, 35)])
def test_count_draw_takes_distinct_items_uniformly(pool_size: int, count: int) -> None:
    rng = np.random.default_rng(12)
    forms = pool(rng, "S", pool_size, count).draw(20_000, rng)
    assert forms.shape == (20_000, count)
    assert all(len(set(row)) == count for row in forms[:2000].tolist())
    seen = np.bincount(forms.ravel(), minlength=pool_size) / 20_000
    np.testing.assert_allclose(seen, count / pool_size, atol=0.02)
    # Positions are exchangeable too: the first slot is uniform over the pool.
    first = np.bincount(forms[:, 0], minlength=pool_size) / 20_000
    np.testing.assert_allclose(first, 1 / pool_size, atol=0.01)
