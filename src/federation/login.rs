//! A brokered login through an upstream OIDC IdP, as two steps the HTTP layer calls:
//!
//! - `start` (`{issuer}/broker/{alias}/login?request=…`): the login transaction (this realm,
//!   this browser) is handed to the IdP: a new `state`, nonce and PKCE verifier are stored, and
//!   the browser goes to the IdP's authorization endpoint.
//! - `callback` (`{issuer}/broker/{alias}/endpoint`): the `state` is taken (single use, same
//!   realm, same IdP, same browser), the code exchanged and the ID token checked outside any
//!   transaction, then one write transaction finds or creates the user, makes them a member of
//!   the IdP's organization and ends in the issuer's finish step.
//!
//! Every refusal is a page for the person with a correlation id; the log line with the same id
//! says what failed, never the tokens or the person's data.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::config::{ClientAuthentication, IdentityProviderDecl};
use crate::db::models::broker::{self as broker_rows, BrokerRequest, BrokerSession};
use crate::db::models::organization::{self as org_rows, Organization};
use crate::db::models::user::User;
use crate::db::{DbConnection, DbError, Micros};
use crate::federation::entra;
use crate::federation::first_login::{self, Found, UpstreamIdentity};
use crate::federation::idp_mappers::{self, Login, Property};
use crate::federation::mapping;
use crate::federation::oidc::{self, Credentials, Expected, Outgoing};
use crate::federation::runtime::Runtime;
use crate::federation::saml_login;
use crate::issuer::finish::{self, Arrival, Finished, Refusal as FinishRefusal, SignedIn};
use crate::issuer::jwt::Alg;
use crate::issuer::runtime::RealmRow;
use crate::issuer::tokens::{opaque, sha256_hex};
use crate::issuer::transaction;
use crate::membership::{self, Source};
use crate::users;

/// How long the IdP may take to send the person back.
const UPSTREAM_TIMEOUT: Micros = 15 * 60 * 1_000_000;

/// A refusal for the person: the HTTP status, the message, and the id the log line carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
    pub correlation: String,
}

/// What the broker's login endpoint answers.
pub enum Start {
    /// To the IdP's authorization endpoint.
    Redirect(String),
    /// A form the browser posts to the IdP (SAML's HTTP-POST binding).
    Post {
        url: String,
        fields: Vec<(String, String)>,
    },
    Refused(Refused),
}

/// What the broker's callback answers.
pub enum Callback {
    SignedIn(Box<SignedIn>),
    /// An SSO session opened without a login transaction (IdP-initiated): its cookie is set and
    /// the browser goes to `location`, the client's `initiate_login_uri` with `iss`.
    Landed {
        sso_cookie: String,
        location: String,
    },
    Refused(Refused),
}

pub(super) fn refused(status: u16, message: &str, reason: &str, alias: &str) -> Refused {
    let correlation = opaque("")[..16].to_string();
    tracing::info!(identity_provider = %alias, %correlation, %reason, "brokered login refused");
    Refused {
        status,
        message: message.to_string(),
        correlation,
    }
}

pub(super) const EXPIRED: &str =
    "The login took too long or was started elsewhere. Start again from the application.";
pub(super) const UNAVAILABLE: &str =
    "The identity provider could not be reached. Try again in a moment.";
pub(super) const NOT_VALID: &str = "The identity provider's answer could not be accepted.";
pub(super) const DISABLED_ORGANIZATION: &str = "This organization cannot be signed in to.";
pub(super) const OTHER_ORGANIZATION: &str =
    "This identity provider belongs to another organization.";

/// The IdP, if it exists in the realm and is enabled.
pub(super) fn provider<'a>(
    rt: &'a Runtime,
    realm: &RealmRow,
    alias: &str,
) -> Result<&'a IdentityProviderDecl, Refused> {
    match rt.provider(&realm.name, alias) {
        Some(idp) if idp.enabled => Ok(idp),
        Some(_) => Err(refused(
            403,
            "This identity provider is disabled.",
            "disabled",
            alias,
        )),
        None => Err(refused(
            404,
            "This identity provider does not exist.",
            "unknown",
            alias,
        )),
    }
}

/// The IdP's organization, which must exist and be enabled.
pub(super) fn organization(
    conn: &mut DbConnection,
    realm_id: &str,
    idp: &IdentityProviderDecl,
) -> Result<Option<Option<Organization>>, DbError> {
    match &idp.organization {
        None => Ok(Some(None)),
        Some(alias) => Ok(org_rows::find_by_alias(conn, realm_id, alias)?
            .filter(|o| o.enabled)
            .map(Some)),
    }
}

/// `GET {issuer}/broker/{alias}/login?request=…`.
pub async fn start(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    alias: &str,
    request_id: String,
    browser: Option<String>,
) -> Result<Start, DbError> {
    let idp = match provider(rt, realm, alias) {
        Ok(idp) => idp.clone(),
        Err(r) => return Ok(Start::Refused(r)),
    };
    let now = rt.issuer.now();
    let checked = {
        let (realm_id, idp, browser, request_id) = (
            realm.id.clone(),
            idp.clone(),
            browser.clone(),
            request_id.clone(),
        );
        rt.issuer
            .db
            .run(move |conn| -> Result<_, DbError> {
                let found =
                    transaction::find(conn, &realm_id, &request_id, browser.as_deref(), now)
                        .map_err(|e| DbError::Pool(e.to_string()))?;
                let Some(tx) = found else {
                    return Ok(Err((400, EXPIRED, "no such transaction for this browser")));
                };
                let Some(org) = organization(conn, &realm_id, &idp)? else {
                    return Ok(Err((
                        403,
                        DISABLED_ORGANIZATION,
                        "the organization is disabled",
                    )));
                };
                let idp_org = org.as_ref().map(|o| o.id.as_str());
                if tx.request.organization_id.is_some()
                    && tx.request.organization_id.as_deref() != idp_org
                {
                    return Ok(Err((403, OTHER_ORGANIZATION, "organization mismatch")));
                }
                Ok(Ok(tx))
            })
            .await?
    };
    let tx = match checked {
        Ok(tx) => tx,
        Err((status, message, reason)) => {
            return Ok(Start::Refused(refused(status, message, reason, alias)))
        }
    };
    if idp.is_saml() {
        return saml_login::start(rt, realm, &idp, &tx, now).await;
    }
    let metadata = match rt.upstreams.metadata(&rt.http, &idp, now).await {
        Ok(m) => m,
        Err(e) => {
            return Ok(Start::Refused(refused(
                502,
                UNAVAILABLE,
                &e.to_string(),
                alias,
            )))
        }
    };
    let keys = match rt
        .upstreams
        .keys(&rt.http, &idp, &metadata, None, now)
        .await
    {
        Ok(k) => k,
        Err(e) => {
            return Ok(Start::Refused(refused(
                502,
                UNAVAILABLE,
                &e.to_string(),
                alias,
            )))
        }
    };
    let (state, nonce) = (opaque(""), opaque(""));
    let verifier = idp.pkce.then(|| opaque(""));
    let redirect_uri = rt.callback_url(&realm.name, alias);
    let url = oidc::authorization_url(
        &idp,
        &metadata,
        &keys,
        &Outgoing {
            redirect_uri: &redirect_uri,
            state: &state,
            nonce: &nonce,
            pkce_verifier: verifier.as_deref(),
            prompt: tx.params.prompt.as_deref(),
            login_hint: tx.params.login_hint.as_deref(),
        },
    );
    let url = match url {
        Ok(u) => u,
        Err(e) => return Ok(Start::Refused(refused(502, UNAVAILABLE, &e.0, alias))),
    };
    let row = BrokerRequest {
        state_hash: sha256_hex(&state),
        realm_id: realm.id.clone(),
        auth_request_id: tx.request.id.clone(),
        identity_provider: alias.to_string(),
        browser_hash: tx.request.browser_hash.clone(),
        nonce,
        pkce_verifier: verifier,
        created_at: now,
        expires_at: now + UPSTREAM_TIMEOUT,
    };
    rt.issuer
        .db
        .write(move |conn| {
            broker_rows::delete_expired_requests(conn, now)?;
            broker_rows::insert_request(conn, &row)
        })
        .await?;
    Ok(Start::Redirect(url))
}

/// The person in the verified claims.
fn identity(idp: &IdentityProviderDecl, claims: &Value) -> Option<UpstreamIdentity> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    let subject = if idp.is_entra() && idp.subject_claim.is_none() {
        entra::subject(claims)?
    } else {
        text(idp.effective_subject_claim())?
    };
    let email = text("email");
    let email_verified = if idp.is_entra() {
        entra::email_verified(claims)
    } else {
        claims.get("email_verified").and_then(Value::as_bool) == Some(true)
    };
    let username = text("preferred_username")
        .or_else(|| text("upn"))
        .or_else(|| email.clone())
        .unwrap_or_else(|| subject.clone());
    Some(UpstreamIdentity {
        external_id: idp.effective_external_id_claim().and_then(text),
        first_name: text("given_name"),
        last_name: text("family_name"),
        subject,
        username,
        email,
        email_verified,
    })
}

/// A client assertion for private_key_jwt (RFC 7523 §2.2), signed with the realm's RS256 key.
async fn client_assertion(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    idp: &IdentityProviderDecl,
    token_endpoint: &str,
    now: Micros,
) -> Result<String, String> {
    let (issuer, realm_id) = (rt.issuer.clone(), realm.id.clone());
    let keys = rt
        .issuer
        .db
        .run(move |conn| issuer.keys.get(conn, &realm_id, now, None))
        .await
        .map_err(|e| e.to_string())?;
    let signer = keys
        .signer(Alg::RS256)
        .ok_or("the realm has no RS256 key")?;
    let now_s = now / 1_000_000;
    let claims = serde_json::json!({
        "iss": idp.client_id, "sub": idp.client_id, "aud": token_endpoint,
        "jti": opaque(""), "iat": now_s, "exp": now_s + 60,
    });
    signer.sign(&claims, "JWT").map_err(|e| e.to_string())
}

/// Claims of the ID token, with the userinfo's under them (the ID token's win).
fn merged(id_claims: Value, userinfo: Option<Value>) -> Value {
    match (userinfo, id_claims) {
        (Some(Value::Object(mut all)), Value::Object(id)) => {
            all.extend(id);
            Value::Object(all)
        }
        (_, id) => id,
    }
}

/// Takes the request Vestibule sent upstream under `key` (OIDC's `state`, SAML's request ID):
/// single use, so it is taken before anything else of the answer is looked at and a replay
/// finds none; then it must be this realm's, this IdP's, this browser's, and not expired.
pub(super) async fn take_request(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    alias: &str,
    key: &str,
    browser: Option<&str>,
    now: Micros,
) -> Result<Result<BrokerRequest, &'static str>, DbError> {
    let hash = sha256_hex(key);
    let taken = rt
        .issuer
        .db
        .write(move |conn| broker_rows::take_request(conn, &hash))
        .await?;
    let Some(request) = taken else {
        return Ok(Err("unknown or used request"));
    };
    let same_browser = browser.map(sha256_hex).as_deref() == Some(&request.browser_hash);
    if request.realm_id != realm.id
        || request.identity_provider != alias
        || !same_browser
        || request.expires_at <= now
    {
        return Ok(Err(
            "a request of another realm, IdP or browser, or expired",
        ));
    }
    Ok(Ok(request))
}

/// `GET {issuer}/broker/{alias}/endpoint?code=…&state=…` (or `error=…`).
pub async fn callback(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    alias: &str,
    query: HashMap<String, String>,
    browser: Option<String>,
) -> Result<Callback, DbError> {
    let idp = match provider(rt, realm, alias) {
        Ok(idp) => idp.clone(),
        Err(r) => return Ok(Callback::Refused(r)),
    };
    let now = rt.issuer.now();
    let refuse = |status, message: &str, reason: &str| {
        Ok(Callback::Refused(refused(status, message, reason, alias)))
    };
    let Some(state) = query.get("state").cloned() else {
        return refuse(400, EXPIRED, "no state");
    };
    let request = match take_request(rt, realm, alias, &state, browser.as_deref(), now).await? {
        Ok(r) => r,
        Err(reason) => return refuse(400, EXPIRED, reason),
    };
    if let Some(error) = query.get("error") {
        let reason = format!("the identity provider answered error={error}");
        let message = if error == "access_denied" {
            "The identity provider did not let you sign in."
        } else {
            "The identity provider could not sign you in."
        };
        return refuse(400, message, &reason);
    }
    let Some(code) = query.get("code").cloned() else {
        return refuse(400, NOT_VALID, "no code");
    };
    let metadata = match rt.upstreams.metadata(&rt.http, &idp, now).await {
        Ok(m) => m,
        Err(e) => return refuse(502, UNAVAILABLE, &e.to_string()),
    };
    // RFC 9207 §2.4: an IdP that says it sends `iss` must send its own.
    if metadata.iss_parameter_supported
        && !metadata.issuer.contains("{tenantid}")
        && query.get("iss") != Some(&metadata.issuer)
    {
        {
            return refuse(
                400,
                NOT_VALID,
                "the authorization response's iss is not the IdP's",
            );
        }
    }
    let keys = match rt
        .upstreams
        .keys(&rt.http, &idp, &metadata, None, now)
        .await
    {
        Ok(k) => k,
        Err(e) => return refuse(502, UNAVAILABLE, &e.to_string()),
    };
    let secret = idp
        .client_secret
        .as_ref()
        .and_then(|s| s.resolved.as_ref())
        .map(|s| s.expose().to_string());
    let credentials = match (idp.client_authentication, &secret) {
        (ClientAuthentication::PrivateKeyJwt, _) => {
            match client_assertion(rt, realm, &idp, &metadata.token_endpoint, now).await {
                Ok(jwt) => Credentials::Assertion(jwt),
                Err(e) => return refuse(500, UNAVAILABLE, &e),
            }
        }
        (_, Some(s)) => Credentials::Secret(s.clone()),
        (_, None) => return refuse(500, UNAVAILABLE, "no client secret"),
    };
    let redirect_uri = rt.callback_url(&realm.name, alias);
    let grant = oidc::Grant {
        redirect_uri: &redirect_uri,
        code: &code,
        pkce_verifier: request.pkce_verifier.as_deref(),
        credentials,
    };
    let tokens = oidc::exchange(&rt.http, &idp, &metadata, &keys, grant).await;
    let tokens = match tokens {
        Ok(t) => t,
        Err(oidc::ExchangeError::Unreachable(e)) => return refuse(502, UNAVAILABLE, &e),
        Err(oidc::ExchangeError::Refused(e)) => return refuse(400, NOT_VALID, &e),
    };
    // A `kid` the cached keys do not know refetches them (at most once per five minutes).
    let kid = oidc::kid_of(&tokens.id_token);
    let keys = match rt
        .upstreams
        .keys(&rt.http, &idp, &metadata, kid.as_deref(), now)
        .await
    {
        Ok(k) => k,
        Err(e) => return refuse(502, UNAVAILABLE, &e.to_string()),
    };
    let expected = Expected {
        nonce: &request.nonce,
        now,
        client_secret: secret.as_deref(),
        access_token: &tokens.access_token,
    };
    let id_claims = match oidc::verify_id_token(&idp, &metadata, &keys, &tokens.id_token, &expected)
    {
        Ok(c) => c,
        Err(e) => return refuse(400, NOT_VALID, &e.0),
    };
    let sub = id_claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let userinfo = match oidc::userinfo(&rt.http, &metadata, &tokens.access_token, &sub).await {
        Ok(u) => u,
        Err(e) => return refuse(400, NOT_VALID, &e.0),
    };
    if idp.is_entra() && !idp.allow_guests && entra::is_guest(&id_claims) {
        return refuse(
            403,
            "Guest accounts cannot sign in here.",
            "a guest of the tenant",
        );
    }
    let upstream_sid = id_claims
        .get("sid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let claims = merged(id_claims, userinfo);
    let Some(person) = identity(&idp, &claims) else {
        return refuse(400, NOT_VALID, "the claims name no subject");
    };
    let logout_subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let upstream = Upstream {
        person,
        claims,
        sid: upstream_sid,
        logout_subject,
        token: tokens.id_token,
        session_until: None,
    };
    arrive(
        rt,
        realm,
        &idp,
        Entry::Requested(request),
        browser,
        upstream,
        now,
    )
    .await
}

fn mapper_refusal(e: idp_mappers::MapperError) -> ArrivalError {
    tracing::info!(error = %e, "an IdP mapper refused the login");
    ArrivalError::Refused(NOT_VALID, "an IdP mapper refused the claims", 400)
}

/// Why the arrival's write transaction refused (and so rolled back).
#[derive(Debug, thiserror::Error)]
enum ArrivalError {
    #[error("{0}")]
    Refused(&'static str, &'static str, u16),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Who the IdP vouched for, what it said, and the upstream session.
pub(super) struct Upstream {
    pub(super) person: UpstreamIdentity,
    pub(super) claims: Value,
    pub(super) sid: Option<String>,
    /// Whom the IdP's logout messages name: OIDC's `sub` (pairwise at Entra), SAML's NameID.
    pub(super) logout_subject: String,
    /// What Vestibule's logout at the IdP needs: the ID token (OIDC), the NameID format (SAML).
    pub(super) token: String,
    /// When the IdP's session ends, if it says (SAML's SessionNotOnOrAfter): ours ends then too.
    pub(super) session_until: Option<Micros>,
}

/// How a brokered login began.
pub(super) enum Entry {
    /// Vestibule sent the request this answers, for a login transaction.
    Requested(BrokerRequest),
    /// The IdP sent the person unasked (a SAML IdP-initiated login, where allowed): the SSO
    /// session opens and the browser goes to the configured client's `initiate_login_uri`.
    Unasked { initiate_login_uri: String },
}

/// The one write transaction of a brokered login: find or create the user, the membership,
/// then the issuer's finish step. Any refusal rolls all of it back.
pub(super) async fn arrive(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    idp: &IdentityProviderDecl,
    entry: Entry,
    browser: Option<String>,
    upstream: Upstream,
    now: Micros,
) -> Result<Callback, DbError> {
    let (issuer, realm_id, idp2) = (rt.issuer.clone(), realm.id.clone(), idp.clone());
    let Upstream {
        mut person,
        claims,
        sid: upstream_sid,
        logout_subject,
        token: id_token,
        session_until,
    } = upstream;
    let outcome = rt
        .issuer
        .db
        .write(move |conn| -> Result<Callback, ArrivalError> {
            let idp = idp2;
            let org = organization(conn, &realm_id, &idp)?.ok_or(ArrivalError::Refused(
                DISABLED_ORGANIZATION,
                "the organization is disabled",
                403,
            ))?;
            // Username templates with a broker target name the identity at the IdP.
            let broker = idp_mappers::broker_identity(
                &claims,
                &idp.alias,
                &idp.mappers,
                &mut idp_mappers::new_uuid,
            )
            .map_err(mapper_refusal)?;
            if let Some(id) = broker.id {
                person.subject = id;
            }
            if let Some(name) = broker.username {
                person.username = name;
            }
            let linked = first_login::linked(conn, &idp, &realm_id, &person)?;
            let plan_for = |conn: &mut DbConnection, user: Option<&User>, first_login: bool| {
                let before = mapping::before(conn, user, &idp.alias)?;
                let login = Login {
                    alias: &idp.alias,
                    claims: &claims,
                    sync_mode: idp.sync_mode,
                    first_login,
                    before: &before,
                };
                idp_mappers::plan(&login, &idp.mappers, &mut idp_mappers::new_uuid)
                    .map_err(mapper_refusal)
            };
            let plan = plan_for(conn, linked.as_ref(), linked.is_none())?;
            let wanted = plan.properties.get(&Property::Username).cloned();
            let found = first_login::find_or_create(
                conn,
                &idp,
                &realm_id,
                org.as_ref(),
                &person,
                wanted.as_deref(),
                now,
            )
            .map_err(|e| match e {
                DbError::UniqueViolation(_) => ArrivalError::Refused(
                    "This account is already linked to another identity at this provider.",
                    "the user is linked to another subject",
                    409,
                ),
                other => ArrivalError::Db(other),
            })?
            .ok_or(ArrivalError::Refused(
                "You have no account here yet. Ask your administrator.",
                "first login allows existing users only",
                403,
            ))?;
            let user = found.user().clone();
            if !users::is_active(&user) {
                return Err(ArrivalError::Refused(
                    "This account is disabled.",
                    "the user is disabled",
                    403,
                ));
            }
            // A user found by externalId or email is new to this IdP: its mappers run as on a
            // first login, against the user as they are.
            let plan = match &found {
                Found::ByExternalId(u) | Found::ByEmail(u) => plan_for(conn, Some(u), true)?,
                _ => plan,
            };
            let target = mapping::Target {
                realm_id: &realm_id,
                organization_id: org.as_ref().map(|o| o.id.as_str()),
                user: &user,
                email_verified: idp.trust_email && person.email_verified,
            };
            mapping::apply(conn, &idp, &target, &plan, now)?;
            if let (true, Some(org)) = (idp.is_entra(), &org) {
                mapping::entra_groups(conn, &idp.alias, &org.id, &user, &claims, now)?;
            }
            if let Some(org) = &org {
                let source = Source::IdentityProvider {
                    alias: idp.alias.clone(),
                };
                membership::ensure_member(conn, &org.id, &user.id, &source, now)?;
            }
            let notes = BTreeMap::from([
                ("identity_provider".to_string(), idp.alias.clone()),
                (
                    "identity_provider_identity".to_string(),
                    person.username.clone(),
                ),
            ]);
            let transaction_id = match &entry {
                Entry::Requested(request) => request.auth_request_id.as_str(),
                Entry::Unasked { .. } => "",
            };
            let arrival = Arrival {
                realm_id: &realm_id,
                transaction_id,
                browser: browser.as_deref(),
                user_id: &user.id,
                notes,
                throttle: &[],
                organization_id: org.as_ref().map(|o| o.id.as_str()),
                session_until,
            };
            let broker_session = |session_id: &str| BrokerSession {
                session_id: session_id.to_string(),
                realm_id: realm_id.clone(),
                identity_provider: idp.alias.clone(),
                subject: logout_subject.clone(),
                upstream_sid: upstream_sid.clone(),
                id_token: id_token.clone(),
                created_at: now,
            };
            let failed =
                |e: crate::issuer::OAuthError| ArrivalError::Db(DbError::Pool(e.to_string()));
            if let Entry::Unasked { initiate_login_uri } = &entry {
                let Some((sso_cookie, session_id)) =
                    finish::open_unasked(&issuer, conn, &arrival, now).map_err(failed)?
                else {
                    return Err(ArrivalError::Refused(
                        "This account is disabled.",
                        "the user is disabled",
                        403,
                    ));
                };
                broker_rows::insert_session(conn, &broker_session(&session_id))?;
                return Ok(Callback::Landed {
                    sso_cookie,
                    location: initiate_login_uri.clone(),
                });
            }
            let finished = finish::finish(&issuer, conn, &arrival, now).map_err(failed)?;
            match finished {
                Finished::SignedIn(signed_in) => {
                    broker_rows::insert_session(conn, &broker_session(&signed_in.session_id))?;
                    Ok(Callback::SignedIn(signed_in))
                }
                Finished::Refused(FinishRefusal::Disabled) => Err(ArrivalError::Refused(
                    "This account is disabled.",
                    "the user is disabled",
                    403,
                )),
                Finished::Refused(FinishRefusal::NotMember) => Err(ArrivalError::Refused(
                    "You are not a member of this organization.",
                    "not a member of the pinned organization",
                    403,
                )),
                Finished::Expired => Err(ArrivalError::Refused(
                    EXPIRED,
                    "the login transaction is gone",
                    400,
                )),
            }
        })
        .await;
    match outcome {
        Ok(done) => Ok(done),
        Err(ArrivalError::Refused(message, reason, status)) => Ok(Callback::Refused(refused(
            status, message, reason, &idp.alias,
        ))),
        Err(ArrivalError::Db(e)) => Err(e),
    }
}
