"""Demo content: FCC amateur-radio pools, an original Korean mock certification, accounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from certplatform.content import service as content
from certplatform.content.contracts import (
    BlueprintSpec,
    Choice,
    LawReference,
    PaperItemSpec,
    PassMode,
    PassRule,
    PastPaperSpec,
    QuestionContent,
    QuestionDraft,
    QuestionStatus,
    QuestionType,
    SectionSpec,
)
from certplatform.content.formats import fcc_json
from certplatform.identity import service as identity
from certplatform.kernel.db import Database, UnitOfWork
from certplatform.kernel.storage import LocalStorage

DATA = Path(__file__).parent / "data"

DEMO_PASSWORD = "demo-pass-1234"  # noqa: S105 - published demo accounts for local use
DEMO_ACCOUNTS = (
    ("learner@example.com", "learner", "김하늘"),
    ("learner2@example.com", "learner", "Alex Kim"),
    ("learner3@example.com", "learner", "이서준"),
    ("author@example.com", "author", "박출제"),
    ("admin@example.com", "admin", "관리자"),
)

FCC_POOLS = (
    (
        "US-FCC-TECHNICIAN",
        "FCC Amateur Radio Technician (Element 2), pool 2026–2030",
        "technician-2026-2030.json",
        {
            "T1": "Commission's rules",
            "T2": "Operating procedures",
            "T3": "Radio wave characteristics",
            "T4": "Amateur radio practices and station setup",
            "T5": "Electrical principles",
            "T6": "Electronic and electrical components",
            "T7": "Station equipment",
            "T8": "Modulation modes and operating activities",
            "T9": "Antennas and feed lines",
            "T0": "Safety",
        },
    ),
    (
        "US-FCC-GENERAL",
        "FCC Amateur Radio General (Element 3), pool 2023–2027",
        "general-2023-2027.json",
        {
            "G1": "Commission's rules",
            "G2": "Operating procedures",
            "G3": "Radio wave propagation",
            "G4": "Amateur radio practices",
            "G5": "Electrical principles",
            "G6": "Circuit components",
            "G7": "Practical circuits",
            "G8": "Signals and emissions",
            "G9": "Antennas and feed lines",
            "G0": "Electrical and RF safety",
        },
    ),
)
FCC_ORDER = "1234567890"  # sub-element T0 (safety) comes last on the syllabus


@dataclass
class DemoReport:
    lines: list[str] = field(default_factory=list)


KOREAN_CODE = "KR-INFO-ENGINEER"


async def load_certifications(
    db: Database, storage: LocalStorage, only: set[str] | None = None
) -> list[str]:
    """Load the demo certifications (all, or those whose codes are in `only`)."""
    lines = []
    for code, name, filename, subjects in FCC_POOLS:
        if only is None or code in only:
            async with db.transaction() as uow:
                lines.append(await _load_fcc(uow, storage, code, name, filename, subjects))
    if only is None or KOREAN_CODE in only:
        async with db.transaction() as uow:
            lines.append(await _load_korean(uow, storage))
    return lines


async def load_demo(db: Database, storage: LocalStorage, *, extra_users: int = 0) -> DemoReport:
    """Load (or refresh) the demo content; running it again changes nothing."""
    report = DemoReport(lines=await load_certifications(db, storage))
    async with db.transaction() as uow:
        report.lines.append(await _load_users(uow, extra_users))
    return report


async def _load_fcc(
    uow: UnitOfWork,
    storage: LocalStorage,
    code: str,
    name: str,
    filename: str,
    subject_names: dict[str, str],
) -> str:
    parsed = fcc_json.parse((DATA / "fcc" / filename).read_bytes(), media_dir=DATA / "fcc")
    if parsed.errors:
        raise RuntimeError(f"demo pool {filename} has errors: {parsed.errors[:3]}")
    drafts = [
        d.model_copy(update={"subject_name": subject_names.get(d.subject or "", d.subject)})
        for d in parsed.drafts
    ]
    summary = await content.import_drafts(
        uow,
        storage,
        code,
        drafts,
        certification_name=name,
        status=QuestionStatus.PUBLISHED,
        source_name=filename,
    )
    groups: dict[str, list[str]] = {}
    for d in drafts:
        if d.subject and d.topic and d.topic not in groups.setdefault(d.subject, []):
            groups[d.subject].append(d.topic)
    ordered = sorted(groups, key=lambda s: FCC_ORDER.index(s[1]))
    total = sum(len(g) for g in groups.values())
    await content.save_blueprint(
        uow,
        code,
        BlueprintSpec(
            code="EXAM",
            name=f"{name.split(',')[0]} exam",
            time_limit_minutes=60,
            shuffle_questions=False,
            shuffle_choices=True,
            calculator=True,
            pass_rule=PassRule(
                mode=PassMode.COUNT, threshold=26 if total == 35 else round(total * 0.74)
            ),
            sections=tuple(
                SectionSpec(
                    code=s,
                    name=f"{s} {subject_names.get(s, s)}",
                    subject_code=s,
                    topic_codes=tuple(sorted(groups[s])),
                    draw="one_per_topic",
                    question_count=len(groups[s]),
                )
                for s in ordered
            ),
        ),
        None,
    )
    return (
        f"{code}: {summary.created} new, {summary.updated} updated, {summary.unchanged} unchanged; "
        f"blueprint EXAM draws {total} questions (one per group)"
    )


def _korean_drafts(data: dict[str, Any]) -> list[QuestionDraft]:
    drafts = []
    for subject in data["subjects"]:
        topic_names = {t["code"]: t["name"] for t in subject["topics"]}
        for q in subject["questions"]:
            drafts.append(
                QuestionDraft(
                    content=QuestionContent(
                        type=QuestionType.SINGLE_CHOICE,
                        stem=q["stem"].strip(),
                        choices=tuple(
                            Choice(
                                id="ABCD"[i],
                                text=str(text),
                                weight=1.0 if i + 1 == q["answer"] else 0.0,
                            )
                            for i, text in enumerate(q["choices"])
                        ),
                        explanation=q["explanation"].strip(),
                    ),
                    external_id=q["code"],
                    subject=subject["code"],
                    subject_name=subject["name"],
                    topic=q["topic"],
                    topic_name=topic_names[q["topic"]],
                    tags=tuple(q.get("tags") or ()),
                    law_refs=tuple(LawReference(**r) for r in q.get("law_refs") or ()),
                    source="cert-platform 창작 문항",
                    location=f"id {q['code']}",
                )
            )
    return drafts


async def _load_korean(uow: UnitOfWork, storage: LocalStorage) -> str:
    data = yaml.safe_load((DATA / "kr_info_engineer.yaml").read_text(encoding="utf-8"))
    cert = data["certification"]
    drafts = _korean_drafts(data)
    await content.ensure_certification(uow, cert["code"], cert["name"], cert["description"])
    summary = await content.import_drafts(
        uow,
        storage,
        cert["code"],
        drafts,
        status=QuestionStatus.PUBLISHED,
        source_name="kr_info_engineer.yaml",
    )
    rule = PassRule(mode=PassMode.SECTION_AVERAGE, threshold=60, section_floor=40)
    subjects = data["subjects"]
    await content.save_blueprint(
        uow,
        cert["code"],
        BlueprintSpec(
            code="MOCK",
            name="정보처리기사 필기 모의고사",
            time_limit_minutes=30 * len(subjects),
            shuffle_questions=False,
            shuffle_choices=True,
            # Q-Net's CBT offers its on-screen calculator in 정보처리기사 필기 as well.
            calculator=True,
            pass_rule=rule,
            sections=tuple(
                SectionSpec(
                    code=s["code"],
                    name=s["name"],
                    subject_code=s["code"],
                    question_count=20,
                    points_per_question=5,
                )
                for s in subjects
            ),
        ),
        None,
    )
    found = await content.find_questions(uow, certification_code=cert["code"], limit=1000)
    by_external = {q.external_id: q.id for q in found}
    await content.save_past_paper(
        uow,
        cert["code"],
        PastPaperSpec(
            code="MOCK-01",
            name="모의 1회 (고정 문항)",
            source="cert-platform 창작 문항",
            time_limit_minutes=150,
            pass_rule=rule,
            items=tuple(
                PaperItemSpec(
                    question_id=by_external[q["code"]],
                    section_code=s["code"],
                    section_name=s["name"],
                    points=5,
                )
                for s in subjects
                for q in s["questions"][:20]
            ),
        ),
        None,
    )
    return (
        f"{cert['code']}: {summary.created} new, {summary.updated} updated, "
        f"{summary.unchanged} unchanged; blueprint MOCK and past paper MOCK-01 (100 questions)"
    )


async def _load_users(uow: UnitOfWork, extra: int) -> str:
    created = 0
    accounts = list(DEMO_ACCOUNTS) + [
        (f"learner{n:03d}@example.com", "learner", f"Learner {n:03d}") for n in range(1, extra + 1)
    ]
    for email, role, name in accounts:
        if await identity.find_user(uow, email) is None:
            await identity.create_user(uow, email, DEMO_PASSWORD, role=role, display_name=name)
            created += 1
    return f"accounts: {created} created, {len(accounts) - created} already there"


def print_accounts() -> None:
    print("\nDemo accounts (password for all: " + DEMO_PASSWORD + "):")  # noqa: T201
    for email, role, name in DEMO_ACCOUNTS:
        print(f"  {role:8} {email:24} {name}")  # noqa: T201
