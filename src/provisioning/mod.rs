//! SCIM operations turned into users, groups and memberships. Everything here is scoped by the
//! authenticated directory's organization: an id from another organization is simply not found.
//! HTTP lives in `http::scim`; SCIM's own rules (filters, PATCH, projections) in `crates/scim`.

pub mod discovery;
pub mod groups;
pub mod plan;
pub mod query;
pub mod render;
pub mod users;

use scim::ScimError;
use serde_json::Value;

use crate::audit::{self, Actor};
use crate::config::Deprovisioning;
use crate::db::{DbConnection, DbError};
use crate::directories::AuthenticatedDirectory;
use crate::state::AppState;

/// Who is asking, and what they may see: one directory, one organization.
#[derive(Debug, Clone)]
pub struct ScimContext {
    pub realm_id: String,
    pub organization_id: String,
    pub directory_id: String,
    pub directory_name: String,
    pub deprovisioning: Deprovisioning,
    /// `{public_url}/realms/{realm}/scim/v2`, the base of `meta.location`.
    pub base_url: String,
}

/// What a request claims to be before anything is looked up: the realm of its URL and its
/// bearer token. Authentication happens inside the same database job as the work it guards, so
/// a request costs one trip to the database's threads, not two.
#[derive(Clone)]
pub struct Caller {
    pub realm: String,
    pub token: String,
    /// `{public_url}/realms/{realm}/scim/v2`.
    pub base_url: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// The directory behind a caller's token, or 401.
pub fn authenticate(conn: &mut DbConnection, caller: &Caller) -> Result<ScimContext> {
    let auth = crate::directories::authenticate(conn, &caller.realm, &caller.token)?
        .ok_or_else(|| ScimError::new(401, None, "the bearer token is not valid for this realm"))?;
    Ok(ScimContext::new(auth, caller.base_url.clone()))
}

/// Runs a read as the authenticated directory.
pub async fn read<T, F>(state: &AppState, caller: &Caller, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &ScimContext) -> Result<T> + Send + 'static,
{
    let caller = caller.clone();
    state
        .db
        .run(move |conn| {
            let ctx = authenticate(conn, &caller)?;
            f(conn, &ctx)
        })
        .await
}

impl ScimContext {
    pub fn new(auth: AuthenticatedDirectory, base_url: String) -> Self {
        ScimContext {
            realm_id: auth.directory.realm_id,
            organization_id: auth.directory.organization_id,
            directory_id: auth.directory.id,
            directory_name: auth.directory.name,
            deprovisioning: auth.deprovisioning,
            base_url,
        }
    }

    fn actor(&self) -> Actor {
        Actor {
            kind: "directory",
            id: Some(self.directory_id.clone()),
            name: Some(self.directory_name.clone()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ProvisioningError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            ProvisioningError::Scim(e) => e.status,
            ProvisioningError::Db(_) => 500,
        }
    }
}

pub type Result<T> = std::result::Result<T, ProvisioningError>;

/// A resource as stored, ready to project and send.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub json: Value,
    pub version: i64,
}

impl Resource {
    /// The weak entity tag, equal to `meta.version` (RFC 7644 §3.14).
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// RFC 7644 §3.14: a write carrying `If-Match` must target the version it names.
fn check_if_match(if_match: Option<&str>, version: i64) -> Result<()> {
    let Some(header) = if_match else {
        return Ok(());
    };
    let current = etag(version);
    let strong = current.trim_start_matches("W/");
    let matched = header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current || tag.trim_start_matches("W/") == strong);
    if matched {
        Ok(())
    } else {
        Err(ScimError {
            status: 412,
            scim_type: None,
            detail: format!("If-Match {header} does not match the current version {current}"),
        }
        .into())
    }
}

/// Describes one SCIM write for the audit trail.
pub struct WriteOp<'a> {
    pub operation: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<&'a str>,
    /// The status a success answers with (201, 200, 204), recorded as the outcome.
    pub success_status: u16,
}

/// Runs a SCIM write as the authenticated directory, in one transaction with its audit record.
/// When the write fails, what it did is rolled back to a savepoint and the refusal is recorded
/// in the same transaction instead.
pub async fn audited_write<T, F>(
    state: &AppState,
    caller: &Caller,
    op: WriteOp<'_>,
    f: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &ScimContext, i64) -> Result<(T, Option<String>)> + Send + 'static,
{
    let now = state.clock.now();
    let caller = caller.clone();
    let WriteOp {
        operation,
        resource_type,
        resource_id,
        success_status,
    } = op;
    let resource_id = resource_id.map(str::to_string);
    // The outer Result rolls everything back (including the audit); the inner one is the
    // write's own outcome, committed with its audit record either way.
    let outcome: Result<Result<T>> = state
        .db
        .write(move |conn| {
            let ctx = authenticate(conn, &caller)?;
            let actor = ctx.actor();
            let done = crate::db::savepoint(conn, |conn| f(conn, &ctx, now));
            let (status, detail, id) = match &done {
                Ok((_, created)) => (success_status, None, created.clone().or(resource_id)),
                Err(e) => (e.status(), Some(e.to_string()), resource_id),
            };
            let entry = audit::Entry {
                realm_id: &ctx.realm_id,
                actor: &actor,
                operation,
                resource_type,
                resource_id: id.as_deref(),
                status,
                detail,
            };
            audit::record(conn, &entry, now)?;
            Ok(done.map(|(value, _)| value))
        })
        .await;
    outcome?
}

/// The rows any of `keys` finds, each once, in the order found: a filter plan's candidates.
fn union_of<K, R>(
    keys: &[K],
    mut lookup: impl FnMut(&K) -> std::result::Result<Vec<R>, DbError>,
    id: impl Fn(&R) -> &str,
) -> Result<Vec<R>> {
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    for key in keys {
        for row in lookup(key)? {
            if seen.insert(id(&row).to_string()) {
                found.push(row);
            }
        }
    }
    Ok(found)
}

/// Maps a unique-index violation to SCIM's 409 with a message Entra shows in its logs.
fn uniqueness(err: DbError, detail: impl FnOnce() -> String) -> ProvisioningError {
    match err {
        DbError::UniqueViolation(_) => ScimError::conflict_uniqueness(detail()).into(),
        other => other.into(),
    }
}
