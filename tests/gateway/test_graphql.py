"""The GraphQL API end to end over HTTP, on SQLite and PostgreSQL: the exam lifecycle, the
key-leak walk while an attempt is open, permissions, CSRF, idempotent saves, error shape."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from certplatform.content import service as content
from certplatform.gateway.graphql import graphql_router
from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.settings import Settings
from certplatform.kernel.storage import LocalStorage
from certplatform.learning import service as learning
from certplatform.learning.models import Attempt, PracticeSession, ReviewCard, WrongNote
from certplatform.learning.scheduling import ReviewScheduler, rating_for
from tests.support.accounts import PASSWORD, bearer, make_user
from tests.support.exams import load

FCC = "US-FCC-TECHNICIAN"
KR = "KR-INFO-ENGINEER"
Json = dict[str, Any]

ATTEMPT = """
fragment AttemptFields on Attempt {
  id status formName remainingSeconds deadlineAt serverTime questionCount unanswered
  sections { code name remainingSeconds }
  items {
    position sectionCode points flagged
    question { questionId type stem choices { label text } matchLeft matchRight }
    answer { choices value text number }
  }
}
"""
RESULT = """
fragment ResultFields on AttemptResult {
  attemptId passed correctCount questionCount unansweredCount percent reasons reasonsEn
  passRule { mode threshold sectionFloor }
  sections { code percent correctCount belowFloor }
}
"""
START = (
    ATTEMPT
    + """
mutation Start($bp: ID!) { startAttempt(blueprintId: $bp) { ...AttemptFields } }
"""
)
SAVE = """
mutation Save($id: ID!, $pos: Int!, $op: String!, $seq: Long!, $label: String!, $ms: Int! = 0) {
  saveAnswer(attemptId: $id, position: $pos, opId: $op, opSeq: $seq,
             answer: {choices: [$label]}, elapsedMs: $ms) {
    position opId applied savedAt remainingSeconds unansweredCount
  }
}
"""


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: Json | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    reply = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    assert reply.status_code == 200, reply.text
    return reply


async def data(
    client: httpx.AsyncClient,
    query: str,
    variables: Json | None = None,
    headers: dict[str, str] | None = None,
) -> Json:
    body: Json = (await post(client, query, variables, headers)).json()
    assert "errors" not in body, body["errors"]
    result: Json = body["data"]
    return result


async def error(
    client: httpx.AsyncClient,
    query: str,
    variables: Json | None = None,
    headers: dict[str, str] | None = None,
) -> Json:
    body: Json = (await post(client, query, variables, headers)).json()
    assert len(body.get("errors", [])) == 1, body
    first: Json = body["errors"][0]
    return first


async def blueprint(client: httpx.AsyncClient, code: str) -> Json:
    """A certification's first blueprint, found through the catalogue (anonymous)."""
    found = await data(
        client, "{ certifications { code blueprints { id name timeLimitMinutes questionCount } } }"
    )
    [cert] = [c for c in found["certifications"] if c["code"] == code]
    first: Json = cert["blueprints"][0]
    return first


async def start(client: httpx.AsyncClient, headers: dict[str, str], code: str) -> Json:
    bp = await blueprint(client, code)
    view: Json = (await data(client, START, {"bp": bp["id"]}, headers))["startAttempt"]
    return view


async def right_labels(db: Database, view: Json) -> dict[int, list[str]]:
    """The labels of each item's right choices, looked up on the server (as keys_of does)."""
    async with db.transaction() as uow:
        versions = await content.current_versions(
            uow, [i["question"]["questionId"] for i in view["items"]]
        )
    labels = {}
    for item in view["items"]:
        version = versions[item["question"]["questionId"]]
        right = {c.text for c in version.content.choices if c.weight > 0}
        labels[item["position"]] = [
            c["label"] for c in item["question"]["choices"] if c["text"] in right
        ]
    return labels


async def save(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    attempt: str,
    pos: int,
    label: str,
    **op: Any,
) -> Json:
    variables = {"id": attempt, "pos": pos, "op": f"op-{pos}", "seq": 1, "label": label, **op}
    ack: Json = (await data(client, SAVE, variables, headers))["saveAnswer"]
    return ack


async def another_learner(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    email = await make_user(db, "learner", "another-learner@example.com")
    reply = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"authorization": f"Bearer {reply.json()['access_token']}"}


# ---- 1. the attempt lifecycle ------------------------------------------------------------------


async def test_fcc_exam_through_graphql_only(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    learner = await bearer(client, db)
    me = (await data(client, "{ me { id email role displayName } }", headers=learner))["me"]
    assert me["role"] == "learner"
    assert me["email"].startswith("learner-")

    bp = await blueprint(client, FCC)
    assert bp["questionCount"] == 35
    view = await start(client, learner, FCC)
    assert (view["status"], view["questionCount"], len(view["items"])) == ("open", 35, 35)
    assert 0 < view["remainingSeconds"] <= bp["timeLimitMinutes"] * 60
    assert len(view["unanswered"]) == 35

    keys = await right_labels(db, view)
    for item in view["items"][:26]:
        ack = await save(client, learner, view["id"], item["position"], keys[item["position"]][0])
        assert ack["applied"] is True
    # The saves were committed: a fresh request sees every answer.
    again = (
        await data(
            client,
            ATTEMPT + "query A($id: ID!) { attempt(id: $id) { ...AttemptFields } }",
            {"id": view["id"]},
            learner,
        )
    )["attempt"]
    assert len(again["unanswered"]) == 9
    assert [i["answer"]["choices"] for i in again["items"][:26]] == [
        keys[i["position"]][:1] for i in view["items"][:26]
    ]

    submitted = await data(
        client,
        RESULT + "mutation S($id: ID!) { submitAttempt(attemptId: $id) { ...ResultFields } }",
        {"id": view["id"]},
        learner,
    )
    result = submitted["submitAttempt"]
    assert (result["passed"], result["correctCount"], result["unansweredCount"]) == (True, 26, 9)
    assert result["passRule"]["mode"] == "count"
    read = await data(
        client,
        RESULT + "query R($id: ID!) { attemptResult(id: $id) { ...ResultFields } }",
        {"id": view["id"]},
        learner,
    )
    assert read["attemptResult"] == result

    review = (
        await data(
            client,
            """query V($id: ID!) { attemptReview(id: $id) {
                 result { passed correctCount }
                 items { position correct keyDisplay key explanation answer { choices } }
                 rightToWrongTotal } }""",
            {"id": view["id"]},
            learner,
        )
    )["attemptReview"]
    assert review["result"] == {"passed": True, "correctCount": 26}
    assert len(review["items"]) == 35
    for n, item in enumerate(review["items"]):
        assert item["keyDisplay"] == keys[item["position"]]
        assert item["key"]  # the key itself, in content terms
        assert item["correct"] is (n < 26)

    mine = await data(client, "{ myAttempts { id status passed } }", headers=learner)
    assert mine["myAttempts"] == [{"id": view["id"], "status": "submitted", "passed": True}]


# ---- 2. the key-leak walk ---------------------------------------------------------------------

INTROSPECTION = """
{ __schema { types { name kind fields { name args { name } type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
"""


def _named(type_: Json) -> Json:
    while type_.get("ofType"):
        type_ = type_["ofType"]
    return type_


def everything(types: dict[str, Json], name: str, depth: int = 0) -> str:
    """Every field of an object type, recursively: a field added later is walked too."""
    assert depth < 6, name
    parts = []
    for field in types[name]["fields"]:
        inner = _named(field["type"])
        if inner["kind"] == "OBJECT":
            parts.append(f"{field['name']} {{ {everything(types, inner['name'], depth + 1)} }}")
        else:
            parts.append(field["name"])
    return " ".join(parts)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def leaks(text: str, explanations: list[str]) -> list[str]:
    """Key material in a reply. The text is decoded first: JSON escapes non-ASCII, so a
    Korean explanation would never match the raw bytes."""
    readable = json.dumps(json.loads(text), ensure_ascii=False)
    found = [
        w
        for w in ("weight", "explanation", "keyDisplay", "acceptedAnswers", '"key"')
        if w in readable
    ]
    values = _strings(json.loads(text))
    found += [e[:30] for e in explanations if any(e in v for v in values)]
    # Correctness is a boolean; a practice run's `correct` is a count of my answers.
    if re.search(r'"correct"\s*:\s*(true|false)', readable):
        found.append('"correct"')
    return found


LOCKED = "This question is part of your exam in progress; practise it after you submit."
ALL_LOCKED = "Every question here is part of your exam in progress; practise them after you submit."
MEMO = "정답은 ③ (memo with the key)"


async def test_no_key_material_leaves_while_the_attempt_is_open(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, KR)
    learner = await bearer(client, db)
    schema = (await data(client, INTROSPECTION))["__schema"]
    types = {t["name"]: t for t in schema["types"] if t["kind"] == "OBJECT"}

    def everything_of(head: str, call: str, type_name: str) -> str:
        return f"{head} {{ {call} {{ {everything(types, type_name)} }} }}"

    # A practice run started before the exam holds questions the exam will draw.
    early = await data(
        client,
        f'mutation {{ startPractice(certification: "{KR}", limit: 500) {{ id }} }}',
        None,
        learner,
    )
    bp = await blueprint(client, KR)
    started = await post(
        client,
        everything_of("mutation S($bp: ID!)", "startAttempt(blueprintId: $bp)", "Attempt"),
        {"bp": bp["id"]},
        learner,
    )
    view = started.json()["data"]["startAttempt"]
    attempt, first = view["id"], view["items"][0]
    exam_ids = {i["question"]["questionId"] for i in view["items"]}
    async with db.transaction() as uow:
        versions = await content.current_versions(uow, list(exam_ids))
        run = await uow.session.get(PracticeSession, early["startPractice"]["id"])
        assert run is not None
        locked_at = next(n for n, q in enumerate(run.question_ids) if q in exam_ids)
        pool = len(run.question_ids)
        # Every way back to the exam's questions: notes (the memo holds the key), due cards.
        state, _ = ReviewScheduler(0.9, None).review(None, rating_for(False, 1, 60_000), utcnow())
        for qid in exam_ids:
            uow.session.add(
                WrongNote(
                    user_id=run.user_id,
                    question_id=qid,
                    certification_code=KR,
                    memo=MEMO,
                    wrong_count=1,
                    streak=0,
                    last_wrong_at=utcnow(),
                )
            )
            uow.session.add(
                ReviewCard(
                    user_id=run.user_id,
                    question_id=qid,
                    certification_code=KR,
                    state=dict(state),
                    due_at=utcnow() - timedelta(days=1),
                    reviews=1,
                )
            )
    for qid in exam_ids:
        assert (await client.put(f"/api/v1/bookmarks/{qid}", headers=learner)).status_code == 204
    explanations = [v.content.explanation for v in versions.values() if v.content.explanation]
    assert len(explanations) > 50  # the walk has something to look for
    explanations.append(MEMO)

    replies = {"startAttempt": started.text}
    variables = {
        "id": attempt,
        "pos": first["position"],
        "cert": KR,
        "sid": early["startPractice"]["id"],
        "lpos": locked_at,
    }
    by_id, by_cert = "query Q($id: ID!)", "query Q($cert: String)"
    practice = {
        f"startPractice {mode} {order}": everything_of(
            "mutation P($cert: String!)",
            f"startPractice(certification: $cert, mode: {mode}, order: {order}, limit: 500)",
            "PracticeSession",
        )
        for mode in ("ALL", "NEW", "WRONG", "BOOKMARKED", "DUE")
        for order in ("SEQUENTIAL", "RANDOM")
    }
    walk = {
        **practice,
        "practiceQuestion": everything_of(
            "query Q($sid: ID!, $lpos: Int!)",
            "practiceQuestion(sessionId: $sid, position: $lpos)",
            "PracticeQuestion",
        ),
        "answerPractice": everything_of(
            "mutation M($sid: ID!, $lpos: Int!)",
            'answerPractice(sessionId: $sid, position: $lpos, answer: {choices: ["1"]})',
            "Feedback",
        ),
        "attempt": everything_of(by_id, "attempt(id: $id)", "Attempt"),
        "saveAnswer": everything_of(
            "mutation M($id: ID!, $pos: Int!)",
            'saveAnswer(attemptId: $id, position: $pos, opId: "w1", opSeq: 1, '
            'answer: {choices: ["1"]}, flagged: true, elapsedMs: 1000)',
            "SaveAck",
        ),
        "reportIntegrityEvent": """mutation M($id: ID!) {
            reportIntegrityEvent(attemptId: $id, kind: FOCUS_LOST, detail: {tab: 2}) }""",
        "attemptResult": everything_of(by_id, "attemptResult(id: $id)", "AttemptResult"),
        "attemptReview": everything_of(by_id, "attemptReview(id: $id)", "AttemptReview"),
        "myAttempts": everything_of("query", "myAttempts", "AttemptSummary"),
        "wrongNotes": everything_of(by_cert, "wrongNotes(certification: $cert)", "WrongNote"),
        "dueReviews": everything_of(by_cert, "dueReviews(certification: $cert)", "DueCard"),
        "certifications": everything_of("query", "certifications", "Certification"),
    }
    for name, query in walk.items():
        used = {k: v for k, v in variables.items() if f"${k}" in query}
        replies[name] = (await post(client, query, used, learner)).text

    for name in ("attemptResult", "attemptReview"):
        [problem] = json.loads(replies[name])["errors"]
        assert problem["message"] == "The attempt is still open; submit it first."
        assert problem["extensions"] == {"code": "conflict", "status": 409}
    for name in ("practiceQuestion", "answerPractice"):
        [problem] = json.loads(replies[name])["errors"]
        assert problem["message"] == LOCKED, name
        assert problem["extensions"] == {"code": "conflict", "status": 409}
    for name in practice:
        reply = json.loads(replies[name])
        if any(mode in name for mode in ("WRONG", "BOOKMARKED", "DUE")):  # exam questions only
            [problem] = reply["errors"]
            assert problem["message"] == ALL_LOCKED, name
        else:
            assert reply["data"][name.split()[0]]["total"] == pool - len(exam_ids), name
    notes = json.loads(replies["wrongNotes"])["data"]["wrongNotes"]
    assert notes == []  # they wait for the submit
    saved = json.loads(replies["saveAnswer"])["data"]["saveAnswer"]
    assert saved["applied"] is True
    assert json.loads(replies["reportIntegrityEvent"])["data"] == {"reportIntegrityEvent": True}
    # Read the attempt again now that it holds an answer and a flag.
    replies["attempt again"] = (await post(client, walk["attempt"], {"id": attempt}, learner)).text
    assert json.loads(replies["attempt again"])["data"]["attempt"]["items"][0]["flagged"] is True
    for name, text in replies.items():
        assert leaks(text, explanations) == [], name

    # The detector can see a leak: after submission the review carries the keys.
    await data(
        client,
        "mutation M($id: ID!) { submitAttempt(attemptId: $id) { passed } }",
        {"id": attempt},
        learner,
    )
    review = await post(client, walk["attemptReview"], {"id": attempt}, learner)
    assert "keyDisplay" in leaks(review.text, explanations)
    assert any(e[:30] in leaks(review.text, explanations) for e in explanations)


# ---- 3. who may do what; idempotent saves; the error shape ------------------------------------

ATTEMPT_ID = "query Q($id: ID!) { attempt(id: $id) { id } }"


async def test_anonymous_and_other_learners_are_refused(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    learner = await bearer(client, db)
    view = await start(client, learner, FCC)
    attempt = view["id"]

    for query, variables in [
        (ATTEMPT_ID, {"id": attempt}),
        ("{ me { id } }", {}),
        ("{ myAttempts { id } }", {}),
        ("{ wrongNotes { questionId } }", {}),
        ("{ dueReviews { questionId } }", {}),
        ('mutation { startPractice(certification: "US-FCC-TECHNICIAN") { id } }', {}),
        ("mutation M($id: ID!) { submitAttempt(attemptId: $id) { passed } }", {"id": attempt}),
    ]:
        problem = await error(client, query, variables)
        assert problem["message"] == "Sign in to do this."
        assert problem["extensions"] == {"code": "not_authenticated", "status": 401}
    assert (await blueprint(client, FCC))["questionCount"] == 35  # the catalogue is public

    other = await another_learner(client, db)
    for query, variables in [
        (ATTEMPT_ID, {"id": attempt}),
        ("query Q($id: ID!) { attemptResult(id: $id) { passed } }", {"id": attempt}),
        ("mutation M($id: ID!) { submitAttempt(attemptId: $id) { passed } }", {"id": attempt}),
        (
            "mutation M($id: ID!) { reportIntegrityEvent(attemptId: $id, kind: PASTE) }",
            {"id": attempt},
        ),
        (SAVE, {"id": attempt, "pos": 1, "op": "x", "seq": 1, "label": "1"}),
    ]:
        problem = await error(client, query, variables, other)
        assert problem["message"] == "No such attempt."
        assert problem["extensions"] == {"code": "not_found", "status": 404}
        assert "locations" in problem
        assert "Traceback" not in json.dumps(problem)
    # Nothing the refused callers sent reached the attempt.
    still = await data(
        client,
        ATTEMPT + "query Q($id: ID!) { attempt(id: $id) { ...AttemptFields } }",
        {"id": attempt},
        learner,
    )
    assert still["attempt"]["status"] == "open"
    assert len(still["attempt"]["unanswered"]) == 35


async def test_a_repeated_save_applies_once(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    learner = await bearer(client, db)
    view = await start(client, learner, FCC)
    attempt = view["id"]
    # Started ten minutes ago, so that the time sent with a save is not capped.
    async with db.transaction() as uow:
        await uow.session.execute(
            update(Attempt)
            .where(Attempt.id == attempt)
            .values(started_at=utcnow() - timedelta(minutes=10))
        )

    first = await save(client, learner, attempt, 1, "2", op="same", seq=3, ms=4000)
    retried = await save(client, learner, attempt, 1, "2", op="same", seq=3, ms=4000)
    assert first["applied"] is True
    # The stored acknowledgement comes back (same savedAt); only the clock has moved.
    assert {**retried, "remainingSeconds": 0} == {**first, "remainingSeconds": 0}
    stale = await save(client, learner, attempt, 1, "3", op="older", seq=2, ms=1000)
    assert stale["applied"] is False

    now = await data(
        client,
        "query Q($id: ID!) { attempt(id: $id) { items { answer { choices } } } }",
        {"id": attempt},
        learner,
    )
    assert now["attempt"]["items"][0]["answer"] == {"choices": ["2"]}
    await data(
        client,
        "mutation M($id: ID!) { submitAttempt(attemptId: $id) { passed } }",
        {"id": attempt},
        learner,
    )
    review = await data(
        client,
        "query Q($id: ID!) { attemptReview(id: $id) { items { position timeMs } } }",
        {"id": attempt},
        learner,
    )
    # 4000 ms once (not twice) plus the stale op's 1000 ms.
    assert review["attemptReview"]["items"][0] == {"position": 1, "timeMs": 5000}


async def test_each_mutation_commits_on_its_own(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    learner = await bearer(client, db)
    view = await start(client, learner, FCC)
    body = (
        await post(
            client,
            """mutation M($id: ID!) {
                 ok: saveAnswer(attemptId: $id, position: 1, opId: "a", opSeq: 1,
                                answer: {choices: ["1"]}) { applied }
                 bad: saveAnswer(attemptId: $id, position: 999, opId: "b", opSeq: 1,
                                 answer: {choices: ["1"]}) { applied } }""",
            {"id": view["id"]},
            learner,
        )
    ).json()
    assert body["data"] == {"ok": {"applied": True}, "bad": None}
    [problem] = body["errors"]
    assert problem["path"] == ["bad"]
    assert problem["extensions"] == {"code": "not_found", "status": 404}
    # The first mutation's write stands: it was committed before the second ran.
    now = await data(
        client, "query Q($id: ID!) { attempt(id: $id) { unanswered } }", {"id": view["id"]}, learner
    )
    assert 1 not in now["attempt"]["unanswered"]


async def test_bad_input_and_unexpected_failures_have_a_clear_shape(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(db, storage, FCC)
    learner = await bearer(client, db)
    view = await start(client, learner, FCC)

    nothing = await error(
        client,
        'mutation M($id: ID!) { saveAnswer(attemptId: $id, position: 1, opId: "a", opSeq: 1) '
        "{ applied } }",
        {"id": view["id"]},
        learner,
    )
    assert nothing["message"] == "Send an answer, a flag, or both."
    assert nothing["extensions"] == {"code": "invalid", "status": 422}
    bad_seq = await error(
        client, SAVE, {"id": view["id"], "pos": 1, "op": "a", "seq": 0, "label": "1"}, learner
    )
    assert bad_seq["extensions"]["code"] == "invalid"
    assert bad_seq["extensions"]["status"] == 422
    assert "op_seq" in bad_seq["message"]
    bad_label = await error(
        client, SAVE, {"id": view["id"], "pos": 1, "op": "a", "seq": 1, "label": "9"}, learner
    )
    assert bad_label["message"].startswith("The answer does not fit the question")
    assert bad_label["extensions"]["status"] == 422

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("connection to db-password-hunter2 failed")

    monkeypatch.setattr(learning, "my_attempts", broken)
    reply = await post(client, "{ myAttempts { id } }", headers=learner)
    [problem] = reply.json()["errors"]
    assert problem["message"] == "Unexpected error."
    assert problem["extensions"] == {"code": "internal", "status": 500}
    assert "hunter2" not in reply.text
    assert "Traceback" not in reply.text


# ---- cookies and CSRF; GraphiQL ----------------------------------------------------------------


async def test_cookie_mutations_need_the_csrf_header(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, FCC)
    email = await make_user(db, "learner", "cookie@example.com")
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    csrf = login.json()["csrf_token"]
    bp = await blueprint(client, FCC)

    # Reading with the cookie alone is fine.
    assert (await data(client, "{ me { email } }"))["me"]["email"] == email
    refused = await error(client, START, {"bp": bp["id"]})
    assert refused["message"] == "Missing or wrong CSRF token; reload the page and try again."
    assert refused["extensions"] == {"code": "forbidden", "status": 403}
    wrong = await error(client, START, {"bp": bp["id"]}, {"x-csrf-token": "not-it"})
    assert wrong["extensions"]["code"] == "forbidden"
    assert (await data(client, "{ myAttempts { id } }"))["myAttempts"] == []

    started = await data(client, START, {"bp": bp["id"]}, {"x-csrf-token": csrf})
    assert started["startAttempt"]["status"] == "open"


async def test_practice_through_graphql(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, KR)
    learner = await bearer(client, db)
    session = (
        await data(
            client,
            'mutation { startPractice(certification: "KR-INFO-ENGINEER", limit: 2) '
            "{ id total answered mode } }",
            headers=learner,
        )
    )["startPractice"]
    assert (session["total"], session["answered"], session["mode"]) == (2, 0, "all")
    question = (
        await data(
            client,
            "query Q($s: ID!) { practiceQuestion(sessionId: $s, position: 0) "
            "{ position total question { questionId choices { label text } } } }",
            {"s": session["id"]},
            learner,
        )
    )["practiceQuestion"]
    view = {"items": [{"position": 0, "question": question["question"]}]}
    [right] = (await right_labels(db, view))[0]
    wrong = next(c["label"] for c in question["question"]["choices"] if c["label"] != right)
    feedback = (
        await data(
            client,
            """mutation A($s: ID!, $label: String!) {
                 answerPractice(sessionId: $s, position: 0, answer: {choices: [$label]},
                                elapsedMs: 5000) {
                   correct fraction key explanation yourAnswer { choices } nextPosition
                   wrongNote nextReviewAt } }""",
            {"s": session["id"], "label": wrong},
            learner,
        )
    )["answerPractice"]
    assert (feedback["correct"], feedback["wrongNote"], feedback["nextPosition"]) == (
        False,
        "added",
        1,
    )
    assert feedback["key"]["display"] == [right]
    assert feedback["explanation"]
    notes = await data(
        client,
        'query { wrongNotes(certification: "KR-INFO-ENGINEER") { questionId wrongCount } }',
        headers=learner,
    )
    assert notes["wrongNotes"] == [
        {"questionId": question["question"]["questionId"], "wrongCount": 1}
    ]
    due = await data(client, "{ dueReviews(limit: 10) { questionId dueAt } }", headers=learner)
    assert isinstance(due["dueReviews"], list)
    too_many = await error(client, "{ dueReviews(limit: 501) { questionId } }", headers=learner)
    assert too_many["extensions"] == {"code": "invalid", "status": 422}


async def test_graphiql_only_outside_production(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    production = Settings(APP_ENV="production", SECRET_KEY="s" * 40, AUDIT_KEY="a" * 40)
    assert graphql_router(production).graphql_ide is None
    assert graphql_router(Settings(APP_ENV="development")).graphql_ide == "graphiql"
