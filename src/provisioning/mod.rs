//! SCIM operations turned into users, groups and memberships. Everything here is scoped by the
//! authenticated directory's organization: an id from another organization is simply not found.
//! HTTP lives in `http::scim`; SCIM's own rules (filters, PATCH, projections) in `crates/scim`.
//!
//! Nothing a client sent is parsed before its token is checked: every operation takes the raw
//! query parameters and body bytes, and parses them inside the database job, right after
//! [`auth::authenticate`] (Entra's own JWT is checked just before the job, [`entra_token`]). An unauthenticated request, however hostile its filter or body, costs one
//! indexed token lookup and no parse, and a request still costs one trip to the database.

pub mod auth;
pub mod discovery;
pub mod entra_token;
pub mod groups;
pub mod lists;
pub mod plan;
pub mod query;
pub mod render;
pub mod users;

use scim::project::Projection;
use scim::{ScimError, ScimType};
use serde_json::Value;

use std::sync::Arc;

use auth::{authenticate, Verifier};
pub use auth::{Caller, Credential};

use crate::audit::{self, Actor};
use crate::clock::Clock;
use crate::config::{Config, Deprovisioning};
use crate::db::{Db, DbConnection, DbError};
use crate::directories::AuthenticatedDirectory;
use crate::issuer::runtime::Runtime as IssuerRuntime;

/// What provisioning needs from the server it runs in: the database, the clock, and what
/// checks a credential in the job (the issuer, the declared directories).
#[derive(Clone, Copy)]
pub struct Runtime<'a> {
    pub db: &'a Db,
    pub clock: &'a dyn Clock,
    pub issuer: &'a Arc<IssuerRuntime>,
    pub config: &'a Arc<Config>,
}

impl Runtime<'_> {
    fn verifier(&self) -> Verifier {
        Verifier {
            issuer: self.issuer.clone(),
            config: self.config.clone(),
        }
    }
}

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

/// The resource types, as the endpoints name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

impl Kind {
    /// `attributes` / `excludedAttributes` applied to a resource of this kind.
    pub fn project(self, json: &Value, projection: &Projection) -> Value {
        match self {
            Kind::Users => users::project(json, projection),
            Kind::Groups => groups::project(json, projection),
        }
    }
}

/// A request's `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) as sent:
/// parsed only once the caller is authenticated.
#[derive(Debug, Clone, Default)]
pub struct RawProjection {
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl RawProjection {
    pub fn parse(&self) -> std::result::Result<Projection, ScimError> {
        Projection::parse(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }

    /// Whether the client named any attributes at all.
    pub fn named(&self) -> bool {
        self.attributes.is_some() || self.excluded_attributes.is_some()
    }
}

/// A resource and how the answer shows it: the stored resource gives the `ETag` and
/// `Location`, the projection the body.
#[derive(Debug)]
pub struct Shown {
    pub resource: Resource,
    pub projection: Projection,
}

/// A request body, read whole by the edge, parsed as JSON here (RFC 7644 §3.12: a body that
/// is not JSON is `invalidSyntax`). serde_json stops at 128 levels of nesting, so parsing
/// cannot exhaust a stack.
pub fn json_body(bytes: &[u8]) -> std::result::Result<Value, ScimError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// Runs a read as the authenticated directory: `f` (which parses what the client sent, then
/// reads) runs only once the token is known to be good.
pub async fn read<T, F>(rt: Runtime<'_>, caller: &Caller, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &ScimContext) -> Result<T> + Send + 'static,
{
    let (caller, verifier, now) = (caller.clone(), rt.verifier(), rt.clock.now());
    rt.db
        .run(move |conn| {
            let ctx = authenticate(conn, &caller, &verifier, now)?;
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
    /// What failed, for a log line: the kind of failure, never its message (a database's
    /// message can quote a value a client sent, and SCIM code logs no personal data).
    pub fn failure(&self) -> &'static str {
        match self {
            ProvisioningError::Scim(_) => "the request was refused",
            ProvisioningError::Db(e) => match e {
                DbError::UniqueViolation(_) => "a unique constraint was violated",
                DbError::Query(_) => "a query failed",
                DbError::Pool(_) => "the database is unavailable",
                DbError::Migration(_) => "a migration failed",
                DbError::Url(_) => "the database url is invalid",
                DbError::Commit(_) => "the transaction could not commit",
            },
        }
    }

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

/// The input of a write that parses nothing from the request (a DELETE).
fn nothing() -> Result<()> {
    Ok(())
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
/// `parse` turns what the client sent into the write's input once the token is checked; input
/// it refuses changes nothing and is not audited (as a malformed request never was). When the
/// write itself fails, its transaction (or, on SQLite, its savepoint in the writer's group) rolls
/// back whole, and the refusal is recorded by a write of its own before the caller hears of it:
/// a success, the common case, costs one savepoint instead of two nested ones.
pub async fn audited_write<I, T, P, F>(
    rt: Runtime<'_>,
    caller: &Caller,
    op: WriteOp<'_>,
    parse: P,
    f: F,
) -> Result<T>
where
    T: Send + 'static,
    P: FnOnce() -> Result<I> + Send + 'static,
    F: FnOnce(&mut DbConnection, &ScimContext, I, i64) -> Result<(T, Option<String>)>
        + Send
        + 'static,
{
    let now = rt.clock.now();
    let (caller, verifier) = (caller.clone(), rt.verifier());
    let WriteOp {
        operation,
        resource_type,
        resource_id,
        success_status,
    } = op;
    let resource_id = resource_id.map(str::to_string);
    let target = resource_id.clone();
    let outcome = rt
        .db
        .write(move |conn| {
            let ctx = authenticate(conn, &caller, &verifier, now)?;
            let input = parse()?;
            match f(conn, &ctx, input, now) {
                Ok((value, created)) => {
                    let id = created.or(target);
                    let done = Audited::new(&ctx, operation, resource_type, id, success_status);
                    done.record(conn, None, now)?;
                    Ok(value)
                }
                Err(error) => Err(WriteFailure::Refused {
                    audited: Box::new(Audited::new(
                        &ctx,
                        operation,
                        resource_type,
                        target,
                        error.status(),
                    )),
                    error,
                }),
            }
        })
        .await;
    match outcome {
        Ok(value) => Ok(value),
        Err(WriteFailure::Unaudited(error)) => Err(error),
        Err(WriteFailure::Refused { audited, error }) => {
            let detail = error.to_string();
            rt.db
                .write(move |conn| audited.record(conn, Some(detail), now))
                .await?;
            Err(error)
        }
    }
}

/// How a write job of [`audited_write`] fails: before the write (bad token, bad input: not
/// audited), or in it (refused or failed: rolled back, then audited).
enum WriteFailure {
    Unaudited(ProvisioningError),
    Refused {
        // Boxed: the refusal path is rare and the Ok path should stay a small Result.
        audited: Box<Audited>,
        error: ProvisioningError,
    },
}

impl From<ProvisioningError> for WriteFailure {
    fn from(e: ProvisioningError) -> Self {
        WriteFailure::Unaudited(e)
    }
}

impl From<DbError> for WriteFailure {
    fn from(e: DbError) -> Self {
        WriteFailure::Unaudited(e.into())
    }
}

/// The audit record of one write, owned so that a refusal can be recorded after its write's
/// rollback.
struct Audited {
    realm_id: String,
    actor: Actor,
    operation: &'static str,
    resource_type: &'static str,
    resource_id: Option<String>,
    status: u16,
}

impl Audited {
    fn new(
        ctx: &ScimContext,
        operation: &'static str,
        resource_type: &'static str,
        resource_id: Option<String>,
        status: u16,
    ) -> Self {
        Audited {
            realm_id: ctx.realm_id.clone(),
            actor: ctx.actor(),
            operation,
            resource_type,
            resource_id,
            status,
        }
    }

    fn record(
        &self,
        conn: &mut DbConnection,
        detail: Option<String>,
        now: i64,
    ) -> std::result::Result<(), DbError> {
        let entry = audit::Entry {
            realm_id: &self.realm_id,
            actor: &self.actor,
            operation: self.operation,
            resource_type: self.resource_type,
            resource_id: self.resource_id.as_deref(),
            status: self.status,
            detail,
        };
        audit::record(conn, &entry, now)
    }
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
