"""Typed factories for question-bank tests."""

from __future__ import annotations

from certplatform.content.contracts import (
    Choice,
    LawReference,
    QuestionContent,
    QuestionDraft,
    QuestionType,
)


def choice_question(
    stem: str,
    choices: tuple[str, ...] = ("하나", "둘", "셋", "넷"),
    key: int = 0,
    *,
    external_id: str | None = None,
    subject: str | None = "S1",
    topic: str | None = None,
    tags: tuple[str, ...] = (),
    explanation: str = "",
    law: tuple[str, str] | None = None,
) -> QuestionDraft:
    return QuestionDraft(
        content=QuestionContent(
            type=QuestionType.SINGLE_CHOICE,
            stem=stem,
            choices=tuple(
                Choice(id="ABCDEFGH"[i], text=t, weight=1.0 if i == key else 0.0)
                for i, t in enumerate(choices)
            ),
            explanation=explanation,
        ),
        external_id=external_id,
        subject=subject,
        subject_name=f"Subject {subject}" if subject else None,
        topic=topic,
        tags=tags,
        law_refs=(LawReference(law=law[0], article=law[1]),) if law else (),
        location=f"id {external_id}" if external_id else "",
    )
