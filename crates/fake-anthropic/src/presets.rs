//! Fixture presets (F6) and the fixed ids of the fixture world, exported so tests can assert
//! them. Every preset builds a fresh [`State`] with secrets generated at run time; the
//! secrets come back once, as the preset's fixture keys.

use chrono::{DateTime, Duration, Timelike, Utc};

use crate::inject::ErrorInjection;
use crate::mint::{mint, MintKey, MintedKey};
use crate::state::{Clock, KeyStatus, Knobs, Model, Org, SpendLimit, SpendLimitScope, SpendLimits, State, UsageRow, Workspace};

/// The fixture organisation's id (a UUID).
pub const ORG_ID: &str = "3f1c2a4e-8b7d-4c6a-9e2f-5a1b0c9d8e7f";
/// The fixture organisation's name.
pub const ORG_NAME: &str = "Clawkeep Demo Org";
/// The Default Workspace's id (reported by `anthropic-workspace-id`, `null` in the Admin API).
pub const DEFAULT_WORKSPACE_ID: &str = "wrkspc_01DefaultWorkspace000000";
/// Workspace `prod-a`.
pub const WORKSPACE_PROD_A_ID: &str = "wrkspc_01ProdAWorkspace00000000";
/// Workspace `prod-b`.
pub const WORKSPACE_PROD_B_ID: &str = "wrkspc_01ProdBWorkspace00000000";
/// Name of workspace `prod-a`.
pub const WORKSPACE_PROD_A_NAME: &str = "prod-a";
/// Name of workspace `prod-b`.
pub const WORKSPACE_PROD_B_NAME: &str = "prod-b";
/// The user who created the fixture keys.
pub const OWNER_USER_ID: &str = "user_01DemoOwner0000000000000";
/// Fixture key `admin` (Admin key).
pub const KEY_ADMIN_ID: &str = "apikey_01AdminKey00000000000000";
/// Fixture key `instance-a` (in `prod-a` unless the preset says otherwise).
pub const KEY_INSTANCE_A_ID: &str = "apikey_01InstanceA0000000000000";
/// Fixture key `instance-b` (in `prod-b`).
pub const KEY_INSTANCE_B_ID: &str = "apikey_01InstanceB0000000000000";
/// `stale_after_rotation`: the old, now inactive key of instance-a.
pub const KEY_INSTANCE_A_OLD_ID: &str = "apikey_01InstanceAOld0000000000";
/// `burst`: the three keys that share `prod-a`'s limits.
pub const KEY_BURST_IDS: [&str; 3] = ["apikey_01Burst10000000000000000", "apikey_01Burst20000000000000000", "apikey_01Burst30000000000000000"];

/// `burst`: the workspace limits of prod-a (tighter than tier 1's 50 RPM).
pub const BURST_WORKSPACE_LIMITS: crate::state::Limits = crate::state::Limits { rpm: 20, itpm: 20_000, otpm: 4_000, count_tokens_rpm: 100 };

/// `demo`: the organisation's monthly spend limit (`SpendLimit::id`).
pub const SPEND_LIMIT_ORG_ID: &str = "spl_01OrganizationMonthly000000";
/// `demo`: prod-a's monthly spend limit.
pub const SPEND_LIMIT_PROD_A_ID: &str = "spl_01ProdAMonthly0000000000000";
/// `demo`: the organisation's monthly limit in cents ($500.00).
pub const SPEND_LIMIT_ORG_CENTS: u64 = 50_000;
/// `demo`: prod-a's monthly limit in cents ($20.00: the demo's week of usage comes near it).
pub const SPEND_LIMIT_PROD_A_CENTS: u64 = 2_000;

/// A monthly USD spend limit as the Console sets one (enabled, created `at`).
pub fn monthly_spend_limit(id: &str, scope: SpendLimitScope, cents: u64, at: DateTime<Utc>) -> SpendLimit {
    SpendLimit { id: id.into(), amount: Some(cents.to_string()), currency: "USD".into(), period: "monthly".into(), scope, is_enabled: true, created_at: at, updated_at: at }
}

/// Model ids of the fixture table.
pub const MODEL_OPUS_5_5: &str = "claude-opus-5-5";
/// See [`MODEL_OPUS_5_5`].
pub const MODEL_FABLE_5_1: &str = "claude-fable-5-1";
/// See [`MODEL_OPUS_5_5`].
pub const MODEL_MYTHOS_5: &str = "claude-mythos-5";
/// See [`MODEL_OPUS_5_5`].
pub const MODEL_FABLE_5: &str = "claude-fable-5";
/// OpenClaw's default primary model.
pub const MODEL_SONNET_5: &str = "claude-sonnet-5";
/// `openclaw onboard`'s model.
pub const MODEL_OPUS_5: &str = "claude-opus-5";
/// See [`MODEL_OPUS_5_5`].
pub const MODEL_OPUS_4_8: &str = "claude-opus-4-8";
/// See [`MODEL_OPUS_5_5`].
pub const MODEL_SONNET_4_6: &str = "claude-sonnet-4-6";
/// Full id of Haiku 4.5 (alias `claude-haiku-4-5`, OpenClaw's utility model).
pub const MODEL_HAIKU_4_5: &str = "claude-haiku-4-5-20251001";
/// Alias of [`MODEL_HAIKU_4_5`].
pub const MODEL_HAIKU_4_5_ALIAS: &str = "claude-haiku-4-5";
/// Full id of Sonnet 4.5 (alias `claude-sonnet-4-5`).
pub const MODEL_SONNET_4_5: &str = "claude-sonnet-4-5-20250929";
/// The typo the `bad_model` preset is about.
pub const MODEL_TYPO: &str = "claude-sonnet-4-5-typo";
/// The cheapest model (for `max_tokens: 1` billing probes).
pub const CHEAPEST_MODEL: &str = MODEL_HAIKU_4_5;

/// A fixture world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Tier-2 org, workspaces prod-a/prod-b, keys `instance-a`, `instance-b`, `admin`.
    Healthy,
    /// `healthy` plus 7 days of usage history (for the demo world).
    Demo,
    /// `keychain` is instance-a's key; `host` is its first 100 characters (→ 401).
    TruncatedOnHost,
    /// `old`/`host` is inactive (→ 401); `new`/`keychain` is active.
    StaleAfterRotation,
    /// instance-a's `expires_at` is in the past (→ 401; Admin status `expired`).
    Expired,
    /// instance-a lives in prod-b (200 with `anthropic-workspace-id` = prod-b).
    WrongWorkspace,
    /// instance-a is org-scoped (identity-linked): no workspace header → 400.
    IdentityLinkedNoHeader,
    /// No credit: messages → 400 credit; models → 200; count_tokens per knob.
    NoCredit,
    /// Org disabled: all inference → 400.
    OrgDisabled,
    /// Same as healthy; the client's `/v1/v1/messages` → 404 "Not Found".
    DoubleV1,
    /// Same as healthy; the client's `claude-sonnet-4-5-typo` → 404 "model: …".
    BadModel,
    /// Tier 1 and prod-a limited to [`BURST_WORKSPACE_LIMITS`]; keys `burst-1..3` share prod-a,
    /// so a burst of 50 gets shared 429s.
    Burst,
    /// Every 3rd `/v1/messages` → 529; every 2nd stream breaks with `event: error`.
    Overloaded,
    /// instance-a is an OAuth token (`sk-ant-oat01-`): no beta header → 401.
    OauthTokenAsKey,
    /// instance-a is an Admin key: inference → 401.
    AdminKeyOnInference,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 15] = [
        Preset::Healthy,
        Preset::Demo,
        Preset::TruncatedOnHost,
        Preset::StaleAfterRotation,
        Preset::Expired,
        Preset::WrongWorkspace,
        Preset::IdentityLinkedNoHeader,
        Preset::NoCredit,
        Preset::OrgDisabled,
        Preset::DoubleV1,
        Preset::BadModel,
        Preset::Burst,
        Preset::Overloaded,
        Preset::OauthTokenAsKey,
        Preset::AdminKeyOnInference,
    ];

    /// The preset's id (`healthy`, `truncated_on_host`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Healthy => "healthy",
            Preset::Demo => "demo",
            Preset::TruncatedOnHost => "truncated_on_host",
            Preset::StaleAfterRotation => "stale_after_rotation",
            Preset::Expired => "expired",
            Preset::WrongWorkspace => "wrong_workspace",
            Preset::IdentityLinkedNoHeader => "identity_linked_no_header",
            Preset::NoCredit => "no_credit",
            Preset::OrgDisabled => "org_disabled",
            Preset::DoubleV1 => "double_v1",
            Preset::BadModel => "bad_model",
            Preset::Burst => "burst",
            Preset::Overloaded => "overloaded",
            Preset::OauthTokenAsKey => "oauth_token_as_key",
            Preset::AdminKeyOnInference => "admin_key_on_inference",
        }
    }

    /// Parses a preset id (`-` and `_` both accepted).
    pub fn parse(s: &str) -> Option<Preset> {
        let s = s.replace('-', "_");
        Preset::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::parse(s).ok_or_else(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown preset {s:?}; one of: {}", names.join(", "))
        })
    }
}

/// What a preset builds: the state, the secrets of its fixture keys, and its injections.
#[derive(Debug)]
pub struct Built {
    /// The world.
    pub state: State,
    /// Fixture credentials by role name.
    pub keys: Vec<MintedKey>,
    /// Error injections the preset starts with.
    pub injections: Vec<ErrorInjection>,
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
}

/// The fixture model table (newest first), with prices in cents per MTok.
pub fn fixture_models() -> Vec<Model> {
    #[allow(clippy::type_complexity)]
    let rows: [(&str, &[&str], &str, &str, u64, u64, &str, u64, u64); 12] = [
        (MODEL_OPUS_5_5, &[], "Claude Opus 5.5", "2026-08-12T00:00:00Z", 1_000_000, 128_000, "opus", 500, 2500),
        (MODEL_FABLE_5_1, &[], "Claude Fable 5.1", "2026-07-01T00:00:00Z", 1_000_000, 128_000, "fable", 300, 1500),
        (MODEL_MYTHOS_5, &[], "Claude Mythos 5", "2026-05-20T00:00:00Z", 1_000_000, 128_000, "mythos", 1500, 7500),
        (MODEL_FABLE_5, &[], "Claude Fable 5", "2026-04-15T00:00:00Z", 1_000_000, 128_000, "fable", 300, 1500),
        (MODEL_SONNET_5, &[], "Claude Sonnet 5", "2026-03-03T00:00:00Z", 1_000_000, 128_000, "sonnet", 300, 1500),
        (MODEL_OPUS_5, &[], "Claude Opus 5", "2026-02-10T00:00:00Z", 1_000_000, 128_000, "opus", 500, 2500),
        (MODEL_OPUS_4_8, &[], "Claude Opus 4.8", "2026-01-12T00:00:00Z", 200_000, 64_000, "opus", 500, 2500),
        (MODEL_SONNET_4_6, &[], "Claude Sonnet 4.6", "2025-12-02T00:00:00Z", 1_000_000, 64_000, "sonnet", 300, 1500),
        (MODEL_HAIKU_4_5, &[MODEL_HAIKU_4_5_ALIAS], "Claude Haiku 4.5", "2025-10-15T00:00:00Z", 200_000, 64_000, "haiku", 100, 500),
        (MODEL_SONNET_4_5, &["claude-sonnet-4-5"], "Claude Sonnet 4.5", "2025-09-29T00:00:00Z", 200_000, 64_000, "sonnet", 300, 1500),
        ("claude-opus-4-1-20250805", &["claude-opus-4-1"], "Claude Opus 4.1", "2025-08-05T00:00:00Z", 200_000, 32_000, "opus", 1500, 7500),
        ("claude-sonnet-4-20250514", &["claude-sonnet-4-0"], "Claude Sonnet 4", "2025-05-14T00:00:00Z", 200_000, 64_000, "sonnet", 300, 1500),
    ];
    rows.iter()
        .map(|(id, aliases, name, created, max_in, max_out, class, inp, out)| Model {
            id: (*id).into(),
            aliases: aliases.iter().map(|a| (*a).to_string()).collect(),
            display_name: (*name).into(),
            created_at: ts(created),
            max_input_tokens: *max_in,
            max_tokens: *max_out,
            class: (*class).into(),
            input_cents_per_mtok: *inp,
            output_cents_per_mtok: *out,
        })
        .collect()
}

fn workspace(id: &str, name: &str, color: &str, created_at: DateTime<Utc>, is_default: bool) -> Workspace {
    Workspace { id: id.into(), name: name.into(), display_color: color.into(), created_at, archived_at: None, is_default, rate_limits: None }
}

fn base_state(now: DateTime<Utc>) -> State {
    State {
        org: Org { id: ORG_ID.into(), name: ORG_NAME.into(), disabled: false, credit_ok: true, count_tokens_reports_credit: false, tier: 2, limits: None },
        workspaces: vec![
            workspace(DEFAULT_WORKSPACE_ID, "Default Workspace", "#6C5BB9", now - Duration::days(365), true),
            workspace(WORKSPACE_PROD_A_ID, WORKSPACE_PROD_A_NAME, "#2E86AB", now - Duration::days(60), false),
            workspace(WORKSPACE_PROD_B_ID, WORKSPACE_PROD_B_NAME, "#E07A5F", now - Duration::days(59), false),
        ],
        keys: Vec::new(),
        models: fixture_models(),
        usage: Vec::new(),
        non_token_costs: Vec::new(),
        spend_limits: SpendLimits::default(),
        knobs: Knobs::default(),
        clock: Clock::default(),
    }
}

struct Builder {
    state: State,
    keys: Vec<MintedKey>,
    age_days: i64,
}

impl Builder {
    fn add(&mut self, role: &str, req: MintKey) -> MintedKey {
        let mut minted = match mint(&mut self.state, &req) {
            Ok(m) => m,
            // The fixture requests are static and valid; an error here is a bug in this file.
            Err(e) => unreachable!("fixture mint failed: {e}"),
        };
        // Stagger creation times so lists have a stable order (older keys first minted).
        let created = self.state.now() - Duration::days(self.age_days);
        self.age_days = (self.age_days - 1).max(1);
        if let Some(k) = self.state.keys.iter_mut().find(|k| k.id == minted.id) {
            k.created_at = created;
        }
        minted.name = role.into();
        self.keys.push(minted.clone());
        minted
    }

    fn alias(&mut self, role: &str, of: &MintedKey) {
        let mut k = of.clone();
        k.name = role.into();
        self.keys.push(k);
    }
}

fn keyreq(name: &str, id: &str, ws: Option<&str>) -> MintKey {
    MintKey { id: Some(id.into()), ..MintKey::api(name, ws) }
}

/// Builds a preset's world at the fake's "now".
pub fn build(preset: Preset, clock: Clock) -> Built {
    let now = clock.now();
    let mut state = base_state(now);
    state.clock = clock;
    let mut b = Builder { state, keys: Vec::new(), age_days: 40 };
    let mut injections = Vec::new();

    b.add("admin", MintKey { id: Some(KEY_ADMIN_ID.into()), ..MintKey::admin("Clawkeep admin") });

    let a_req = keyreq("instance-a", KEY_INSTANCE_A_ID, Some(WORKSPACE_PROD_A_ID));
    let b_req = keyreq("instance-b", KEY_INSTANCE_B_ID, Some(WORKSPACE_PROD_B_ID));
    match preset {
        Preset::Healthy | Preset::Demo | Preset::NoCredit | Preset::OrgDisabled | Preset::DoubleV1 | Preset::BadModel | Preset::Overloaded => {
            b.add("instance-a", a_req);
            b.add("instance-b", b_req);
        }
        Preset::TruncatedOnHost => {
            let full = b.add("instance-a", a_req);
            b.alias("keychain", &full);
            let mut host = full.clone();
            host.name = "host".into();
            host.key = full.key.chars().take(100).collect();
            host.partial_key_hint = crate::ids::partial_key_hint(&host.key);
            b.keys.push(host);
            b.add("instance-b", b_req);
        }
        Preset::StaleAfterRotation => {
            let old = b.add("old", MintKey { status: Some(KeyStatus::Inactive), ..keyreq("instance-a (rotated out)", KEY_INSTANCE_A_OLD_ID, Some(WORKSPACE_PROD_A_ID)) });
            b.alias("host", &old);
            let new = b.add("new", a_req);
            b.alias("keychain", &new);
            b.alias("instance-a", &new);
            b.add("instance-b", b_req);
        }
        Preset::Expired => {
            b.add("instance-a", MintKey { expires_at: Some(now - Duration::days(1)), ..a_req });
            b.add("instance-b", b_req);
        }
        Preset::WrongWorkspace => {
            b.add("instance-a", keyreq("instance-a", KEY_INSTANCE_A_ID, Some(WORKSPACE_PROD_B_ID)));
            b.add("instance-b", b_req);
        }
        Preset::IdentityLinkedNoHeader => {
            b.add("instance-a", MintKey { identity_linked: true, workspace_id: None, ..a_req });
            b.add("instance-b", b_req);
        }
        Preset::Burst => {
            for (i, id) in KEY_BURST_IDS.iter().enumerate() {
                let role = format!("burst-{}", i + 1);
                b.add(&role, keyreq(&role, id, Some(WORKSPACE_PROD_A_ID)));
            }
        }
        Preset::OauthTokenAsKey => {
            b.add("instance-a", MintKey { id: Some(KEY_INSTANCE_A_ID.into()), ..MintKey::oauth("instance-a") });
            b.add("instance-b", b_req);
        }
        Preset::AdminKeyOnInference => {
            b.add("instance-a", MintKey { id: Some(KEY_INSTANCE_A_ID.into()), ..MintKey::admin("instance-a") });
            b.add("instance-b", b_req);
        }
    }

    match preset {
        Preset::NoCredit => b.state.org.credit_ok = false,
        Preset::OrgDisabled => b.state.org.disabled = true,
        Preset::Burst => {
            b.state.org.tier = 1;
            // prod-a has tighter workspace limits, so a 50-request burst from its three keys
            // is throttled in one shared bucket.
            if let Some(w) = b.state.workspaces.iter_mut().find(|w| w.id == WORKSPACE_PROD_A_ID) {
                w.rate_limits = Some(BURST_WORKSPACE_LIMITS);
            }
        }
        Preset::Overloaded => {
            injections.push(ErrorInjection { path_prefix: "/v1/messages".into(), unlimited: true, every_nth: Some(3), status: 529, ..ErrorInjection::default() });
            injections.push(ErrorInjection { path_prefix: "/v1/messages".into(), unlimited: true, every_nth: Some(2), status: 529, mid_stream: true, ..ErrorInjection::default() });
        }
        Preset::Demo => {
            seed_usage(&mut b.state, now);
            // Enrolled in the Spend Limits early access: a limit for the organisation and one
            // for prod-a (newest first on the wire).
            b.state.spend_limits = SpendLimits {
                enrolled: true,
                limits: vec![
                    monthly_spend_limit(SPEND_LIMIT_ORG_ID, SpendLimitScope::Organization, SPEND_LIMIT_ORG_CENTS, now - Duration::days(30)),
                    monthly_spend_limit(
                        SPEND_LIMIT_PROD_A_ID,
                        SpendLimitScope::Workspace { workspace_id: WORKSPACE_PROD_A_ID.into() },
                        SPEND_LIMIT_PROD_A_CENTS,
                        now - Duration::days(20),
                    ),
                ],
            };
        }
        _ => {}
    }

    Built { state: b.state, keys: b.keys, injections }
}

/// Seven days of deterministic hourly usage for instance-a and instance-b (the demo world).
fn seed_usage(state: &mut State, now: DateTime<Utc>) {
    let start = now - Duration::days(7);
    let start = start.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(start);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut t = start;
    while t < now - Duration::hours(1) {
        for (key, ws, model) in [(KEY_INSTANCE_A_ID, WORKSPACE_PROD_A_ID, MODEL_SONNET_5), (KEY_INSTANCE_B_ID, WORKSPACE_PROD_B_ID, MODEL_OPUS_5)] {
            let busy = next() % 4 != 0;
            if !busy {
                continue;
            }
            let turns = 1 + next() % 6;
            state.push_usage(UsageRow {
                ts: t + Duration::minutes((next() % 60) as i64),
                api_key_id: Some(key.into()),
                workspace_id: Some(ws.into()),
                model: model.into(),
                uncached_input_tokens: turns * (2_000 + next() % 3_000),
                cache_creation_5m: turns * (next() % 2_000),
                cache_creation_1h: 0,
                cache_read_input_tokens: turns * (10_000 + next() % 5_000),
                output_tokens: turns * (200 + next() % 1_500),
                web_search_requests: 0,
                service_tier: "standard".into(),
                context_window: "0-200k".into(),
                inference_geo: Some("global".into()),
            });
            // The utility model's activity recaps.
            state.push_usage(UsageRow {
                ts: t + Duration::minutes(59),
                api_key_id: Some(key.into()),
                workspace_id: Some(ws.into()),
                model: MODEL_HAIKU_4_5.into(),
                uncached_input_tokens: turns * 1_200,
                cache_creation_5m: 0,
                cache_creation_1h: 0,
                cache_read_input_tokens: 0,
                output_tokens: turns * 60,
                web_search_requests: 0,
                service_tier: "standard".into(),
                context_window: "0-200k".into(),
                inference_geo: Some("global".into()),
            });
        }
        t += Duration::hours(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_ids_have_real_shapes() {
        for id in [DEFAULT_WORKSPACE_ID, WORKSPACE_PROD_A_ID, WORKSPACE_PROD_B_ID] {
            assert!(crate::ids::is_valid_workspace_id(id), "{id}");
            assert_eq!(id.len(), "wrkspc_".len() + 24, "{id}");
        }
        for id in [KEY_ADMIN_ID, KEY_INSTANCE_A_ID, KEY_INSTANCE_B_ID, KEY_INSTANCE_A_OLD_ID].into_iter().chain(KEY_BURST_IDS) {
            assert_eq!(id.len(), "apikey_".len() + 24, "{id}");
        }
        assert_eq!(OWNER_USER_ID.len(), "user_".len() + 24);
    }

    #[test]
    fn every_preset_builds_and_round_trips() {
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.as_str()), Some(p));
            let built = build(p, Clock::default());
            assert!(built.keys.iter().any(|k| k.name == "admin"), "{p}");
            let json = serde_json::to_string(&built.state).unwrap();
            for k in &built.keys {
                assert!(!json.contains(&k.key), "{p}: secret leaked into state");
            }
            let back: State = serde_json::from_str(&json).unwrap();
            assert_eq!(back, built.state);
        }
    }

    #[test]
    fn kinds_match_presets() {
        use crate::state::KeyKind;
        let b = build(Preset::OauthTokenAsKey, Clock::default());
        let a = b.keys.iter().find(|k| k.name == "instance-a").unwrap();
        assert_eq!(a.kind, KeyKind::Oauth);
    }
}
