-- Anthropic's configured rate limits (the Admin API's Rate Limits API), cached so the budgets
-- view and the throughput check show them offline: one row per limiter value of one rate-limit
-- group, for the organisation (scope '') or one workspace (scope = its id; read with the values
-- it inherits, each marked by its source). A refresh replaces one scope's rows at a time.
CREATE TABLE rate_limits (
    scope TEXT NOT NULL,                      -- '' for the organisation, else the workspace id
    rate_limit_id TEXT NOT NULL,              -- the organisation entry's id
    limiter TEXT NOT NULL,                    -- requests_per_minute, input_tokens_per_minute, …
    group_type TEXT NOT NULL,                 -- model_group, batch, files, skills, token_count, web_search
    group_name TEXT,                          -- display only
    models TEXT NOT NULL DEFAULT '[]',        -- JSON array of model ids and aliases
    value INTEGER NOT NULL CHECK (value >= 0),
    org_limit INTEGER,                        -- a workspace value's organisation limit
    source TEXT NOT NULL CHECK (source IN ('organization', 'workspace')),
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (scope, rate_limit_id, limiter)
) WITHOUT ROWID;
