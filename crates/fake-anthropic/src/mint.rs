//! Minting credentials the way the Console would: the secret is generated at run time, handed
//! back exactly once in a [`MintedKey`], and only its SHA-256 and hint are kept in [`State`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids;
use crate::state::{Actor, ApiKey, KeyKind, KeyScope, KeyStatus, State};

/// A request to mint a key (the body of `POST /__fake/keys`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MintKey {
    /// Key name.
    pub name: String,
    /// Workspace for Api keys; the Default Workspace when `None`.
    pub workspace_id: Option<String>,
    /// Api, Admin or OAuth.
    pub kind: KeyKind,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Org-scoped (multi-workspace) Api key: needs `anthropic-workspace-id` on inference.
    pub identity_linked: bool,
    /// The key's principal is an org admin (lets an identity-linked key use the Admin API).
    pub org_admin: bool,
    /// Initial status (default active).
    pub status: Option<KeyStatus>,
    /// Creator's user id (default: the fixture owner).
    pub created_by_user_id: Option<String>,
    /// Fixes the key id instead of generating one (fixtures use this).
    pub id: Option<String>,
}

impl Default for MintKey {
    fn default() -> Self {
        MintKey {
            name: "key".into(),
            workspace_id: None,
            kind: KeyKind::Api,
            expires_at: None,
            identity_linked: false,
            org_admin: false,
            status: None,
            created_by_user_id: None,
            id: None,
        }
    }
}

impl MintKey {
    /// An active Api key named `name` in `workspace_id` (Default Workspace if `None`).
    pub fn api(name: impl Into<String>, workspace_id: Option<&str>) -> Self {
        MintKey { name: name.into(), workspace_id: workspace_id.map(str::to_string), ..Self::default() }
    }

    /// An Admin key named `name`.
    pub fn admin(name: impl Into<String>) -> Self {
        MintKey { name: name.into(), kind: KeyKind::Admin, ..Self::default() }
    }

    /// An OAuth access token named `name`.
    pub fn oauth(name: impl Into<String>) -> Self {
        MintKey { name: name.into(), kind: KeyKind::Oauth, ..Self::default() }
    }
}

/// A freshly minted credential. `key` is the secret: it exists only here, never in [`State`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintedKey {
    /// `apikey_…`.
    pub id: String,
    /// Name (for fixtures: the role, such as `instance-a`, `admin`, `host`).
    pub name: String,
    /// The secret.
    pub key: String,
    /// `sk-ant-api03-R2D...igAA`.
    pub partial_key_hint: String,
    /// The workspace the key resolves to (the Default Workspace's id included); `None` for
    /// org-scoped, admin and OAuth credentials.
    pub workspace_id: Option<String>,
    /// Api, Admin or OAuth.
    pub kind: KeyKind,
}

impl std::fmt::Debug for MintedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("key", &self.partial_key_hint)
            .field("workspace_id", &self.workspace_id)
            .field("kind", &self.kind)
            .finish()
    }
}

/// Mints a key into `state`. Errors are human-readable reasons (unknown/archived workspace,
/// bad name).
pub fn mint(state: &mut State, req: &MintKey) -> Result<MintedKey, String> {
    if req.name.is_empty() || req.name.chars().count() > 500 {
        return Err("name must be 1-500 characters".into());
    }
    let secret = match req.kind {
        KeyKind::Api => ids::api_key_secret(),
        KeyKind::Admin => ids::admin_key_secret(),
        KeyKind::Oauth => ids::oauth_token_secret(),
    };
    let scope = match (req.kind, req.identity_linked) {
        (KeyKind::Api, false) => {
            let ws = match &req.workspace_id {
                Some(id) => state.workspace(id).ok_or_else(|| format!("unknown workspace {id}"))?,
                None => state.default_workspace().ok_or("the org has no Default Workspace")?,
            };
            if ws.archived_at.is_some() {
                return Err(format!("workspace {} is archived", ws.id));
            }
            KeyScope::Workspace { workspace_id: ws.id.clone() }
        }
        _ => KeyScope::Organization,
    };
    let id = req.id.clone().unwrap_or_else(|| ids::prefixed_id("apikey"));
    if state.keys.iter().any(|k| k.id == id) {
        return Err(format!("key id {id} already exists"));
    }
    let user = req.created_by_user_id.clone().unwrap_or_else(|| crate::presets::OWNER_USER_ID.to_string());
    let hint = ids::partial_key_hint(&secret);
    let key = ApiKey {
        id: id.clone(),
        secret_sha256: ids::sha256_hex(&secret),
        partial_key_hint: hint.clone(),
        kind: req.kind,
        name: req.name.clone(),
        status: req.status.unwrap_or(KeyStatus::Active),
        created_at: state.now(),
        expires_at: req.expires_at,
        created_by: Some(Actor { id: user.clone(), kind: "user".into() }),
        principal_user_id: Some(user),
        org_admin: req.org_admin || req.kind == KeyKind::Admin,
        scope,
    };
    let workspace_id = key.workspace_id().map(str::to_string);
    state.keys.push(key);
    Ok(MintedKey { id, name: req.name.clone(), key: secret, partial_key_hint: hint, workspace_id, kind: req.kind })
}
