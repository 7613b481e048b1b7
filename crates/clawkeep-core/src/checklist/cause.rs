//! The vocabulary of causes and fixes. Each [`Cause`] has a stable code, a domain and a fix.
//! [`classify`] maps an API response to a cause following the deployment guide's HTTP table:
//! 400 protocol/malformed (or billing), 401 credential/account context, 403 environment
//! boundary, 429 throughput, 5xx transient.

use super::types::Domain;
use crate::anthropic::Probe;

/// Why a check did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    // credential
    NoKeychainKey,
    AgentNoCredential,
    KeyTruncated,
    RetiredKeyDeployed,
    KeyMismatch,
    /// The service unit's `Environment=` (or a drop-in) sets another key; it beats the files.
    KeyInUnitEnvironment,
    AuthProfileOverridesEnv,
    /// OpenClaw took the Anthropic auth profile out of use locally after a failure (persisted).
    AuthProfileCooldown,
    RestartNeeded,
    HostUnreadable,
    HostKeyUntrusted,
    HostKeyMismatch,
    HostUnreachable,
    SshAuthRefused,
    // account context
    KeyInvalid,
    KeyInactive,
    KeyExpired,
    KeyArchived,
    KeyExpiringSoon,
    /// Past its rotation date under the instance's rotation policy (the key still works).
    KeyOverdue,
    /// This month's spend (instance or its owner) is over the monthly budget.
    BudgetOver,
    /// Not over yet, but the month's run rate ends over the budget.
    BudgetForecastOver,
    /// A warning threshold of the budget is crossed.
    BudgetThreshold,
    WorkspaceMismatch,
    OrgMismatch,
    WorkspaceHeaderRequired,
    WorkspaceNotFound,
    CreditTooLow,
    OrgDisabled,
    OauthTokenAsKey,
    AdminKeyAsKey,
    PermissionDenied,
    ApiUnreachable,
    HostCannotReachApi,
    // protocol
    ConfigUnreadable,
    WrongApi,
    BaseUrlInvalid,
    BaseUrlV1VersionDependent,
    ModelNotFound,
    RequestRejected,
    ConfigClobbered,
    /// `openclaw.json.last-good` holds an older key than the instance's.
    StaleLastGood,
    ConfigMissingMeta,
    UnstableFeatures,
    // throughput
    RateLimited,
    Overloaded,
    LowHeadroom,
    /// The API enforced a lower limit on the probe than the one configured for the instance's
    /// workspace or organisation (Rate Limits API).
    LimitBelowConfigured,
    /// 429s while the configured limit that applies is small (a tight workspace override, or a
    /// low organisation limit).
    ConfiguredLimitLow,
    SharedRateLimit,
    FailsAfterFirstRequests,
    ServerError,
    // boundary / host
    KeySharedAcrossInstances,
    KeyOfOtherInstance,
    FileMode,
    FileOwner,
    KeyInShellHistory,
    KeyInWorldReadableFile,
    /// OpenClaw wrote a key in plain text to one of its own files that is not a key store.
    KeyInOpenclawFile,
    /// A gateway started by hand beside the systemd unit: restarting the unit can't replace it.
    GatewayOutsideUnit,
    HostUndersized,
}

impl Cause {
    pub fn code(self) -> &'static str {
        use Cause::*;
        match self {
            NoKeychainKey => "no_keychain_key",
            AgentNoCredential => "agent_no_credential",
            KeyTruncated => "key_truncated",
            RetiredKeyDeployed => "retired_key_deployed",
            KeyMismatch => "key_mismatch",
            KeyInUnitEnvironment => "key_in_unit_environment",
            AuthProfileOverridesEnv => "auth_profile_overrides_env",
            AuthProfileCooldown => "auth_profile_cooldown",
            RestartNeeded => "restart_needed",
            HostUnreadable => "host_unreadable",
            HostKeyUntrusted => "host_key_untrusted",
            HostKeyMismatch => "host_key_mismatch",
            HostUnreachable => "host_unreachable",
            SshAuthRefused => "ssh_auth_refused",
            KeyInvalid => "key_invalid",
            KeyInactive => "key_inactive",
            KeyExpired => "key_expired",
            KeyArchived => "key_archived",
            KeyExpiringSoon => "key_expiring_soon",
            KeyOverdue => "key_overdue",
            BudgetOver => "budget_over",
            BudgetForecastOver => "budget_forecast_over",
            BudgetThreshold => "budget_threshold",
            WorkspaceMismatch => "workspace_mismatch",
            OrgMismatch => "org_mismatch",
            WorkspaceHeaderRequired => "workspace_header_required",
            WorkspaceNotFound => "workspace_not_found",
            CreditTooLow => "credit_too_low",
            OrgDisabled => "org_disabled",
            OauthTokenAsKey => "oauth_token_as_key",
            AdminKeyAsKey => "admin_key_as_key",
            PermissionDenied => "permission_denied",
            ApiUnreachable => "api_unreachable",
            HostCannotReachApi => "host_cannot_reach_api",
            ConfigUnreadable => "config_unreadable",
            WrongApi => "wrong_api",
            BaseUrlInvalid => "base_url_invalid",
            BaseUrlV1VersionDependent => "base_url_v1_version_dependent",
            ModelNotFound => "model_not_found",
            RequestRejected => "request_rejected",
            ConfigClobbered => "config_clobbered",
            StaleLastGood => "stale_last_good",
            ConfigMissingMeta => "config_missing_meta",
            UnstableFeatures => "unstable_features",
            RateLimited => "rate_limited",
            Overloaded => "overloaded",
            LowHeadroom => "low_headroom",
            LimitBelowConfigured => "limit_below_configured",
            ConfiguredLimitLow => "configured_limit_low",
            SharedRateLimit => "shared_rate_limit",
            FailsAfterFirstRequests => "fails_after_first_requests",
            ServerError => "server_error",
            KeySharedAcrossInstances => "key_shared_across_instances",
            KeyOfOtherInstance => "key_of_other_instance",
            FileMode => "file_mode",
            FileOwner => "file_owner",
            KeyInShellHistory => "key_in_shell_history",
            KeyInWorldReadableFile => "key_in_world_readable_file",
            KeyInOpenclawFile => "key_in_openclaw_file",
            GatewayOutsideUnit => "gateway_outside_unit",
            HostUndersized => "host_undersized",
        }
    }

    pub fn domain(self) -> Domain {
        use Cause::*;
        match self {
            NoKeychainKey
            | AgentNoCredential
            | KeyTruncated
            | RetiredKeyDeployed
            | KeyMismatch
            | KeyInUnitEnvironment
            | AuthProfileOverridesEnv
            | AuthProfileCooldown
            | RestartNeeded
            | HostUnreadable
            | HostKeyUntrusted
            | HostKeyMismatch
            | HostUnreachable
            | SshAuthRefused => Domain::Credential,
            KeyInvalid
            | KeyInactive
            | KeyExpired
            | KeyArchived
            | KeyExpiringSoon
            | KeyOverdue
            | BudgetOver
            | BudgetForecastOver
            | BudgetThreshold
            | WorkspaceMismatch
            | OrgMismatch
            | WorkspaceHeaderRequired
            | WorkspaceNotFound
            | CreditTooLow
            | OrgDisabled
            | OauthTokenAsKey
            | AdminKeyAsKey
            | ApiUnreachable
            | HostCannotReachApi => Domain::AccountContext,
            ConfigUnreadable
            | WrongApi
            | BaseUrlInvalid
            | BaseUrlV1VersionDependent
            | ModelNotFound
            | RequestRejected
            | ConfigClobbered
            | StaleLastGood
            | ConfigMissingMeta
            | UnstableFeatures => Domain::Protocol,
            RateLimited | Overloaded | LowHeadroom | LimitBelowConfigured | ConfiguredLimitLow | SharedRateLimit | FailsAfterFirstRequests | ServerError => Domain::Throughput,
            PermissionDenied
            | KeySharedAcrossInstances
            | KeyOfOtherInstance
            | FileMode
            | FileOwner
            | KeyInShellHistory
            | KeyInWorldReadableFile
            | KeyInOpenclawFile
            | GatewayOutsideUnit
            | HostUndersized => Domain::Boundary,
        }
    }

    /// The action that fixes it for `instance`, as data, where Clawkeep can take it (the fix
    /// text says the rest).
    pub fn remedy(self, instance: &str) -> Option<crate::error::Remedy> {
        use crate::error::Remedy;
        use Cause::*;
        let instance = instance.to_string();
        Some(match self {
            NoKeychainKey => Remedy::AddKey { instance },
            HostKeyUntrusted => Remedy::TrustHost { instance, fingerprint: None, replace: false },
            HostKeyMismatch => Remedy::TrustHost { instance, fingerprint: None, replace: true },
            HostUnreachable => Remedy::EditInstance { instance, fields: vec!["host".into(), "port".into()] },
            SshAuthRefused => Remedy::SetSshIdentity,
            KeyTruncated | RetiredKeyDeployed | KeyMismatch => Remedy::Deploy { instance },
            KeyExpired | KeyArchived | KeyExpiringSoon | KeyOverdue => Remedy::Rotate { instance },
            _ => return None,
        })
    }

    /// What to do about it.
    pub fn fix(self) -> &'static str {
        use Cause::*;
        match self {
            NoKeychainKey => "Add the instance's key to Clawkeep; without it nothing can be compared or probed.",
            AgentNoCredential => "New agents don't inherit credentials: deploy the instance key to this agent too (an auth profile for it, or ANTHROPIC_API_KEY in the state dir's .env, then restart the gateway).",
            KeyTruncated => "The key on the host is cut short (copy/paste or a config rewrite). Deploy the full key from the keychain again; do not rotate.",
            RetiredKeyDeployed => "The host still uses the key you retired. Deploy the current key and restart the gateway; then revoke the old one in the Console.",
            KeyMismatch => "The host uses a key Clawkeep does not know as this instance's. Deploy the instance's active key (or add the host's key to the inventory if it is the right one).",
            KeyInUnitEnvironment => "The gateway's systemd unit sets ANTHROPIC_API_KEY itself (Environment= in the unit or a drop-in, as some guides suggest); it beats .env, and a restart loads it again. Deploy the instance's key and consent to removing it: Clawkeep takes only that assignment out of the unit file or drop-in (when it is in the SSH user's own ~/.config/systemd/user), reloads systemd, restarts and verifies. A unit file the user can't write needs that line removed by hand (systemctl --user edit openclaw-gateway), then systemctl --user daemon-reload.",
            AuthProfileOverridesEnv => "A stored auth profile (agent SQLite) beats ANTHROPIC_API_KEY. Update it (openclaw models auth paste-api-key --provider anthropic) or remove it (openclaw models auth logout anthropic:default --yes).",
            AuthProfileCooldown => "OpenClaw has taken the Anthropic auth profile out of use on this host after a failure (reason auth: the key was rejected; billing: credit or spend limit; rate_limit/overloaded: too many requests). Until the time shown every request on it fails at once without reaching Anthropic, even with a good key in place, and a restart does not clear it (OpenClaw keeps that state on disk). Fix the cause first (for auth: deploy the instance's right key to that profile; OpenClaw's own hint is to re-authenticate it), then wait out the time shown (OpenClaw's ladder is 30 s, 1 min, 5 min; up to hours for billing) and check again. Do not rotate because of this alone.",
            RestartNeeded => "The file holds the right key but the running gateway still has the old one in its environment: restart the gateway (systemctl --user restart openclaw-gateway). Do not rotate.",
            HostUnreadable => "Clawkeep could not read the host's facts (SSH failed or the output was cut). Check SSH access, then run the check again.",
            HostKeyUntrusted => "The host key is not pinned yet, so Clawkeep sent nothing to the host. Trust it first: check the fingerprint out of band, then trust the host.",
            HostKeyMismatch => "The host presented another key than the pinned one (reinstalled host, or someone in the middle): nothing was run on it. Check the new fingerprint out of band (its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); only if it is right, trust the new key.",
            HostUnreachable => "The host did not accept an SSH connection (down, sshd stopped, wrong address or port, firewall). Check that it is up and sshd listens, or correct the instance's address.",
            SshAuthRefused => "The host refused Clawkeep's SSH login. Put your public key in the service user's ~/.ssh/authorized_keys, or choose the SSH identity (set-ssh-identity) Clawkeep uses.",
            KeyInvalid => "Anthropic rejects the key (401: invalid, revoked, inactive or expired). Check its status in the Console (or add an admin key to Clawkeep to see it); only if it is dead, rotate it.",
            KeyInactive => "The key is set to inactive in the Console: re-activate it there, or rotate to a new key.",
            KeyExpired => "The key has expired: create a new key in the Console and rotate.",
            KeyArchived => "The key is archived (permanent): create a new key in the Console and rotate.",
            KeyExpiringSoon => "The key expires soon: create its successor and rotate before it does.",
            KeyOverdue => "The key is past the rotation date its policy sets (it still works): rotate it; the rotation plan suggests a slot.",
            BudgetOver => "This month's spend is over the budget (the instance's or its owner's). See what spends in the cost view (by instance and model), then lower the load or raise the budget; set a spend limit in the Console if it must stop.",
            BudgetForecastOver => "At this month's run rate the spend ends over the budget. See which instance and model drive it in the cost view, and act before the month ends (lower the load, or raise the budget).",
            BudgetThreshold => "The spend crossed a warning threshold of the budget. Nothing is over yet: look at the cost view's top movers to see what changed.",
            WorkspaceMismatch => "The key belongs to a different workspace than this instance expects. Use a key created in the expected workspace, or correct the instance's expected workspace id.",
            OrgMismatch => "The key belongs to a different organization than this instance expects. Use a key of the expected org, or correct the instance's expected org id.",
            WorkspaceHeaderRequired => "This is an identity-linked (org-scoped) key and requests carry no anthropic-workspace-id header. Use a workspace-scoped key for OpenClaw, or send the header (provider headers in openclaw.json).",
            WorkspaceNotFound => "The workspace named in anthropic-workspace-id does not exist or the key cannot access it: fix the workspace id.",
            CreditTooLow => "The organization's credit balance is too low: add credits in Plans & Billing (propagation can take a few minutes). Keys are fine; do not rotate.",
            OrgDisabled => "The organization has been disabled: contact Anthropic support with the request id. Rotating keys will not help.",
            OauthTokenAsKey => "An OAuth token (sk-ant-oat01-) is used as an API key: use a Console API key (sk-ant-api03-).",
            AdminKeyAsKey => "An Admin key (sk-ant-admin01-) cannot call inference: use a standard API key for the instance.",
            PermissionDenied => "403: the key lacks permission for this resource or environment; check the key's scope and the org's policy.",
            ApiUnreachable => "The Anthropic API could not be reached from this machine: check the network and the base URL setting.",
            HostCannotReachApi => "The host cannot reach the Anthropic API (DNS, outbound HTTPS blocked by a firewall, or a proxy the gateway needs: HTTPS_PROXY in its environment). The key is not the problem: do not rotate; fix the host's egress.",
            ConfigUnreadable => "openclaw.json could not be read or is not valid JSON5: run `openclaw config validate` on the host and fix the reported line.",
            WrongApi => "With an overridden baseUrl, set api: \"anthropic-messages\" on models.providers.anthropic; otherwise OpenClaw sends OpenAI-shaped requests (/chat/completions, Bearer auth).",
            BaseUrlInvalid => "Fix models.providers.anthropic.baseUrl: use the root form (https://api.anthropic.com), https, no spaces, no /v1/messages or /v1/v1.",
            BaseUrlV1VersionDependent => "A trailing /v1 works only on OpenClaw versions that strip it (2026.2.23+); use the root form to be safe.",
            ModelNotFound => "The configured model id does not exist or this key cannot use it: pick an id from GET /v1/models (e.g. claude-sonnet-5) in agents.defaults.model.",
            RequestRejected => "The API rejected the request shape (400): check the model id and provider params in openclaw.json.",
            ConfigClobbered => "OpenClaw restored an older config and saved yours as openclaw.json.clobbered.*: compare them, re-apply your change with meta: {} present, then delete the clobbered file.",
            StaleLastGood => "OpenClaw keeps openclaw.json.last-good and silently restores it when it rejects the live config (a file without meta, a bad edit: see config_clobbered); that copy still holds an older key in plain text, so such a restore would bring the old key back into the config. Once the current config is good, OpenClaw writes last-good again when the gateway loads it (restart the gateway); or replace openclaw.json.last-good with a copy of openclaw.json (mode 0600). Revoke the old key if it is still active.",
            ConfigMissingMeta => "Add meta: {} to openclaw.json, or OpenClaw may silently restore an older config (clobber guard).",
            UnstableFeatures => "This instance is tagged stability-first: drop beta headers and reasoning/thinking parameters from openclaw.json.",
            RateLimited => "429: reduce concurrency, back off (honour retry-after), smooth traffic; raise limits or split instances across workspaces. Not a credential problem.",
            Overloaded => "529: the API is temporarily overloaded. Retry with backoff, keep the request id; don't touch credentials.",
            LowHeadroom => "Little rate-limit headroom left: reduce concurrency or spread load before requests start failing.",
            LimitBelowConfigured => "The API enforces a lower limit than the one configured for this instance's workspace or organisation: the lower one applies. The cached configured limits may be stale (sync the cost trail to read them again), a limit you did not expect may be set (see the Limits page in the Console), or the organisation's tier changed.",
            ConfiguredLimitLow => "Requests hit 429 while the configured limit that applies is small. Raise the workspace's override (or remove it) in the Console's Limits page, give this instance its own workspace, or lower its concurrency; a low organisation limit rises with the usage tier.",
            SharedRateLimit => "Instances in the same org/workspace share its rate limit: a 429 here may be caused by another instance. Give busy instances their own workspace limits, or smooth the traffic.",
            FailsAfterFirstRequests => "First requests work and later ones fail: that is throughput (rate limits), not credentials. Back off and reduce concurrency.",
            ServerError => "5xx: transient server error. Retry later, keep the request id; don't touch credentials.",
            KeySharedAcrossInstances => "The same key runs on several instances: give each instance its own key (create one per instance in the Console), then revoke the shared one.",
            KeyOfOtherInstance => "This host uses a key bound to another instance in the inventory: deploy this instance's own key.",
            FileMode => "Tighten permissions: chmod 700 ~/.openclaw; chmod 600 on .env, openclaw.json and other secret files.",
            FileOwner => "Secret files must be owned by the service user: chown them to the user the gateway runs as.",
            KeyInShellHistory => "A key is in a shell history file: remove the line (and the file's backups), then rotate the key since it may have been copied.",
            KeyInWorldReadableFile => "A key is in a world-readable file: chmod 600 it (or remove the key), then rotate the key since others could read it.",
            KeyInOpenclawFile => "OpenClaw left a key in plain text in one of its own files (its catalog cache, the config audit log, saved command output: known OpenClaw issues). Delete that copy (the file, or the line): the gateway reads its key from its real store. Rotate the key if the file was ever copied off the host (a backup, a support bundle).",
            GatewayOutsideUnit => "A gateway was started by hand (openclaw gateway run, nohup, a tmux pane) beside OpenClaw's systemd user unit: restarting the unit does not replace it, so it keeps serving its old key and the unit's own gateway can't take the port. Stop that process on the host (kill the pid shown), then systemctl --user start openclaw-gateway. Do not rotate.",
            HostUndersized => "OpenClaw wants at least 2 vCPU and 8 GB RAM; expect slow starts and timeouts below that.",
        }
    }
}

/// Classifies a non-2xx probe by status and message.
pub fn classify(p: &Probe) -> Option<Cause> {
    if p.ok() {
        return None;
    }
    Some(classify_status(p.status, p.message()))
}

/// The cause of a non-2xx answer, from its status and error message (also for answers seen on
/// a host, which arrive as text, not as a [`Probe`]).
pub fn classify_status(status: u16, message: &str) -> Cause {
    let m = message.to_ascii_lowercase();
    match status {
        400 if m.contains("credit balance") => Cause::CreditTooLow,
        400 if m.contains("organization has been disabled") => Cause::OrgDisabled,
        400 if m.contains("anthropic-workspace-id is required") => Cause::WorkspaceHeaderRequired,
        400 if m.contains("anthropic-workspace-id") => Cause::WorkspaceNotFound,
        400 | 413 | 422 => Cause::RequestRejected,
        401 if m.contains("oauth") => Cause::OauthTokenAsKey,
        401 => Cause::KeyInvalid,
        403 => Cause::PermissionDenied,
        404 if m.starts_with("workspace") => Cause::WorkspaceNotFound,
        404 if m.starts_with("model") => Cause::ModelNotFound,
        404 => Cause::BaseUrlInvalid,
        429 => Cause::RateLimited,
        529 => Cause::Overloaded,
        500..=599 => Cause::ServerError,
        _ => Cause::RequestRejected,
    }
}
