"""Grading: the credit one response earns, and whether a mock exam is passed.

Pure functions over the content contracts; nothing here reads or writes storage.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from certplatform.content.contracts import PassMode, PassRule, QuestionContent, QuestionType

# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


class InvalidResponse(ValueError):
    """A response that does not fit its question; the API refuses it before saving."""


class Response(BaseModel):
    """A learner's answer to one question. Which field is used depends on the question type.

    `choice_ids` for single choice and multiple response, `value` for true/false, `text` for
    short answer and essay, `number` for numeric, `pairs` of (left, right) for matching.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    choice_ids: tuple[str, ...] = ()
    value: bool | None = None
    text: str | None = None
    number: float | None = Field(default=None, allow_inf_nan=False)
    pairs: tuple[tuple[str, str], ...] = ()

    def is_blank(self) -> bool:
        """True when nothing was answered (whitespace-only text counts as nothing)."""
        return not _given_fields(self)


def _given_fields(response: Response) -> list[str]:
    # Empty values count as "not given" so that clients may always send every key.
    given: list[str] = []
    if response.choice_ids:
        given.append("choice_ids")
    if response.value is not None:
        given.append("value")
    if response.text is not None and response.text.strip():
        given.append("text")
    if response.number is not None:
        given.append("number")
    if response.pairs:
        given.append("pairs")
    return given


_FIELD_OF_TYPE: dict[QuestionType, str] = {
    QuestionType.SINGLE_CHOICE: "choice_ids",
    QuestionType.MULTIPLE_RESPONSE: "choice_ids",
    QuestionType.TRUE_FALSE: "value",
    QuestionType.SHORT_ANSWER: "text",
    QuestionType.ESSAY: "text",
    QuestionType.NUMERIC: "number",
    QuestionType.MATCHING: "pairs",
}

_FIELD_LABEL: dict[str, str] = {
    "choice_ids": "chosen options",
    "value": "a true/false value",
    "text": "text",
    "number": "a number",
    "pairs": "matched pairs",
}


def validate_response(content: QuestionContent, response: Response) -> None:
    """Raise `InvalidResponse` when `response` cannot be an answer to `content`.

    A blank response is valid: it is how a learner skips or clears an answer.
    """
    expected = _FIELD_OF_TYPE[content.type]
    kind = content.type.value.replace("_", "-")
    for name in _given_fields(response):
        if name != expected:
            raise InvalidResponse(
                f"a {kind} question is answered with {_FIELD_LABEL[expected]}, "
                f"not {_FIELD_LABEL[name]}"
            )
    if expected == "choice_ids":
        _check_choices(content, response.choice_ids)
    elif expected == "pairs":
        _check_pairs(content, response.pairs)


def _check_choices(content: QuestionContent, chosen: tuple[str, ...]) -> None:
    known = [c.id for c in content.choices]
    seen: set[str] = set()
    for choice_id in chosen:
        if choice_id not in known:
            raise InvalidResponse(
                f"unknown choice {choice_id!r}; this question has {', '.join(known)}"
            )
        if choice_id in seen:
            raise InvalidResponse(f"choice {choice_id!r} is chosen more than once")
        seen.add(choice_id)
    if content.type is QuestionType.SINGLE_CHOICE and len(chosen) > 1:
        raise InvalidResponse(f"a single-choice question takes one choice, got {len(chosen)}")


def _check_pairs(content: QuestionContent, pairs: tuple[tuple[str, str], ...]) -> None:
    lefts = Counter(p.left for p in content.pairs)
    rights = {p.right for p in content.pairs}
    answered: Counter[str] = Counter()
    for left, right in pairs:
        if left not in lefts:
            raise InvalidResponse(f"unknown matching item {left!r}")
        if right not in rights:
            raise InvalidResponse(f"unknown matching answer {right!r} for {left!r}")
        answered[left] += 1
        if answered[left] > lefts[left]:
            raise InvalidResponse(f"matching item {left!r} is answered more than once")


# --------------------------------------------------------------------------------------------
# Scoring one question
# --------------------------------------------------------------------------------------------


def needs_manual_grading(content: QuestionContent) -> bool:
    """Essays are marked by a person; `score` gives them 0 until then."""
    return content.type is QuestionType.ESSAY


def score(content: QuestionContent, response: Response) -> float:
    """The fraction of the question's credit the response earns, in [0, 1].

    Raises `InvalidResponse` for a response that does not fit the question.
    """
    validate_response(content, response)
    if response.is_blank():
        return 0.0
    t = content.type
    if t is QuestionType.SINGLE_CHOICE:
        weights = {c.id: c.weight for c in content.choices}
        return _credit(weights[response.choice_ids[0]])
    if t is QuestionType.MULTIPLE_RESPONSE:
        return _score_multiple(content, response.choice_ids)
    if t is QuestionType.TRUE_FALSE:
        return 1.0 if response.value == content.true_false_answer else 0.0
    if t is QuestionType.SHORT_ANSWER:
        assert response.text is not None
        return _score_text(content, response.text)
    if t is QuestionType.NUMERIC:
        assert response.number is not None
        given = response.number
        accepted = (a.weight for a in content.numeric_answers if a.accepts(given))
        return _credit(max(accepted, default=0.0))
    if t is QuestionType.MATCHING:
        key = Counter((p.left, p.right) for p in content.pairs)
        right = sum((key & Counter(response.pairs)).values())
        return right / len(content.pairs)
    return 0.0  # essay


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def _credit(weight: float) -> float:
    # The contract accepts a key "worth full credit" by math.isclose(weight, 1.0); grade it 1.
    return 1.0 if math.isclose(weight, 1.0) else _clip(weight)


def _score_multiple(content: QuestionContent, chosen: tuple[str, ...]) -> float:
    # Moodle semantics: chosen weights add up, wrong options may subtract, clipped to [0, 1].
    # The contract lets the correct weights add up to 1 within ±0.011 (three options of
    # 0.33); dividing by their actual total gives exactly 1.0 for exactly the right options.
    # fsum is correctly rounded, so the same set of weights always sums to the same float.
    full = math.fsum(c.weight for c in content.choices if c.weight > 0)
    picked = set(chosen)
    earned = math.fsum(c.weight for c in content.choices if c.id in picked)
    return _clip(earned / full)


def normalise_text(text: str, *, case_sensitive: bool = False) -> str:
    """Canonical form of a short answer: NFKC (full-width = half-width), trimmed, inner
    whitespace collapsed to one space, and case-folded unless `case_sensitive`."""
    text = _fold(text, case_sensitive)
    return " ".join(text.split())


def _fold(text: str, case_sensitive: bool) -> str:
    text = unicodedata.normalize("NFKC", text)
    if not case_sensitive:
        # casefold can leave non-NFKC text (e.g. some ligatures), hence the second pass
        text = unicodedata.normalize("NFKC", text.casefold())
    return text


_UNESCAPED_STAR = re.compile(r"(?<!\\)\*")
_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)
def _answer_pattern(accepted: str, case_sensitive: bool) -> re.Pattern[str]:
    # As in Moodle, '*' matches any run of characters and '\*' is a literal asterisk. The
    # split happens before NFKC so that a full-width '＊' stays a literal character.
    parts = [p.replace("\\*", "*") for p in _UNESCAPED_STAR.split(accepted)]
    parts = [_SPACES.sub(" ", _fold(p, case_sensitive)) for p in parts]
    parts[0] = parts[0].lstrip()
    parts[-1] = parts[-1].rstrip()
    return re.compile(".*".join(re.escape(p) for p in parts), re.DOTALL)


def _score_text(content: QuestionContent, text: str) -> float:
    given = normalise_text(text, case_sensitive=content.case_sensitive)
    matching = (
        a.weight
        for a in content.accepted_answers
        if _answer_pattern(a.text, content.case_sensitive).fullmatch(given)
    )
    return _credit(max(matching, default=0.0))


def key_of(content: QuestionContent) -> dict[str, object]:
    """The answer key as plain JSON data, for review screens."""
    key: dict[str, object] = {"type": content.type.value}
    t = content.type
    if t in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE):
        key["correct_choice_ids"] = [c.id for c in content.choices if c.weight > 0]
        key["weights"] = {c.id: c.weight for c in content.choices if c.weight != 0}
    elif t is QuestionType.TRUE_FALSE:
        key["answer"] = content.true_false_answer
    elif t is QuestionType.SHORT_ANSWER:
        key["accepted"] = [{"text": a.text, "weight": a.weight} for a in content.accepted_answers]
        key["case_sensitive"] = content.case_sensitive
    elif t is QuestionType.NUMERIC:
        key["accepted"] = [
            {"min": a.min, "max": a.max, "weight": a.weight}
            if a.value is None
            else {"value": a.value, "tolerance": a.tolerance, "weight": a.weight}
            for a in content.numeric_answers
        ]
    elif t is QuestionType.MATCHING:
        key["pairs"] = [[p.left, p.right] for p in content.pairs]
    else:
        key["manual"] = True
    return key


# --------------------------------------------------------------------------------------------
# Grading an exam
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    """One graded question of an exam: its points and what the learner earned of them."""

    question_ref: str
    section: str
    points: float
    earned: float
    fully_correct: bool

    def __post_init__(self) -> None:
        if not (math.isfinite(self.points) and self.points >= 0):
            raise ValueError(f"{self.question_ref}: points must be a finite number ≥ 0")
        if not (math.isfinite(self.earned) and 0 <= self.earned <= self.points):
            raise ValueError(f"{self.question_ref}: earned must be between 0 and the points")

    @classmethod
    def from_fraction(
        cls, question_ref: str, section: str, points: float, fraction: float
    ) -> ItemResult:
        """Build from a `score` result; only full credit counts as fully correct."""
        fraction = _clip(fraction)
        return cls(question_ref, section, points, points * fraction, fraction >= 1.0)


@dataclass(frozen=True)
class SectionResult:
    """One section (subject) of a graded exam; `percent` is rounded for display."""

    code: str
    name: str
    points: float
    earned: float
    percent: float
    correct_count: int
    question_count: int
    below_floor: bool


@dataclass(frozen=True)
class Reason:
    """Why an exam was passed or failed, as a code with parameters; see `render_reason`."""

    code: str
    params: dict[str, str | float] = field(default_factory=dict)


SECTION_BELOW_FLOOR = "section_below_floor"
PERCENT_BELOW_THRESHOLD = "percent_below_threshold"
AVERAGE_BELOW_THRESHOLD = "average_below_threshold"
COUNT_BELOW_THRESHOLD = "count_below_threshold"
PASSED_PERCENT = "passed_percent"
PASSED_AVERAGE = "passed_average"
PASSED_COUNT = "passed_count"

Lang = Literal["ko", "en"]


@dataclass(frozen=True)
class ExamResult:
    """A graded exam. Percentages are rounded half-up to 2 decimals for display; the pass
    decision was taken on exact values before rounding."""

    sections: tuple[SectionResult, ...]
    total_points: float
    earned: float
    percent: float
    correct_count: int
    question_count: int
    section_average: float
    passed: bool
    reasons: tuple[Reason, ...]

    def messages(self, lang: Lang = "ko") -> tuple[str, ...]:
        return tuple(render_reason(r, lang) for r in self.reasons)


def _exact(x: float) -> Fraction:
    # A float is read as the shortest decimal that prints as it, i.e. the number that was
    # typed: 0.1 + 0.2 points make exactly 0.3, and 60 points out of 100 meet a 60 threshold.
    return Fraction(repr(x))


def _cents(x: Fraction, rounding: Literal["half_up", "down", "up"] = "half_up") -> float:
    scaled = x * 100
    if rounding == "down":
        cents = math.floor(scaled)
    elif rounding == "up":
        cents = math.ceil(scaled)
    else:
        cents = math.floor(scaled + Fraction(1, 2))
    return float(Fraction(cents, 100))


def _shown(exact: Fraction, bound: Fraction, *, failed: bool) -> float:
    # Half-up rounding could show 59.996 as "60 (60점 미만)"; round toward the decision instead.
    shown = _cents(exact)
    if failed and _exact(shown) >= bound:
        return _cents(exact, "down")
    if not failed and _exact(shown) < bound:
        return _cents(exact, "up")
    return shown


def grade_exam(
    items: Sequence[ItemResult], sections: Sequence[tuple[str, str]], rule: PassRule
) -> ExamResult:
    """Grade an exam from its graded items.

    `sections` lists (code, name) in display order; every item must belong to one of them and
    every section must carry points. Sums and pass decisions use exact fractions (see
    `_exact`), so no rounding error can flip a result at the threshold.
    """
    if not sections:
        raise ValueError("an exam needs at least one section")
    codes = [code for code, _ in sections]
    if len(set(codes)) != len(codes):
        raise ValueError("section codes must be unique")
    by_section: dict[str, list[ItemResult]] = {code: [] for code in codes}
    for item in items:
        if item.section not in by_section:
            raise ValueError(f"{item.question_ref} is in unknown section {item.section!r}")
        by_section[item.section].append(item)

    floor = None if rule.section_floor is None else _exact(rule.section_floor)
    section_results: list[SectionResult] = []
    section_percents: list[Fraction] = []
    reasons: list[Reason] = []
    for code, name in sections:
        members = by_section[code]
        points = sum((_exact(i.points) for i in members), Fraction(0))
        if points == 0:
            raise ValueError(f"section {name!r} has no points to grade")
        earned = sum((_exact(i.earned) for i in members), Fraction(0))
        percent = earned / points * 100
        below = floor is not None and percent < floor
        section_percents.append(percent)
        section_results.append(
            SectionResult(
                code=code,
                name=name,
                points=float(points),
                earned=float(earned),
                percent=_cents(percent),
                correct_count=sum(1 for i in members if i.fully_correct),
                question_count=len(members),
                below_floor=below,
            )
        )
        if below:
            assert floor is not None
            reasons.append(
                Reason(
                    SECTION_BELOW_FLOOR,
                    {
                        "section": code,
                        "name": name,
                        "score": _shown(percent, floor, failed=True),
                        "floor": float(floor),
                    },
                )
            )

    total_points = sum((_exact(i.points) for i in items), Fraction(0))
    total_earned = sum((_exact(i.earned) for i in items), Fraction(0))
    total_percent = total_earned / total_points * 100
    average = sum(section_percents, Fraction(0)) / len(section_percents)
    correct = sum(1 for i in items if i.fully_correct)

    rule_met, overall = _overall(rule, total_percent, average, correct, len(items))
    if not rule_met:
        reasons.append(overall)
    passed = not reasons
    if passed:
        reasons.append(overall)

    return ExamResult(
        sections=tuple(section_results),
        total_points=float(total_points),
        earned=float(total_earned),
        percent=_cents(total_percent),
        correct_count=correct,
        question_count=len(items),
        section_average=_cents(average),
        passed=passed,
        reasons=tuple(reasons),
    )


def _overall(
    rule: PassRule, percent: Fraction, average: Fraction, correct: int, total: int
) -> tuple[bool, Reason]:
    """Whether the overall rule is met (section floors aside), with the reason to show."""
    threshold = _exact(rule.threshold)
    params: dict[str, str | float]
    if rule.mode is PassMode.COUNT:
        ok = correct >= threshold
        code = PASSED_COUNT if ok else COUNT_BELOW_THRESHOLD
        params = {"correct": correct, "threshold": float(threshold), "total": total}
    else:
        value = average if rule.mode is PassMode.SECTION_AVERAGE else percent
        ok = value >= threshold
        if rule.mode is PassMode.SECTION_AVERAGE:
            code = PASSED_AVERAGE if ok else AVERAGE_BELOW_THRESHOLD
        else:
            code = PASSED_PERCENT if ok else PERCENT_BELOW_THRESHOLD
        params = {"score": _shown(value, threshold, failed=not ok), "threshold": float(threshold)}
    if ok and rule.section_floor is not None:
        params["floor"] = rule.section_floor
    return ok, Reason(code, params)


# --------------------------------------------------------------------------------------------
# Reasons as text
# --------------------------------------------------------------------------------------------

_TEMPLATES: dict[str, dict[str, str]] = {
    "ko": {
        SECTION_BELOW_FLOOR: "{name} {score}점 과락 ({floor}점 미만)",
        PERCENT_BELOW_THRESHOLD: "총점 {score}점 ({threshold}점 미만)",
        AVERAGE_BELOW_THRESHOLD: "평균 {score}점 ({threshold}점 미만)",
        COUNT_BELOW_THRESHOLD: "정답 {correct}개 (합격 기준 {threshold}개)",
        PASSED_PERCENT: "합격: 총점 {score}점",
        PASSED_AVERAGE: "합격: 평균 {score}점",
        PASSED_COUNT: "합격: 정답 {correct}개 (합격 기준 {threshold}개)",
        "floor_kept": ", 모든 과목 {floor}점 이상",
    },
    "en": {
        SECTION_BELOW_FLOOR: "{name}: {score}, below the section minimum of {floor}",
        PERCENT_BELOW_THRESHOLD: "Score {score}% (below the pass mark of {threshold}%)",
        AVERAGE_BELOW_THRESHOLD: "Average {score} (below the pass mark of {threshold})",
        COUNT_BELOW_THRESHOLD: "{correct} correct ({threshold} needed to pass)",
        PASSED_PERCENT: "Passed: score {score}%",
        PASSED_AVERAGE: "Passed: average {score}",
        PASSED_COUNT: "Passed: {correct} correct ({threshold} needed)",
        "floor_kept": ", every section at least {floor}",
    },
}


def _number(x: str | float) -> str:
    if isinstance(x, str):
        return x
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def render_reason(reason: Reason, lang: Lang = "ko") -> str:
    """The reason as a sentence in Korean (`ko`, the default) or English (`en`)."""
    if lang not in _TEMPLATES:
        raise ValueError(f"no texts for language {lang!r}")
    templates = _TEMPLATES[lang]
    values = {k: _number(v) for k, v in reason.params.items()}
    template = templates.get(reason.code)
    if template is None:
        return " ".join([reason.code, *(f"{k}={v}" for k, v in values.items())])
    text = template.format_map(values)
    if reason.code.startswith("passed") and "floor" in values:
        text += templates["floor_kept"].format_map(values)
    return text
