"""Shapes of the question bank that other contexts and the importers may use.

`QuestionContent` is the whole gradable content of one question version. Importers produce
it, the editor edits it, exporters write it, the learning context grades against it. Two
contents that compare equal are the same question version (see `fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from certplatform.kernel.bounds import (
    LIST_LENGTH,
    LONG_TEXT_LENGTH,
    NAME_LENGTH,
    TEXT_LENGTH,
    Code,
    Id,
    Name,
)


class QuestionType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_RESPONSE = "multiple_response"
    TRUE_FALSE = "true_false"
    SHORT_ANSWER = "short_answer"
    NUMERIC = "numeric"
    MATCHING = "matching"
    ESSAY = "essay"


class QuestionStatus(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    RETIRED = "retired"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Choice(_Frozen):
    """One option of a choice question.

    `weight` is the fraction of the question's credit the option earns when selected:
    1.0 for the key of a single-choice question; for multiple response the positive weights
    of the correct options add up to 1.0 and wrong options may carry a negative weight.
    """

    id: str = Field(min_length=1, max_length=16)
    text: str = Field(max_length=TEXT_LENGTH)
    weight: float = Field(default=0.0, ge=-1.0, le=1.0)
    feedback: str | None = Field(default=None, max_length=TEXT_LENGTH)

    @property
    def correct(self) -> bool:
        return self.weight > 0


class NumericAnswer(_Frozen):
    """An accepted numeric answer: `value ± tolerance`, or the closed range `[min, max]`."""

    value: float | None = None
    tolerance: float = Field(default=0.0, ge=0.0)
    min: float | None = None
    max: float | None = None
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    feedback: str | None = Field(default=None, max_length=TEXT_LENGTH)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        ranged = self.min is not None or self.max is not None
        if ranged and (self.min is None or self.max is None):
            raise ValueError("a numeric range needs both min and max")
        if ranged and self.value is not None:
            raise ValueError("a numeric answer is either value±tolerance or a range, not both")
        if not ranged and self.value is None:
            raise ValueError("a numeric answer needs a value or a range")
        if ranged and self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"numeric range min {self.min} is above max {self.max}")
        for number in (self.value, self.min, self.max, self.tolerance):
            if number is not None and not math.isfinite(number):
                raise ValueError("numeric answers must be finite numbers")
        return self

    def accepts(self, given: float) -> bool:
        if self.min is not None and self.max is not None:
            return self.min <= given <= self.max
        assert self.value is not None
        return abs(given - self.value) <= self.tolerance + 1e-12


class AcceptedAnswer(_Frozen):
    """A short-answer text that earns `weight` of the credit."""

    text: str = Field(min_length=1, max_length=TEXT_LENGTH)
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    feedback: str | None = Field(default=None, max_length=TEXT_LENGTH)


class MatchPair(_Frozen):
    left: str = Field(max_length=TEXT_LENGTH)
    right: str = Field(max_length=TEXT_LENGTH)


class LawReference(_Frozen):
    """A law the question depends on, so that a law revision can flag it."""

    law: str = Field(min_length=1, max_length=NAME_LENGTH)
    article: str = Field(default="", max_length=NAME_LENGTH)


class QuestionContent(_Frozen):
    """Everything that makes one version of a question, independent of where it is filed."""

    type: QuestionType
    stem: str = Field(min_length=1, max_length=LONG_TEXT_LENGTH)
    choices: tuple[Choice, ...] = Field(default=(), max_length=50)
    true_false_answer: bool | None = None
    accepted_answers: tuple[AcceptedAnswer, ...] = Field(default=(), max_length=100)
    case_sensitive: bool = False
    numeric_answers: tuple[NumericAnswer, ...] = Field(default=(), max_length=50)
    pairs: tuple[MatchPair, ...] = Field(default=(), max_length=50)
    explanation: str = Field(default="", max_length=LONG_TEXT_LENGTH)
    shuffle_choices: bool = True

    @model_validator(mode="after")
    def _type_rules(self) -> Self:
        t = self.type
        if not self.stem.strip():
            raise ValueError("the question text is empty")
        if t in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_RESPONSE):
            if len(self.choices) < 2:
                raise ValueError(f"a {t.value} question needs at least 2 choices")
            ids = [c.id for c in self.choices]
            if len(set(ids)) != len(ids):
                raise ValueError("choice ids must be unique")
            if any(not c.text.strip() for c in self.choices):
                raise ValueError("a choice is empty")
            best = max(c.weight for c in self.choices)
            if t is QuestionType.SINGLE_CHOICE and not math.isclose(best, 1.0):
                raise ValueError("a single-choice question needs one choice worth full credit")
            if t is QuestionType.MULTIPLE_RESPONSE:
                total = sum(c.weight for c in self.choices if c.weight > 0)
                if not math.isclose(total, 1.0, abs_tol=0.011):
                    raise ValueError(
                        f"the correct choices' weights add up to {total:.2f}, not 1.00"
                    )
        elif self.choices:
            raise ValueError(f"a {t.value} question has no choices")
        if t is QuestionType.TRUE_FALSE and self.true_false_answer is None:
            raise ValueError("a true/false question needs its answer")
        if t is QuestionType.SHORT_ANSWER and not any(
            math.isclose(a.weight, 1.0) for a in self.accepted_answers
        ):
            raise ValueError("a short-answer question needs an accepted answer worth full credit")
        if t is QuestionType.NUMERIC and not any(
            math.isclose(a.weight, 1.0) for a in self.numeric_answers
        ):
            raise ValueError("a numeric question needs an accepted number worth full credit")
        if t is QuestionType.MATCHING and len(self.pairs) < 2:
            raise ValueError("a matching question needs at least 2 pairs")
        return self

    def fingerprint(self) -> str:
        """A stable hash of the content: equal content, equal fingerprint.

        Field order is fixed by the model, so the JSON dump is canonical.
        """
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class Media(_Frozen):
    """A file a question refers to from its stem as `![alt](media:FILENAME)`.

    `content_type` is what the source claims (by name or header) and is only a hint: the
    question bank stores and serves the type read from `data` (`kernel.media.sniff`) and
    refuses files that are not an allowed image, audio or video file.
    """

    filename: str = Field(min_length=1, max_length=200)
    content_type: str
    data: bytes = Field(repr=False)


class QuestionDraft(_Frozen):
    """One question as it arrives from an import file or the editor.

    `subject` and `topic` are codes within the certification (created when missing);
    `*_name` carry display names where the source has them. `location` names the item in its
    source (`line 12`, `id T1A01`) for error messages.
    """

    content: QuestionContent
    external_id: str | None = None
    title: str | None = None
    subject: str | None = None
    subject_name: str | None = None
    topic: str | None = None
    topic_name: str | None = None
    tags: tuple[str, ...] = ()
    law_refs: tuple[LawReference, ...] = ()
    source: str | None = None
    media: tuple[Media, ...] = ()
    location: str = ""

    def fingerprint(self) -> str:
        """Fingerprint of what a new version would change: content plus its metadata."""
        digest = hashlib.sha256(self.content.model_dump_json().encode())
        meta = {
            "title": self.title,
            "tags": sorted(self.tags),
            "law_refs": [[r.law, r.article] for r in self.law_refs],
            "source": self.source,
            "media": sorted((m.filename, hashlib.sha256(m.data).hexdigest()) for m in self.media),
        }
        digest.update(json.dumps(meta, sort_keys=True, ensure_ascii=False).encode())
        return digest.hexdigest()


class PassMode(StrEnum):
    PERCENT = "percent"  # total points earned / total points, in percent
    SECTION_AVERAGE = "section_average"  # mean of each section's percent (Korean 평균 점수)
    COUNT = "count"  # number of questions answered fully right (FCC: 26 of 35)


class PassRule(_Frozen):
    """How an exam is passed: an overall mark, plus an optional floor per section (과락)."""

    mode: PassMode
    threshold: float = Field(ge=0)
    section_floor: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.mode is not PassMode.COUNT and self.threshold > 100:
            raise ValueError("a percent threshold is at most 100")
        return self


# ---- Read models returned by the content service -------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class TopicOut(_Out):
    id: str
    code: str
    name: str
    parent_id: str | None = None


class SubjectOut(_Out):
    id: str
    code: str
    name: str
    position: int
    topics: tuple[TopicOut, ...] = ()


class CertificationOut(_Out):
    id: str
    code: str
    name: str
    description: str


class CertificationDetail(CertificationOut):
    subjects: tuple[SubjectOut, ...]
    question_counts: dict[str, int]  # by status


class VersionOut(_Out):
    """One exact version of a question: what an attempt freezes and grades against."""

    id: str
    question_id: str
    number: int
    content: QuestionContent
    title: str | None
    tags: tuple[str, ...]
    law_refs: tuple[LawReference, ...]
    source: str | None
    fingerprint: str
    author_id: str | None
    note: str
    created_at: datetime


class QuestionOut(_Out):
    id: str
    certification_code: str
    external_id: str | None
    subject_code: str | None
    topic_code: str | None
    status: QuestionStatus
    version: VersionOut
    updated_at: datetime
    newest_version: int | None = None
    published_version: int | None = None  # what learners are served, when it was published

    @property
    def draft_version(self) -> int | None:
        """The newer version waiting to be published over the one learners see."""
        if self.published_version is None or self.newest_version is None:
            return None
        return self.newest_version if self.newest_version > self.published_version else None


class SectionSpec(_Frozen):
    """A blueprint section as authors write it."""

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    subject_code: Code | None = None
    topic_codes: tuple[Code, ...] = Field(default=(), max_length=LIST_LENGTH)
    draw: Literal["count", "one_per_topic"] = "count"
    question_count: int = Field(ge=1, le=500)
    points_per_question: float = Field(default=1.0, gt=0)
    time_limit_minutes: int | None = Field(default=None, ge=1, le=600)


class BlueprintSpec(_Frozen):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    time_limit_minutes: int = Field(ge=1, le=1440)
    shuffle_questions: bool = True
    shuffle_choices: bool = True
    calculator: bool = False
    pass_rule: PassRule
    sections: tuple[SectionSpec, ...] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_sections(self) -> Self:
        codes = [s.code for s in self.sections]
        if len(set(codes)) != len(codes):
            raise ValueError("section codes must be unique")
        for s in self.sections:
            if (
                s.draw == "one_per_topic"
                and s.topic_codes
                and len(s.topic_codes) != s.question_count
            ):
                raise ValueError(
                    f"section {s.code}: one_per_topic draws {len(s.topic_codes)} questions, "
                    f"not {s.question_count}"
                )
        return self


class BlueprintOut(BlueprintSpec):
    id: str
    certification_code: str


class PaperItemSpec(_Frozen):
    question_id: Id
    section_code: Code
    section_name: Name
    points: float = Field(default=1.0, gt=0)


class PastPaperSpec(_Frozen):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    source: Name | None = None
    time_limit_minutes: int = Field(ge=1, le=1440)
    pass_rule: PassRule
    items: tuple[PaperItemSpec, ...] = Field(min_length=1, max_length=LIST_LENGTH)


class PastPaperOut(PastPaperSpec):
    id: str
    certification_code: str


class PaperSectionSummary(_Frozen):
    code: str
    name: str
    question_count: int
    points: float


class PastPaperSummary(_Frozen):
    """A past paper as a learner sees it before starting: title, sections, counts, time
    limit and pass rule, but not which questions it holds (an attempt's questions must not
    be known, and so practised, before or while it is sat)."""

    id: str
    certification_code: str
    code: str
    name: str
    source: str | None
    time_limit_minutes: int
    pass_rule: PassRule
    question_count: int
    sections: tuple[PaperSectionSummary, ...]

    @classmethod
    def of(cls, paper: PastPaperOut) -> PastPaperSummary:
        sections: dict[str, PaperSectionSummary] = {}
        for item in paper.items:
            found = sections.get(item.section_code)
            sections[item.section_code] = PaperSectionSummary(
                code=item.section_code,
                name=item.section_name,
                question_count=(found.question_count if found else 0) + 1,
                points=(found.points if found else 0.0) + item.points,
            )
        return cls(
            id=paper.id,
            certification_code=paper.certification_code,
            code=paper.code,
            name=paper.name,
            source=paper.source,
            time_limit_minutes=paper.time_limit_minutes,
            pass_rule=paper.pass_rule,
            question_count=len(paper.items),
            sections=tuple(sections.values()),
        )


class CoverageRow(_Frozen):
    section_code: str
    needed: int
    available: int
    missing_topics: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.available >= self.needed and not self.missing_topics


class ImportItem(_Frozen):
    """One item of a dry run: what importing would do with it, or why it cannot."""

    location: str
    title: str | None = None
    action: Literal["create", "update", "unchanged", "error"]
    error: str = ""
    # The error as a catalog message, for pages in the reader's language (not serialised).
    problem: Any = Field(default=None, exclude=True)


class ImportSummary(_Frozen):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: tuple[str, ...] = ()
    dry_run: bool = False
    certification: str = ""
    items: tuple[ImportItem, ...] = ()  # filled by dry runs


class PoolEntry(_Frozen):
    """A published question available to practice or to draw."""

    question_id: str
    external_id: str | None
    subject_code: str | None
    topic_code: str | None


class DrawnItem(_Frozen):
    """One question of an exam form, pinned to the exact version shown."""

    question_id: str
    version_id: str
    section_code: str
    points: float
