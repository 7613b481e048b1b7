//! The cost trail (issue 13): what each instance, owner, workspace and model spends, from the
//! Admin API's usage report (tokens by key and model) priced with a price table kept as data,
//! reconciled against the cost report per workspace and day, budgets with a month forecast,
//! keys that spend without an owner, and Anthropic's configured rate limits and spend limits beside
//! the budgets.
//!
//! Everything here is pure (no I/O, no clock): the facade (`api/costs.rs`) reads the cache and
//! the inventory, and the sync's HTTP lives in [`wire`]'s client calls. Money is integer
//! picodollars ([`Pico`], 1e-12 USD) so sums are exact; a model the price table does not know is
//! *unpriced*, carried beside the priced amount and never counted as $0.

pub mod aggregate;
pub mod budget;
pub mod limits;
pub mod months;
pub mod prices;
pub mod reconcile;
pub mod spend_limits;
pub mod sync;
pub mod types;
pub mod unowned;
pub mod wire;

pub use aggregate::{aggregate, CostGroupBy, CostPeriod, CostReport, CostReportRow, KeyOwner, OwnerMap, UNOWNED};
pub use budget::{evaluate_budgets, normalise_thresholds, Budget, BudgetScope, BudgetState, BudgetStatus};
pub use limits::{LimitSource, RateLimitEntry, RateLimits};
pub use prices::{PriceTable, PRICES_OVERRIDE_FILE};
pub use reconcile::{reconcile, ReconcileOptions, ReconcileRow, ReconcileStatus, Reconciliation};
pub use spend_limits::{SpendJudgement, SpendLimit, SpendLimitStatus, SpendLimits, SpendLimitsAvailability};
pub use sync::{sync_start, ReportSync, SyncProgress, SyncReport, DEFAULT_FIRST_SYNC_DAYS, DEFAULT_PAGE_DAYS, REREAD_DAYS};
pub use types::{usd, ApiKeyRecord, CostLine, Pico, Tokens, UsageRow, PICO_PER_USD};
pub use unowned::{owner_map, unowned_keys, InventoryKey, UnownedKey};
