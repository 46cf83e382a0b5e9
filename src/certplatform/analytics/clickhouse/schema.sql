-- The analytics store on ClickHouse (ADR 0031). The same tables and columns as the
-- relational store (ADR 0023), so the read queries in analytics/queries.py run unchanged.
--
-- Idempotency: every table is a ReplacingMergeTree whose sorting key holds the source's
-- key (answer id, attempt id, run id, rollup key), and every read runs with the setting
-- final = 1, so a replayed event's second row is never counted. Deduplicating keys never
-- span partitions (the partition is a function of the key), which lets the adapter also
-- set do_not_merge_across_partitions_select_final = 1.
--
-- Rollups are absolute recounts, not increments: after facts are written the adapter
-- recounts the rollup rows they touch from the deduplicated facts and inserts them. The
-- version column of a rollup is its count, so of two recounts the one that saw more facts
-- wins, whatever order they land in.
--
-- Retention: raw answer facts live 24 months after their study day (TTL); the rollups are
-- kept. Facts feed "seen", P(pass)'s own answers and the item report, so those cover the
-- last 24 months; daily counts, subjects, trends and item counts keep all history.

CREATE TABLE IF NOT EXISTS analytics_answers
(
    answer_id String,
    user_id String,
    certification LowCardinality(String),
    question_id String,
    version_id String,
    subject LowCardinality(String),
    context LowCardinality(String),
    correct Bool,
    fraction Float64,
    elapsed_ms Int64,
    answered_at DateTime64(6, 'UTC'),
    day Date,  -- the study day in Asia/Seoul (ADR 0023)
    choice_ids Array(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (user_id, certification, answer_id)
TTL day + INTERVAL 24 MONTH DELETE;

CREATE TABLE IF NOT EXISTS analytics_learner_days
(
    user_id String,
    certification LowCardinality(String),
    day Date,
    subject LowCardinality(String),
    answered UInt64,
    correct UInt64,
    elapsed_ms Int64
)
ENGINE = ReplacingMergeTree(answered)
PARTITION BY toYYYYMM(day)
ORDER BY (user_id, certification, day, subject);

CREATE TABLE IF NOT EXISTS analytics_items
(
    question_id String,
    certification LowCardinality(String),
    attempts UInt64,
    correct UInt64,
    elapsed_ms Int64
)
ENGINE = ReplacingMergeTree(attempts)
ORDER BY question_id;

CREATE TABLE IF NOT EXISTS analytics_item_choices
(
    question_id String,
    choice_id String,
    picks UInt64
)
ENGINE = ReplacingMergeTree(picks)
ORDER BY (question_id, choice_id);

-- revision: 0 started, 1 graded, 1 + the regrade's epoch milliseconds for a regrade, so
-- a graded event never replaces a later regrade, whatever order they arrive in.
CREATE TABLE IF NOT EXISTS analytics_attempts
(
    attempt_id String,
    user_id String,
    certification LowCardinality(String),
    form_kind LowCardinality(String),
    form_id String,
    form_name String,
    started_at DateTime64(6, 'UTC'),
    submitted_at Nullable(DateTime64(6, 'UTC')),
    percent Nullable(Float64),
    passed Nullable(Bool),
    sections Nullable(String),  -- JSON text
    regraded_at Nullable(DateTime64(6, 'UTC')),
    previous_percent Nullable(Float64),
    previous_passed Nullable(Bool),
    revision UInt64
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY (user_id, attempt_id);

CREATE TABLE IF NOT EXISTS analytics_practice_runs
(
    session_id String,
    user_id String,
    certification LowCardinality(String),
    mode LowCardinality(String),
    subject Nullable(String),
    size UInt32,
    started_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (user_id, session_id);
