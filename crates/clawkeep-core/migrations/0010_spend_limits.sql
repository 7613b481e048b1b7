-- Anthropic's spend limits (the Admin API's Spend Limits API, early access), cached so the
-- budgets view shows them offline: one row per configured limit as the list last gave it.
-- A refresh replaces every row; an organisation outside the early access has none.
CREATE TABLE spend_limits (
    id TEXT PRIMARY KEY,                      -- spl_…
    scope_type TEXT NOT NULL,                 -- organization, workspace, usage_tier, user, … (as sent)
    scope_id TEXT,                            -- the workspace id, user id, …; NULL for the organisation
    amount_minor INTEGER CHECK (amount_minor IS NULL OR amount_minor >= 0),  -- cents for USD; NULL: no cap
    currency TEXT NOT NULL,
    period TEXT NOT NULL,                     -- daily, weekly, monthly (as sent)
    is_enabled INTEGER NOT NULL CHECK (is_enabled IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    fetched_at TEXT NOT NULL
) WITHOUT ROWID;

-- Whether the last read of the list answered: 'available', or 'not_available' (404/403: the
-- organisation is not in the early access) with the API's words; one row, absent until read.
CREATE TABLE spend_limit_reads (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    availability TEXT NOT NULL CHECK (availability IN ('available', 'not_available')),
    detail TEXT,
    checked_at TEXT NOT NULL
);
