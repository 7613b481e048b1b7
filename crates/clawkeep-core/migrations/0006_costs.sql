-- Cost trail (issue 13): the Admin API's usage and cost reports cached per UTC day, so every
-- cost view works offline; where each sync got to (resumable, incremental); the API keys the
-- Admin API lists (hint, workspace, expiry: never a secret); monthly budgets.

-- One usage report result: a day, a key (NULL for Workbench), a workspace (NULL for the
-- Default Workspace), a model, a service tier and a context window. Dimensions the API left
-- null are stored as '' so the primary key holds.
CREATE TABLE usage_buckets (
    day TEXT NOT NULL,                        -- YYYY-MM-DD (UTC)
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
    PRIMARY KEY (day, api_key_id, workspace_id, model, service_tier, context_window)
) WITHOUT ROWID;

-- One cost report result (grouped by workspace and description): amount in units of 1e-12 USD.
CREATE TABLE cost_buckets (
    day TEXT NOT NULL,
    workspace_id TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    cost_type TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    service_tier TEXT NOT NULL DEFAULT '',
    token_type TEXT NOT NULL DEFAULT '',
    context_window TEXT NOT NULL DEFAULT '',
    amount_pico INTEGER NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    PRIMARY KEY (day, workspace_id, description, cost_type, model, service_tier, token_type, context_window)
) WITHOUT ROWID;

-- Per report ('usage', 'cost'): the first day not yet read for sure (days before it were
-- committed page by page), and when a sync last finished.
CREATE TABLE cost_sync_state (
    report TEXT PRIMARY KEY CHECK (report IN ('usage', 'cost')),
    synced_until TEXT NOT NULL,
    oldest_day TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    completed_at TEXT
);

-- The organisation's API keys as the Admin API lists them (no secrets).
CREATE TABLE cost_api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    partial_key_hint TEXT,
    workspace_id TEXT,
    status TEXT NOT NULL DEFAULT '',
    created_at TEXT,
    expires_at TEXT,
    seen_at TEXT NOT NULL
);

-- Monthly budgets per instance or per owner (by name: budgets survive a re-created instance).
CREATE TABLE budgets (
    scope TEXT NOT NULL CHECK (scope IN ('instance', 'owner')),
    name TEXT NOT NULL,
    monthly_pico INTEGER NOT NULL CHECK (monthly_pico > 0),
    warn_at TEXT NOT NULL DEFAULT '[80,100]',  -- JSON array of percents
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (scope, name)
);
