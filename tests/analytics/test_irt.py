"""Item calibration (2PL / 3PL by MML-EM) and EAP abilities, against published values,
real data with missing responses, and a simulation with known parameters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from certplatform.analytics import irt
from certplatform.analytics.ability import abilities, ability
from certplatform.analytics.response_csv import read_responses
from tests.conftest import shared_data

# mirt 2PL by EM on LSAT7 (expand.table(LSAT7), mirt(dat, 1)): slope a1 and intercept d per
# item, from the expected values in mirt's own test suite, philchalmers/mirt
# tests/testthat/test-05-confmirtOne.R ('exploratory mods', commit 099d6d7e). In the IRT
# form b = -d / a. (girth 0.8.0's twopl_mml gives the same to 3 decimals.) The marginal
# log-likelihood mirt reports for this model is -2658.805.
MIRT_A = [0.9879254, 1.080885, 1.705801, 0.7651853, 0.735798]
MIRT_D = [1.85606, 0.8079786, 1.804219, 0.4859966, 1.854513]


def lsat7() -> irt.Responses:
    return read_responses((shared_data() / "irt" / "lsat7.csv").read_bytes())


def test_lsat7_2pl_matches_mirt() -> None:
    fit = irt.calibrate(lsat7(), priors=None)
    expected_a = np.array(MIRT_A)
    expected_b = -np.array(MIRT_D) / expected_a
    assert fit.converged
    assert fit.items.names == ("Q1", "Q2", "Q3", "Q4", "Q5")
    np.testing.assert_allclose(fit.items.a, expected_a, atol=0.05)
    np.testing.assert_allclose(fit.items.b, expected_b, atol=0.05)
    assert fit.loglik == pytest.approx(-2658.805, abs=0.01)


def test_default_priors_move_lsat7_only_slightly() -> None:
    plain = irt.calibrate(lsat7(), priors=None)
    weak = irt.calibrate(lsat7())
    # n = 1000 per item: the weak priors pull the least discriminating, easiest item most.
    np.testing.assert_allclose(weak.items.a, plain.items.a, atol=0.05)
    np.testing.assert_allclose(weak.items.b, plain.items.b, atol=0.1)
    assert not np.allclose(weak.items.b, plain.items.b, atol=1e-4)


def test_missing_data_difficulties_order_like_p_values() -> None:
    data = read_responses((shared_data() / "irt" / "ability.csv").read_bytes())
    assert data.n_persons == 1525
    assert data.n_items == 16
    assert len(data.item) < data.n_persons * data.n_items  # blanks are not presented
    fit = irt.calibrate(data)
    assert fit.converged
    rho = spearmanr(fit.items.b, data.p_values()).statistic
    assert rho <= -0.9
    assert (fit.items.a > 0.3).all()


def simulate(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, theta: np.ndarray, c: float = 0.0
) -> np.ndarray:
    logits = a * (theta[:, None] - b)
    prob = c + (1 - c) / (1 + np.exp(-logits))
    return (rng.random(prob.shape) < prob).astype(float)


def test_recovers_known_parameters() -> None:
    rng = np.random.default_rng(20261206)
    a = np.exp(rng.normal(0.0, 0.35, 50))
    b = rng.normal(0.0, 1.0, 50)
    theta = rng.normal(size=2000)
    fit = irt.calibrate(irt.Responses.from_matrix(simulate(rng, a, b, theta)))
    assert fit.converged
    assert np.corrcoef(fit.items.b, b)[0, 1] >= 0.95
    assert np.corrcoef(fit.items.a, a)[0, 1] >= 0.85

    # The same persons' EAP abilities track their true abilities, with honest SDs.
    mean, sd = abilities(irt.Responses.from_matrix(simulate(rng, a, b, theta)), fit.items)
    assert np.corrcoef(mean, theta)[0, 1] >= 0.9
    z = (theta - mean) / sd
    assert 0.8 <= z.std() <= 1.2


def test_sparse_missing_data_recovers_parameters() -> None:
    # Each of 3,000 learners sees 40 of 200 items: 80 % of the matrix is not presented.
    rng = np.random.default_rng(11)
    n_persons, n_items, per_person = 3000, 200, 40
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(0.0, 1.0, n_items)
    theta = rng.normal(size=n_persons)
    person = np.repeat(np.arange(n_persons), per_person)
    item = np.concatenate([rng.choice(n_items, per_person, replace=False) for _ in theta])
    prob = 1 / (1 + np.exp(-a[item] * (theta[person] - b[item])))
    correct = rng.random(len(prob)) < prob
    data = irt.Responses.from_triples(person, item, correct, n_persons=n_persons, n_items=n_items)
    fit = irt.calibrate(data)
    assert np.corrcoef(fit.items.b, b)[0, 1] >= 0.95


def test_3pl_fixes_the_guessing_floor_at_one_over_choices() -> None:
    rng = np.random.default_rng(5)
    a = np.exp(rng.normal(0.2, 0.3, 30))
    b = rng.normal(0.0, 1.0, 30)
    theta = rng.normal(size=3000)
    data = irt.Responses.from_matrix(simulate(rng, a, b, theta, c=0.25))
    three = irt.calibrate(data, irt.Model.THREE_PL, choices=4)
    two = irt.calibrate(data)
    np.testing.assert_allclose(three.items.c, 0.25)
    assert np.corrcoef(three.items.b, b)[0, 1] >= 0.95
    # The right model fits better, and without the floor the 2PL flattens the items.
    assert three.loglik > two.loglik
    assert np.mean(np.abs(three.items.a - a)) < np.mean(np.abs(two.items.a - a))
    with pytest.raises(ValueError, match="needs the number of choices"):
        irt.calibrate(data, irt.Model.THREE_PL)
    with pytest.raises(ValueError, match="only applies to the 3PL"):
        irt.calibrate(data, choices=4)


def test_priors_keep_all_correct_items_finite_and_plain_mml_refuses_them() -> None:
    rng = np.random.default_rng(3)
    matrix = simulate(rng, np.ones(6), np.linspace(-1, 1, 6), rng.normal(size=300))
    matrix[:, 0] = 1.0  # everyone right
    matrix[:, 1] = 0.0  # everyone wrong
    fit = irt.calibrate(irt.Responses.from_matrix(matrix))
    assert np.isfinite(fit.items.b).all()
    assert fit.items.b[0] < -2
    assert fit.items.b[1] > 2
    with pytest.raises(ValueError, match="no finite"):
        irt.calibrate(irt.Responses.from_matrix(matrix), priors=None)


def test_items_nobody_answered_are_refused_by_name() -> None:
    matrix = np.array([[1, np.nan], [0, np.nan], [1, np.nan]])
    with pytest.raises(ValueError, match="no responses to Q2"):
        irt.calibrate(irt.Responses.from_matrix(matrix, ("Q1", "Q2")))


def test_responses_refuse_bad_data() -> None:
    with pytest.raises(ValueError, match="scored 0 or 1"):
        irt.Responses.from_triples([0], [0], [2], n_persons=1, n_items=1)
    with pytest.raises(ValueError, match="more than one response"):
        irt.Responses.from_triples([0, 0], [1, 1], [1, 0], n_persons=1, n_items=2)
    with pytest.raises(ValueError, match="out of range"):
        irt.Responses.from_triples([0], [3], [1], n_persons=1, n_items=2)


def test_eap_matches_direct_integration() -> None:
    items = irt.ItemParameters(
        ("i1", "i2", "i3", "i4"),
        np.array([1.2, 0.8, 1.5, 2.0]),
        np.array([-1.0, 0.0, 0.5, 1.5]),
        np.array([0.0, 0.25, 0.0, 0.2]),
    )
    est = ability(items, [0, 1, 3], [1, 1, 0], prior_mean=0.5, prior_sd=1.5)
    # Direct: a fine trapezoid grid over the unnormalised posterior.
    t = np.linspace(-10, 11, 200_001)
    p = items.probability(t)
    like = p[:, 0] * p[:, 1] * (1 - p[:, 3]) * np.exp(-0.5 * ((t - 0.5) / 1.5) ** 2)
    mean = np.trapezoid(t * like, t) / np.trapezoid(like, t)
    sd = np.sqrt(np.trapezoid((t - mean) ** 2 * like, t) / np.trapezoid(like, t))
    assert est.mean == pytest.approx(mean, abs=1e-3)
    assert est.sd == pytest.approx(sd, abs=1e-3)
    assert est.answered == 3

    nothing = ability(items, [], [], prior_mean=0.5, prior_sd=1.5)
    assert nothing.mean == pytest.approx(0.5, abs=1e-6)
    assert nothing.sd == pytest.approx(1.5, abs=1e-3)
