"""The public face of the question bank: actions that write, audit and emit in one place.

Services take the unit of work, flush when they need ids and never commit; they return the
read models of `contracts`, never ORM rows. Other contexts and the edges import this module;
the actions live by aggregate in `catalog`, `questions`, `attachments`, `imports` and `forms`.
"""

from __future__ import annotations

from certplatform.content.attachments import MAX_MEDIA, media_file, store_media
from certplatform.content.catalog import (
    certification_detail,
    ensure_certification,
    list_certifications,
)
from certplatform.content.forms import (
    blueprints,
    coverage,
    draw_blueprint,
    get_blueprint,
    paper_form,
    past_paper_summaries,
    past_paper_summary,
    past_papers,
    save_blueprint,
    save_past_paper,
)
from certplatform.content.imports import ImportRejected, export_drafts, import_drafts
from certplatform.content.questions import (
    TRANSITIONS,
    create_question,
    current_version_ids,
    current_versions,
    edit_question,
    find_questions,
    get_question,
    get_questions,
    parse_draft,
    practice_pool,
    question_version,
    question_versions,
    questions_by_external_id,
    search_text,
    set_status,
    versions_by_id,
)

__all__ = [
    "MAX_MEDIA",
    "TRANSITIONS",
    "ImportRejected",
    "blueprints",
    "certification_detail",
    "coverage",
    "create_question",
    "current_version_ids",
    "current_versions",
    "draw_blueprint",
    "edit_question",
    "ensure_certification",
    "export_drafts",
    "find_questions",
    "get_blueprint",
    "get_question",
    "get_questions",
    "import_drafts",
    "list_certifications",
    "media_file",
    "paper_form",
    "parse_draft",
    "past_paper_summaries",
    "past_paper_summary",
    "past_papers",
    "practice_pool",
    "question_version",
    "question_versions",
    "questions_by_external_id",
    "save_blueprint",
    "save_past_paper",
    "search_text",
    "set_status",
    "store_media",
    "versions_by_id",
]
