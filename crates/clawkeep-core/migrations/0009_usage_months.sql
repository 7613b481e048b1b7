-- The usage cache summed per calendar month, same dimensions as usage_buckets: the month views
-- (cost per instance for a month, budgets) read one row per key and model instead of one per
-- day. A synced page marks its months stale in its own transaction; stale months are summed
-- again from usage_buckets before any month read, so the sums never disagree with the days.
CREATE TABLE usage_months (
    month TEXT NOT NULL,                      -- YYYY-MM (UTC)
    api_key_id TEXT NOT NULL DEFAULT '',
    workspace_id TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL,
    service_tier TEXT NOT NULL DEFAULT '',
    context_window TEXT NOT NULL DEFAULT '',
    uncached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    web_search_requests INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (month, api_key_id, workspace_id, model, service_tier, context_window)
) WITHOUT ROWID;

CREATE TABLE usage_months_stale (
    month TEXT PRIMARY KEY NOT NULL           -- YYYY-MM whose sums must be redone
) WITHOUT ROWID;

-- A cache synced before this migration: every month it holds is summed on first read.
INSERT INTO usage_months_stale (month) SELECT DISTINCT substr(day, 1, 7) FROM usage_buckets;
