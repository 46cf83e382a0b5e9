"""Imports (all-or-nothing, idempotent) and exports of a certification's questions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from certplatform.content import repository as repo
from certplatform.content.attachments import _all_media, _store_media, not_media
from certplatform.content.catalog import _certification, _Tree, ensure_certification
from certplatform.content.contracts import (
    ImportItem,
    ImportSummary,
    LawReference,
    Media,
    QuestionContent,
    QuestionDraft,
    QuestionStatus,
)
from certplatform.content.formats.base import ItemError
from certplatform.content.models import (
    MediaFile,
    Question,
    QuestionTag,
    QuestionVersion,
)
from certplatform.content.questions import _add_version, _version_row, search_text
from certplatform.kernel import media
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, new_id, utcnow
from certplatform.kernel.errors import N_, Conflict, Gettext, Invalid, Text
from certplatform.kernel.events import record_event
from certplatform.kernel.storage import LocalStorage


class ImportRejected(Invalid):
    """An all-or-nothing import found bad items; nothing was written."""

    def __init__(self, problems: Sequence[ItemError | str]) -> None:
        errors = [str(p) for p in problems]
        count = len(errors)
        super().__init__(
            N_(
                "Import refused: %(count)s items could not be read, so nothing was imported. "
                "Fix them, or choose to import only the valid items."
            ),
            details={"errors": list(errors)},
            count=count,
        )
        self.errors = errors
        self.problems = list(problems)

    def to_dict(self, gettext: Gettext = str) -> dict[str, Any]:
        body = super().to_dict(gettext)
        body["error"]["details"] = {
            "errors": [
                p.localized(gettext) if isinstance(p, ItemError) else p for p in self.problems
            ]
        }
        return body


async def import_drafts(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_code: str,
    drafts: Sequence[QuestionDraft],
    *,
    parse_errors: Sequence[ItemError] = (),
    certification_name: str | None = None,
    status: QuestionStatus = QuestionStatus.DRAFT,
    dry_run: bool = False,
    skip_invalid: bool = False,
    actor: Principal | None = None,
    source_name: str = "",
    two_person_rule: bool = False,
) -> ImportSummary:
    """Import questions all-or-nothing; re-importing the same items changes nothing.

    Items match existing questions by their external id, or, without one, by the
    fingerprint of their content. A changed item gets a new version, an unchanged one is
    left alone. With bad items and no `skip_invalid`, raises `ImportRejected` and writes
    nothing; with `dry_run`, reports what would change and writes nothing.
    """
    if two_person_rule and actor is not None and status is QuestionStatus.PUBLISHED:
        raise Conflict(
            N_(
                "Under the two-person rule an import cannot publish: import the questions as "
                "drafts or for review, and another author publishes them."
            )
        )
    problems: list[ItemError] = list(parse_errors)
    seen_ids: dict[str, str] = {}
    valid: list[QuestionDraft] = []
    for draft in drafts:
        where = draft.location or draft.external_id or "?"
        bad_files = [m.filename for m in draft.media if media.sniff(m.data) is None]
        if bad_files:
            problems += [ItemError.of(where, not_media(name).text) for name in bad_files]
            continue
        if draft.external_id:
            if draft.external_id in seen_ids:
                twice = Text(
                    N_("id %(id)s appears twice (first at %(first)s)"),
                    id=draft.external_id,
                    first=seen_ids[draft.external_id],
                )
                problems.append(ItemError.of(where, twice))
                continue
            seen_ids[draft.external_id] = where
        valid.append(draft)
    errors = [str(e) for e in problems]
    if errors and not skip_invalid:
        raise ImportRejected(problems)
    error_items = tuple(
        ImportItem(location=e.location, action="error", error=e.message, problem=e)
        for e in problems
    )

    cert_row = await repo.certification_by_code(uow.session, certification_code)
    if cert_row is None:
        if dry_run:
            return ImportSummary(
                created=len(valid),
                errors=tuple(errors),
                dry_run=True,
                certification=certification_code,
                items=tuple(_item(d, "create") for d in valid) + error_items,
            )
        await ensure_certification(uow, certification_code, certification_name)
        cert_row = await _certification(uow, certification_code)
    cert_id = cert_row.id

    by_external: dict[str, tuple[str, str, int]] = {}
    by_fingerprint: dict[str, tuple[str, str, int]] = {}
    served: dict[str, bool] = {}  # question id → learners are served a published version
    republish: set[str] = set()  # published questions whose changes this import publishes
    for qid, external_id, fingerprint, current, q_status, published in await repo.question_index(
        uow.session, cert_id
    ):
        if external_id:
            by_external[external_id] = (qid, fingerprint, current)
        else:
            by_fingerprint[fingerprint] = (qid, fingerprint, current)
        served[qid] = published is not None
        if q_status == QuestionStatus.PUBLISHED.value and status is QuestionStatus.PUBLISHED:
            republish.add(qid)

    creates: list[tuple[QuestionDraft, str]] = []
    updates: list[tuple[str, int, QuestionDraft]] = []
    unchanged = 0
    planned: list[ImportItem] = []
    for draft in valid:
        fingerprint = draft.fingerprint()
        match = (
            by_external.get(draft.external_id)
            if draft.external_id
            else by_fingerprint.get(fingerprint)
        )
        if match is None:
            creates.append((draft, fingerprint))
            planned.append(_item(draft, "create"))
            if not draft.external_id:
                by_fingerprint[fingerprint] = ("", fingerprint, 0)  # same item twice: once
        elif match[1] == fingerprint:
            unchanged += 1
            planned.append(_item(draft, "unchanged"))
        else:
            updates.append((match[0], match[2], draft))
            planned.append(_item(draft, "update"))
    summary = ImportSummary(
        created=len(creates),
        updated=len(updates),
        unchanged=unchanged,
        errors=tuple(errors),
        dry_run=dry_run,
        certification=certification_code,
        items=(*planned, *error_items) if dry_run else (),
    )
    if dry_run:
        return summary

    tree = await _Tree.load(uow, cert_id)
    author = actor.user_id if actor else None
    now = utcnow()
    question_rows: list[dict[str, Any]] = []
    version_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    docs: list[tuple[str, str]] = []
    for draft, fingerprint in creates:
        qid = new_id()
        subject_id, topic_id = tree.place(uow, draft)
        version = _version_row(qid, 1, draft, author, "imported", fingerprint)
        question_rows.append(
            {
                "id": qid,
                "certification_id": cert_id,
                "subject_id": subject_id,
                "topic_id": topic_id,
                "external_id": draft.external_id,
                "status": status.value,
                "current_version": 1,
                "published_version": 1 if status is QuestionStatus.PUBLISHED else None,
                "fingerprint": version["fingerprint"],
                "created_at": now,
                "updated_at": now,
            }
        )
        version_rows.append(version)
        tag_rows += [{"question_id": qid, "tag": t} for t in version["tags"]]
        docs.append((qid, search_text(draft.content)))
    await uow.session.flush()  # subjects and topics first: questions refer to them
    await repo.bulk_insert(uow.session, Question, question_rows)
    await repo.bulk_insert(uow.session, QuestionVersion, version_rows)
    await repo.bulk_insert(uow.session, QuestionTag, tag_rows)
    await repo.bulk_index(uow.session, docs)

    for qid, current, draft in updates:
        await _add_version(
            uow,
            tree,
            qid,
            current,
            draft,
            author,
            "re-imported",
            served=served.get(qid, False),
            publish=qid in republish,
        )

    files = [m for d in valid for m in d.media]
    if files:
        existing = await repo.media_by_name(uow.session, cert_id, [m.filename for m in files])
        _store_media(uow, storage, cert_id, files, existing)
    await uow.session.flush()
    record_event(
        uow.session,
        "certplatform.content.import.completed.v1",
        {
            "certification": certification_code,
            "source": source_name,
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "errors": len(errors),
            "actor": author,
        },
    )
    return summary


async def export_drafts(
    uow: UnitOfWork,
    storage: LocalStorage,
    certification_code: str,
    status: QuestionStatus | None = None,
) -> list[QuestionDraft]:
    """Every question of a certification (current versions) as drafts, media attached."""
    cert = await _certification(uow, certification_code)
    tree = await _Tree.load(uow, cert.id)
    subjects = {s.id: s for s in tree.subjects.values()}
    topics = {t.id: t for t in tree.topics.values()}
    f = repo.QuestionFilter(certification_id=cert.id, status=status.value if status else None)
    ids = await repo.list_question_ids(uow.session, f, limit=10_000_000, offset=0)
    drafts = []
    media_rows: dict[str, MediaFile] | None = None
    for start in range(0, len(ids), 2000):
        for question, version in await repo.current_versions(
            uow.session, ids[start : start + 2000]
        ):
            content = QuestionContent.model_validate(version.content)
            attached: list[Media] = []
            if "media:" in content.stem:
                if media_rows is None:
                    media_rows = await _all_media(uow, cert.id)
                attached = [
                    Media(
                        filename=name, content_type=row.content_type, data=storage.get(row.sha256)
                    )
                    for name, row in media_rows.items()
                    if f"media:{name}" in content.stem
                ]
            subject = subjects.get(question.subject_id or "")
            topic = topics.get(question.topic_id or "")
            drafts.append(
                QuestionDraft(
                    content=content,
                    external_id=question.external_id,
                    title=version.title,
                    subject=subject.code if subject else None,
                    subject_name=subject.name if subject else None,
                    topic=topic.code if topic else None,
                    topic_name=topic.name if topic else None,
                    tags=tuple(version.tags),
                    law_refs=tuple(LawReference.model_validate(r) for r in version.law_refs),
                    source=version.source,
                    media=tuple(attached),
                )
            )
    return drafts


def _item(draft: QuestionDraft, action: Literal["create", "update", "unchanged"]) -> ImportItem:
    return ImportItem(
        location=draft.external_id or draft.location or "?",
        title=draft.title or draft.content.stem[:80],
        action=action,
    )
