"""IRT calibration at bank scale: 2,000 items × 20,000 learners, each of whom answered 200.

Simulated 2PL data (4,000,000 responses, 90 % of the person × item matrix not presented),
one `calibrate` run with the default priors and quadrature. Reports wall and CPU time, the peak of
memory allocated during calibration (tracemalloc, which numpy and scipy report into) and
the process's peak resident size, and how well the known parameters were recovered. Then
the time of one learner's pass prediction for a 5-subject Korean exam.
"""

from __future__ import annotations

import resource
import time
import tracemalloc

import numpy as np

from bench.common import report
from certplatform.analytics import irt
from certplatform.analytics.ability import Ability
from certplatform.analytics.prediction import ExamModel, SectionPool, predict_pass
from certplatform.content.contracts import PassMode, PassRule

BENCH = "irt_calibration"
BACKEND = "numpy"
ITEMS, LEARNERS, PER_LEARNER = 2_000, 20_000, 200


def responses(rng: np.random.Generator) -> tuple[irt.Responses, np.ndarray, np.ndarray]:
    a = np.exp(rng.normal(0.0, 0.3, ITEMS))
    b = rng.normal(0.0, 1.0, ITEMS)
    theta = rng.normal(size=LEARNERS)
    person = np.repeat(np.arange(LEARNERS), PER_LEARNER)
    item = np.empty(LEARNERS * PER_LEARNER, dtype=np.int64)
    for start in range(0, LEARNERS, 1000):  # distinct items per learner, 1,000 at a time
        keys = rng.random((min(1000, LEARNERS - start), ITEMS))
        chosen = np.argpartition(keys, PER_LEARNER, axis=1)[:, :PER_LEARNER]
        item[start * PER_LEARNER : (start + len(keys)) * PER_LEARNER] = chosen.ravel()
    prob = 1 / (1 + np.exp(-a[item] * (theta[person] - b[item])))
    correct = rng.random(len(prob)) < prob
    data = irt.Responses.from_triples(person, item, correct, n_persons=LEARNERS, n_items=ITEMS)
    return data, a, b


def main() -> None:
    rng = np.random.default_rng(2026)
    data, a, b = responses(rng)

    tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    fit = irt.calibrate(data)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    report(BENCH, "calibrate_2000x20000_s", elapsed, "s", BACKEND)
    report(BENCH, "calibrate_2000x20000_cpu_s", cpu, "s", BACKEND)  # shared machines
    report(BENCH, "calibrate_peak_alloc", peak / 2**20, "MiB", BACKEND)
    report(BENCH, "process_peak_rss", rss, "MiB", BACKEND)
    report(BENCH, "em_iterations", fit.iterations, "count", BACKEND)
    report(BENCH, "recovery_corr_a", float(np.corrcoef(fit.items.a, a)[0, 1]), "r", BACKEND)
    report(BENCH, "recovery_corr_b", float(np.corrcoef(fit.items.b, b)[0, 1]), "r", BACKEND)

    sections = tuple(
        SectionPool(
            f"S{s}",
            f"Subject {s}",
            20,
            irt.ItemParameters(
                tuple(f"S{s}-{i}" for i in range(400)),
                fit.items.a[s::5][:400],
                fit.items.b[s::5][:400],
            ),
        )
        for s in range(5)
    )
    exam = ExamModel(
        sections, PassRule(mode=PassMode.SECTION_AVERAGE, threshold=60, section_floor=40)
    )
    learner = {f"S{s}": Ability(0.2 * s - 0.3, 0.3, 60) for s in range(5)}
    timings = []
    for seed in range(5):
        start = time.perf_counter()
        predict_pass(exam, learner, seed=seed)
        timings.append(time.perf_counter() - start)
    report(BENCH, "predict_pass_one_learner", 1000 * min(timings), "ms", BACKEND)


if __name__ == "__main__":
    main()
