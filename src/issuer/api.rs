//! The issuer's entry points for front ends. Each one runs its database work where it belongs
//! (writes on the writer, reads on the parallel read pool, slow hashing outside any
//! transaction) and returns a decision; the HTTP layer extracts before and renders after, and
//! never holds a connection itself.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::db::DbConnection;
use crate::issuer::account::{self, Account};
use crate::issuer::authorize::{self, Authorization, BrowserCookies};
use crate::issuer::clients::{self, Client, ClientCredentials};
use crate::issuer::flows::RawParams;
use crate::issuer::grants::{self, TokenForm};
use crate::issuer::introspection;
use crate::issuer::logout::{self, LoggedOut};
use crate::issuer::runtime::RealmRow;
use crate::issuer::runtime::Runtime;
use crate::issuer::scopes::RealmScopes;
use crate::issuer::tokens::Realm;
use crate::issuer::{OAuthError, Result};

/// A realm row with its issuer URL, owned, so database jobs can carry it.
struct RealmRef {
    id: String,
    issuer: String,
}

impl RealmRef {
    fn new(rt: &Runtime, realm: &RealmRow) -> RealmRef {
        RealmRef {
            id: realm.id.clone(),
            issuer: rt.issuer_url(&realm.name),
        }
    }

    fn borrow(&self) -> Realm<'_> {
        Realm {
            id: &self.id,
            issuer: &self.issuer,
        }
    }
}

/// The realm's declared client scopes (discovery lists their names).
pub async fn declared_scopes(rt: &Arc<Runtime>, realm: &RealmRow) -> Result<Arc<RealmScopes>> {
    let (rt, realm_id) = (rt.clone(), realm.id.clone());
    rt.db
        .clone()
        .run(move |conn| rt.scopes.get(conn, &realm_id, rt.now()))
        .await
}

/// The realm's JWKS, retired keys included until their tokens expire.
pub async fn jwks(rt: &Arc<Runtime>, realm: &RealmRow) -> Result<Value> {
    let (rt, realm_id) = (rt.clone(), realm.id.clone());
    rt.db
        .clone()
        .run(move |conn| {
            let keys = rt.keys.get(conn, &realm_id, rt.now(), None)?;
            Ok::<_, OAuthError>(keys.jwks().clone())
        })
        .await
}

/// Whether `origin` is a registered web origin of an enabled client of the realm (for CORS
/// preflights, which name no client): from memory when fresh.
pub async fn allows_origin(rt: &Arc<Runtime>, realm: &RealmRow, origin: String) -> Result<bool> {
    if let Some(origins) = rt.clients.cached_web_origins(&realm.id, rt.now()) {
        return Ok(origins.allows(&origin));
    }
    let (rt, realm_id) = (rt.clone(), realm.id.clone());
    rt.db
        .clone()
        .run(move |conn| {
            Ok(rt
                .clients
                .web_origins(conn, &realm_id, rt.now())?
                .allows(&origin))
        })
        .await
}

/// The authorization endpoint's decision for a browser request.
pub async fn authorize(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    raw: RawParams,
    cookies: BrowserCookies,
) -> Result<Authorization> {
    let (rt, realm_id, realm_name) = (rt.clone(), realm.id.clone(), realm.name.clone());
    rt.db
        .clone()
        .write(move |conn| {
            let realm = (realm_id.as_str(), realm_name.as_str());
            authorize::authorize(&rt, conn, realm, &raw, &cookies, rt.now())
        })
        .await
}

/// The token endpoint: client_credentials from memory when everything it needs is cached,
/// else the grant on the database (client_credentials on the read pool, so signing is not
/// queued behind SQLite's single writer; the other grants consume codes and rotate tokens).
pub async fn token(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    creds: ClientCredentials,
    form: TokenForm,
) -> Result<(Arc<Client>, Value)> {
    let at = RealmRef::new(rt, realm);
    if let Some(answer) =
        grants::client_credentials_from_memory(rt, &at.borrow(), &creds, &form, rt.now())
    {
        return answer;
    }
    let read_only = grants::is_read_only(&form);
    if !read_only {
        authenticate_before_writing(rt, &realm.id, &creds).await?;
    }
    let rt = rt.clone();
    let db = rt.db.clone();
    let job = move |conn: &mut DbConnection| {
        grants::exchange(&rt, conn, &at.borrow(), &creds, &form, rt.now())
    };
    if read_only {
        db.run(job).await?
    } else {
        db.write(job).await?
    }
}

/// RFC 7662 introspection for a confidential client.
pub async fn introspect(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    creds: ClientCredentials,
    form: HashMap<String, String>,
) -> Result<Value> {
    let (rt, at) = (rt.clone(), RealmRef::new(rt, realm));
    rt.db
        .clone()
        .run(move |conn| {
            introspection::introspect(&rt, conn, &at.borrow(), &creds, &form, rt.now())
        })
        .await
}

/// RFC 7009 revocation.
pub async fn revoke(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    creds: ClientCredentials,
    form: HashMap<String, String>,
) -> Result<()> {
    authenticate_before_writing(rt, &realm.id, &creds).await?;
    let (rt, at) = (rt.clone(), RealmRef::new(rt, realm));
    rt.db
        .clone()
        .write(move |conn| introspection::revoke(&rt, conn, &at.borrow(), &creds, &form, rt.now()))
        .await
}

/// Client authentication on the read pool, before a write: argon2 (tens of milliseconds, on
/// purpose) must not run while SQLite's single writer waits. A verified secret is cached, so
/// the write job's own check costs nothing; a refused one never reaches the writer.
async fn authenticate_before_writing(
    rt: &Arc<Runtime>,
    realm_id: &str,
    creds: &ClientCredentials,
) -> Result<()> {
    let (rt, realm_id, creds) = (rt.clone(), realm_id.to_string(), creds.clone());
    rt.db
        .clone()
        .run(move |conn| {
            clients::authenticate(conn, &rt.secrets, &realm_id, &creds, rt.now()).map(|_| ())
        })
        .await
}

/// The userinfo answer for an access token, and the client it was issued to (for CORS).
pub async fn userinfo(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    token: String,
) -> Result<(Client, Value)> {
    let (rt, at) = (rt.clone(), RealmRef::new(rt, realm));
    rt.db
        .clone()
        .run(move |conn| introspection::userinfo(&rt, conn, &at.borrow(), &token, rt.now()))
        .await
}

/// RP-initiated logout (`cookie`: the SSO cookie; `confirmation`: the CSRF token a posted
/// confirmation form carries).
pub async fn logout(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    raw: RawParams,
    cookie: Option<String>,
    confirmation: Option<String>,
) -> Result<LoggedOut> {
    let (rt, at) = (rt.clone(), RealmRef::new(rt, realm));
    rt.db
        .clone()
        .write(move |conn| {
            let (cookie, confirmation) = (cookie.as_deref(), confirmation.as_deref());
            logout::logout(
                &rt,
                conn,
                &at.borrow(),
                &raw,
                cookie,
                confirmation,
                rt.now(),
            )
        })
        .await
}

/// The account page's content for the SSO cookie, or None when nobody is signed in.
pub async fn account(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    cookie: Option<String>,
) -> Result<Option<Account>> {
    let (rt, realm_id) = (rt.clone(), realm.id.clone());
    rt.db
        .clone()
        .run(move |conn| account::overview(conn, &realm_id, cookie.as_deref(), rt.now()))
        .await
}
