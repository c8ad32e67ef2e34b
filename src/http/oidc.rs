//! The OpenID Provider over HTTP, in Keycloak's layout under `/realms/{realm}`: discovery,
//! certs, auth (and its login pages), token, userinfo, introspection, revocation, logout.
//! OAuth errors are rendered here once (RFC 6749 §5.2), person-facing ones as HTML pages.

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use minijinja::context;
use serde_json::{json, Value};

use crate::db::models::realm::{self, Realm as RealmRow};
use crate::db::models::sessions as session_rows;
use crate::issuer::clients::{self, Client, ClientCredentials};
use crate::issuer::flows::{self, AuthParams, LoginRefused, Rejection};
use crate::issuer::tokens::{self, Grant, Realm};
use crate::issuer::{issuer_url, jwt, OAuthError};
use crate::state::AppState;
use crate::web as pages;

const SESSION_COOKIE: &str = "VESTIBULE_SESSION";

/// An OAuth error for a machine client: JSON body, and `WWW-Authenticate` where due.
pub struct OAuthResponseError(OAuthError);

impl From<OAuthError> for OAuthResponseError {
    fn from(e: OAuthError) -> Self {
        OAuthResponseError(e)
    }
}

impl From<crate::db::DbError> for OAuthResponseError {
    fn from(e: crate::db::DbError) -> Self {
        OAuthResponseError(e.into())
    }
}

impl std::fmt::Debug for OAuthResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for OAuthResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl actix_web::ResponseError for OAuthResponseError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let description = match &self.0 {
            OAuthError::Protocol { description, .. } => description.clone(),
            other => {
                tracing::error!(error = %other, "OIDC request failed");
                "internal error".to_string()
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.0.status() == 401 {
            let scheme = if self.0.code() == "invalid_token" {
                "Bearer"
            } else {
                "Basic"
            };
            response.insert_header((
                header::WWW_AUTHENTICATE,
                format!("{scheme} realm=\"vestibule\", error=\"{}\"", self.0.code()),
            ));
        }
        response.json(json!({"error": self.0.code(), "error_description": description}))
    }
}

type OAuthResult = Result<HttpResponse, OAuthResponseError>;

fn now(state: &AppState) -> i64 {
    state.clock.now()
}

async fn realm_row(state: &AppState, name: &str) -> Result<RealmRow, OAuthError> {
    if let Some(found) = state
        .issuer
        .realms
        .read()
        .ok()
        .and_then(|m| m.get(name).cloned())
    {
        return Ok(found);
    }
    let key = name.to_string();
    let found = state
        .db
        .run(move |conn| realm::find_by_name(conn, &key).map_err(OAuthError::from))
        .await?
        .ok_or_else(|| OAuthError::new("invalid_request", "unknown realm"))?;
    if let Ok(mut map) = state.issuer.realms.write() {
        map.insert(name.to_string(), found.clone());
    }
    Ok(found)
}

fn issuer_of(state: &AppState, realm: &str) -> String {
    issuer_url(&state.base_url(), realm)
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Content-Security-Policy", "frame-ancestors 'none'"))
        .body(body)
}

/// A rendered page, built where HTTP types cannot go (inside database jobs).
struct Page(StatusCode, String);

impl Page {
    fn respond(self) -> HttpResponse {
        html(self.0, self.1)
    }
}

fn error_page(realm: &str, status: StatusCode, message: impl Into<String>) -> Page {
    Page(
        status,
        pages::render(
            "error.html",
            context! { realm => realm, message => message.into() },
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Discovery and keys

async fn discovery(state: web::Data<AppState>, path: web::Path<String>) -> OAuthResult {
    let realm = path.into_inner();
    realm_row(&state, &realm).await?;
    let iss = issuer_of(&state, &realm);
    let oidc = format!("{iss}/protocol/openid-connect");
    Ok(HttpResponse::Ok().insert_header(("Access-Control-Allow-Origin", "*")).json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{oidc}/auth"),
        "token_endpoint": format!("{oidc}/token"),
        "userinfo_endpoint": format!("{oidc}/userinfo"),
        "jwks_uri": format!("{oidc}/certs"),
        "end_session_endpoint": format!("{oidc}/logout"),
        "introspection_endpoint": format!("{oidc}/token/introspect"),
        "revocation_endpoint": format!("{oidc}/revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "roles", "groups", "web-origins", "acr", "offline_access", "organization", "address", "phone"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "acr", "azp", "name", "given_name", "family_name", "preferred_username", "email", "email_verified", "groups", "realm_access", "resource_access", "organization"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })))
}

async fn certs(state: web::Data<AppState>, path: web::Path<String>) -> OAuthResult {
    let realm = realm_row(&state, &path).await?;
    let st = state.clone();
    let jwks = state
        .db
        .run(move |conn| {
            let keys = st.issuer.keys.get(conn, &realm.id, now(&st), None)?;
            Ok::<_, OAuthError>(keys.jwks().clone())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(jwks))
}

// ---------------------------------------------------------------------------------------------
// Client authentication and CORS

fn client_credentials(
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(encoded) = basic {
        let decoded = B64
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded.
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        if form.contains_key("client_secret") {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        return Ok(ClientCredentials {
            client_id: Some(unescape(id)),
            secret: Some(unescape(secret)),
            basic: true,
        });
    }
    Ok(ClientCredentials {
        client_id: form.get("client_id").cloned(),
        secret: form.get("client_secret").cloned(),
        basic: false,
    })
}

fn with_cors(
    mut response: HttpResponse,
    req: &HttpRequest,
    client: Option<&Client>,
) -> HttpResponse {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if let (Some(origin), Some(client)) = (origin, client) {
        if client.allows_origin(origin) {
            if let Ok(v) = header::HeaderValue::from_str(origin) {
                response
                    .headers_mut()
                    .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                response
                    .headers_mut()
                    .insert(header::VARY, header::HeaderValue::from_static("Origin"));
            }
        }
    }
    response
}

async fn preflight(req: HttpRequest) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()));
    }
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Authorization, Content-Type",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "3600"))
        .finish()
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> OAuthResult {
    let realm_name = path.into_inner();
    let realm = realm_row(&state, &realm_name).await?;
    let form = form.into_inner();
    let creds = client_credentials(&req, &form)?;
    let issuer = issuer_of(&state, &realm_name);
    let st = state.clone();
    // A refused grant may still have written (a reused code or refresh token revokes what it
    // issued): protocol errors come back as the inner result and the transaction commits; only
    // database failures roll back.
    // client_credentials writes nothing: it runs on the parallel read path, so signing is not
    // queued behind SQLite's single writer. The other grants consume codes and rotate tokens.
    let read_only = form.get("grant_type").map(String::as_str) == Some("client_credentials");
    let job =
            move |conn: &mut crate::db::DbConnection| -> Result<Result<(Client, Value), OAuthError>, OAuthError> {
                let result = (|| {
                    let client =
                        clients::authenticate(conn, &st.issuer.secrets, &realm.id, &creds)?;
                    let grant_type = form
                        .get("grant_type")
                        .map(String::as_str)
                        .unwrap_or_default();
                    if !client.allows_grant(grant_type) {
                        return Err(match grant_type {
                            "authorization_code" | "refresh_token" | "client_credentials" => {
                                OAuthError::new(
                                    "unauthorized_client",
                                    format!("the client may not use {grant_type}"),
                                )
                            }
                            _ => OAuthError::new(
                                "unsupported_grant_type",
                                "grant_type is missing or not supported",
                            ),
                        });
                    }
                    let realm_ref = Realm {
                        id: &realm.id,
                        issuer: &issuer,
                    };
                    let now = now(&st);
                    let body = match grant_type {
                        "authorization_code" => {
                            code_grant(&st, conn, &realm_ref, &client, &form, now)?
                        }
                        "refresh_token" => {
                            refresh_grant(&st, conn, &realm_ref, &client, &form, now)?
                        }
                        _ => client_credentials_grant(&st, conn, &realm_ref, &client, &form, now)?,
                    };
                    Ok((client, body))
                })();
                match result {
                    Err(OAuthError::Db(e)) => Err(OAuthError::Db(e)),
                    other => Ok(other),
                }
            };
    let outcome = if read_only {
        state.db.run(job).await?
    } else {
        state.db.write(job).await?
    };
    let (client, body) = outcome?;
    let response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body);
    Ok(with_cors(response, &req, Some(&client)))
}

fn code_grant(
    state: &AppState,
    conn: &mut crate::db::DbConnection,
    realm: &Realm<'_>,
    client: &Client,
    form: &HashMap<String, String>,
    now: i64,
) -> Result<Value, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let code_hash = tokens::sha256_hex(code);
    let row = session_rows::code(conn, &code_hash)?
        .ok_or_else(|| OAuthError::invalid_grant("the code is not valid"))?;
    if row.client_pk != client.row.id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if !session_rows::use_code(conn, &code_hash, now)? {
        // RFC 6749 §4.1.2: a reused code revokes what it issued. Its access tokens are
        // stateless JWTs carrying the session's `sid`, so the session ends with them.
        session_rows::revoke_by_code(conn, &code_hash, now)?;
        session_rows::end_session(conn, &row.session_id, now)?;
        session_rows::revoke_session_tokens(conn, &row.session_id, now)?;
        return Err(OAuthError::invalid_grant(
            "the code was already used; tokens issued for it are revoked",
        ));
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    let params: AuthParams = serde_json::from_str(&row.params)
        .map_err(|e| OAuthError::new("server_error", e.to_string()))?;
    if form.get("redirect_uri") != Some(&params.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&params.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if flows::pkce_matches(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ))
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier given but no code_challenge was sent",
            ))
        }
        (None, None) => {}
    }
    let user = tokens::active_user(conn, &row.user_id)?;
    let session = tokens::live_session(conn, &row.session_id, now)?
        .ok_or_else(|| OAuthError::invalid_grant("the session has ended"))?;
    let scopes = crate::issuer::claims::grant_scopes(&params.scope, &client.settings);
    tokens::issue(
        state,
        conn,
        realm,
        Grant {
            client,
            user: &user,
            scopes,
            session: Some(&session),
            organization_id: session.organization_id.clone(),
            nonce: params.nonce.clone(),
            refresh: true,
            family_id: None,
            code_hash: Some(code_hash),
            subject: None,
        },
        now,
    )
}

fn refresh_grant(
    state: &AppState,
    conn: &mut crate::db::DbConnection,
    realm: &Realm<'_>,
    client: &Client,
    form: &HashMap<String, String>,
    now: i64,
) -> Result<Value, OAuthError> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let row = session_rows::refresh_by_hash(conn, &tokens::sha256_hex(presented))?
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is not valid"))?;
    if row.client_pk != client.row.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if row.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token was revoked"));
    }
    if !session_rows::use_refresh(conn, &row.id, now)? {
        // Reuse of a rotated token: someone else holds the family. Revoke all of it.
        session_rows::revoke_family(conn, &row.family_id, now)?;
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used; its family is revoked",
        ));
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let user = tokens::active_user(conn, &row.user_id)?;
    let session = match &row.session_id {
        Some(id) => tokens::live_session(conn, id, now)?,
        None => None,
    };
    if session.is_none() && !row.offline {
        return Err(OAuthError::invalid_grant("the session has ended"));
    }
    let original: Vec<String> = row.scope.split_whitespace().map(String::from).collect();
    let scopes = match form.get("scope") {
        Some(asked) => {
            let asked: Vec<String> = asked.split_whitespace().map(String::from).collect();
            if asked.iter().any(|s| !original.contains(s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "a refresh may only narrow the scope",
                ));
            }
            let mut narrowed = asked;
            narrowed.extend(
                client
                    .settings
                    .default_scopes
                    .iter()
                    .filter(|d| original.contains(d))
                    .cloned(),
            );
            narrowed.sort();
            narrowed.dedup();
            narrowed
        }
        None => original,
    };
    tokens::issue(
        state,
        conn,
        realm,
        Grant {
            client,
            user: &user,
            scopes,
            session: session.as_ref(),
            organization_id: row.organization_id.clone(),
            nonce: None,
            refresh: true,
            family_id: Some(row.family_id.clone()),
            code_hash: row.code_hash.clone(),
            subject: None,
        },
        now,
    )
}

fn client_credentials_grant(
    state: &AppState,
    conn: &mut crate::db::DbConnection,
    realm: &Realm<'_>,
    client: &Client,
    form: &HashMap<String, String>,
    now: i64,
) -> Result<Value, OAuthError> {
    if !client.row.confidential {
        return Err(OAuthError::new(
            "unauthorized_client",
            "client_credentials needs a confidential client",
        ));
    }
    let account = client
        .row
        .service_account_user_id
        .as_deref()
        .ok_or_else(|| {
            OAuthError::new("unauthorized_client", "the client has no service account")
        })?;
    let (user, subject) = state
        .issuer
        .service_accounts
        .service_account(conn, realm.id, client, account, now)?;
    let requested = form.get("scope").cloned().unwrap_or_default();
    let scopes = crate::issuer::claims::grant_scopes(&requested, &client.settings)
        .into_iter()
        .filter(|s| s != "openid" && s != "offline_access")
        .collect();
    tokens::issue(
        state,
        conn,
        realm,
        Grant {
            client,
            user: &user,
            scopes,
            session: None,
            organization_id: None,
            nonce: None,
            refresh: false,
            family_id: None,
            code_hash: None,
            subject: Some(subject),
        },
        now,
    )
}

// ---------------------------------------------------------------------------------------------
// Userinfo, introspection, revocation

fn bearer(req: &HttpRequest, form: Option<&HashMap<String, String>>) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
        .or_else(|| form.and_then(|f| f.get("access_token").cloned()))
}

async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> OAuthResult {
    let realm_name = path.into_inner();
    let realm = realm_row(&state, &realm_name).await?;
    let token = bearer(&req, form.as_deref())
        .ok_or_else(|| OAuthError::new("invalid_token", "a bearer token is required"))?;
    let issuer = issuer_of(&state, &realm_name);
    let st = state.clone();
    let (client, body) = state
        .db
        .run(move |conn| -> Result<(Option<Client>, Value), OAuthError> {
            let realm_ref = Realm {
                id: &realm.id,
                issuer: &issuer,
            };
            let now = now(&st);
            let claims = tokens::active_access_token(&st, conn, &realm_ref, &token, now)?
                .ok_or_else(|| {
                    OAuthError::new("invalid_token", "the access token is not active")
                })?;
            let scopes: Vec<String> = claims["scope"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect();
            if !scopes.iter().any(|s| s == "openid") {
                return Err(OAuthError::new(
                    "insufficient_scope",
                    "userinfo needs the openid scope",
                ));
            }
            let client =
                clients::find(conn, &realm.id, claims["azp"].as_str().unwrap_or_default())?
                    .ok_or_else(|| {
                        OAuthError::new("invalid_token", "the token's client is gone")
                    })?;
            let user = tokens::active_user(conn, claims["sub"].as_str().unwrap_or_default())
                .map_err(|_| OAuthError::new("invalid_token", "the user is disabled"))?;
            let subject = tokens::subject(conn, &realm.id, &user, &client)?;
            let session = match claims["sid"].as_str() {
                Some(sid) => tokens::live_session(conn, sid, now)?,
                None => None,
            };
            let chosen = session.as_ref().and_then(|s| s.organization_id.clone());
            let orgs = crate::issuer::claims::select_organizations(
                &scopes,
                &subject.organizations,
                chosen.as_deref(),
            );
            let notes = session
                .as_ref()
                .and_then(|s| serde_json::from_str(&s.notes).ok())
                .unwrap_or_default();
            let mappers = tokens::active_mappers(&st, conn, &realm.id, &client, &scopes, now)?;
            let input = crate::issuer::claims::ClaimInput {
                issuer: &issuer,
                client_id: client.client_id(),
                settings: &client.settings,
                person: &subject.person,
                scopes: &scopes,
                roles: &subject.roles,
                groups: &subject.groups,
                organizations: orgs.as_deref(),
                mappers: &mappers,
                session: None,
                notes: &notes,
                nonce: None,
                now: now / 1_000_000,
                expires: 0,
                jti: "",
            };
            let body = crate::issuer::claims::userinfo(&input);
            Ok((Some(client.clone()), body))
        })
        .await?;
    Ok(with_cors(
        HttpResponse::Ok().json(body),
        &req,
        client.as_ref(),
    ))
}

async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> OAuthResult {
    let realm_name = path.into_inner();
    let realm = realm_row(&state, &realm_name).await?;
    let form = form.into_inner();
    let creds = client_credentials(&req, &form)?;
    let issuer = issuer_of(&state, &realm_name);
    let st = state.clone();
    let body = state
        .db
        .run(move |conn| -> Result<Value, OAuthError> {
            let client = clients::authenticate(conn, &st.issuer.secrets, &realm.id, &creds)?;
            if !client.row.confidential {
                return Err(OAuthError::invalid_client("introspection needs a confidential client"));
            }
            let token = form.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
            let now = now(&st);
            let realm_ref = Realm { id: &realm.id, issuer: &issuer };
            if token.starts_with("rt_") {
                let Some(row) = session_rows::refresh_by_hash(conn, &tokens::sha256_hex(token))? else {
                    return Ok(json!({"active": false}));
                };
                let live = row.revoked_at.is_none() && row.used_at.is_none() && row.expires_at > now && tokens::active_user(conn, &row.user_id).is_ok();
                if !live {
                    return Ok(json!({"active": false}));
                }
                let owner = clients::find_by_pk(conn, &row.client_pk)?;
                return Ok(json!({
                    "active": true, "token_type": "Refresh", "sub": row.user_id, "scope": row.scope,
                    "client_id": owner.map(|c| c.row.client_id), "exp": row.expires_at / 1_000_000, "iss": issuer,
                }));
            }
            match tokens::active_access_token(&st, conn, &realm_ref, token, now)? {
                Some(mut claims) => {
                    claims["active"] = json!(true);
                    claims["client_id"] = claims["azp"].clone();
                    claims["token_type"] = json!("Bearer");
                    if let Some(user) = crate::db::models::user::find(conn, claims["sub"].as_str().unwrap_or_default())? {
                        claims["username"] = json!(user.username);
                    }
                    Ok(claims)
                }
                None => Ok(json!({"active": false})),
            }
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> OAuthResult {
    let realm_name = path.into_inner();
    let realm = realm_row(&state, &realm_name).await?;
    let form = form.into_inner();
    let creds = client_credentials(&req, &form)?;
    let issuer = issuer_of(&state, &realm_name);
    let st = state.clone();
    state
        .db
        .write(move |conn| -> Result<(), OAuthError> {
            let client = clients::authenticate(conn, &st.issuer.secrets, &realm.id, &creds)?;
            let token = form
                .get("token")
                .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
            let now = now(&st);
            // RFC 7009 §2.2: unknown or foreign tokens are answered 200 all the same.
            if let Some(row) = session_rows::refresh_by_hash(conn, &tokens::sha256_hex(token))? {
                if row.client_pk == client.row.id {
                    session_rows::revoke_family(conn, &row.family_id, now)?;
                }
                return Ok(());
            }
            let realm_ref = Realm {
                id: &realm.id,
                issuer: &issuer,
            };
            if let Some(claims) = tokens::active_access_token(&st, conn, &realm_ref, token, now)? {
                if claims["azp"] == client.client_id() {
                    if let (Some(jti), Some(exp)) = (claims["jti"].as_str(), claims["exp"].as_i64())
                    {
                        session_rows::revoke_access_token(conn, jti, exp * 1_000_000)?;
                    }
                }
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint and login pages

fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_string())
}

fn cookie_for(state: &AppState, realm: &str, value: String, max_age_secs: i64) -> Cookie<'static> {
    let secure = state.base_url().starts_with("https://");
    Cookie::build(SESSION_COOKIE, value)
        .path(format!("/realms/{realm}/"))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

/// Sends the browser back to the client with `params` (query or form_post), adding `iss`.
fn back_to_client(
    state: &AppState,
    realm: &str,
    params: &AuthParams,
    mut fields: Vec<(String, String)>,
) -> HttpResponse {
    if let Some(s) = &params.state {
        fields.push(("state".into(), s.clone()));
    }
    fields.push(("iss".into(), issuer_of(state, realm)));
    if params.response_mode == "form_post" {
        return html(
            StatusCode::OK,
            pages::render(
                "form_post.html",
                context! { redirect_uri => params.redirect_uri, fields => fields },
            ),
        );
    }
    let mut url = match url::Url::parse(&params.redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return error_page(
                realm,
                StatusCode::BAD_REQUEST,
                "the redirect URI is not valid",
            )
            .respond()
        }
    };
    url.query_pairs_mut().extend_pairs(fields.iter());
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_string()))
        .finish()
}

fn login_page(
    realm: &str,
    request_id: &str,
    csrf: &str,
    organization: Option<&str>,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Page {
    Page(
        status,
        pages::render(
            "login.html",
            context! {
                realm => realm, action => format!("/realms/{realm}/login-actions/authenticate"),
                request_id => request_id, csrf => csrf, organization => organization, username => username, error => error,
            },
        ),
    )
}

fn organization_page(
    realm: &str,
    request_id: &str,
    csrf: &str,
    slug: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Page {
    Page(
        status,
        pages::render(
            "organization.html",
            context! {
                realm => realm, action => format!("/realms/{realm}/login-actions/organization"),
                request_id => request_id, csrf => csrf, slug => slug, error => error,
            },
        ),
    )
}

enum AuthOutcome {
    Page(Page),
    Code {
        params: AuthParams,
        code: String,
    },
    Redirect {
        params: AuthParams,
        error: &'static str,
        description: String,
    },
}

/// A browser request's parameters (query and form together) and its realm, or the error page.
async fn browser_request(
    state: &AppState,
    realm_name: &str,
    query: web::Query<HashMap<String, String>>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> Result<(RealmRow, HashMap<String, String>), Page> {
    let mut raw = query.into_inner();
    if let Some(form) = form {
        raw.extend(form.into_inner());
    }
    match realm_row(state, realm_name).await {
        Ok(realm) => Ok((realm, raw)),
        Err(_) => Err(error_page(
            realm_name,
            StatusCode::NOT_FOUND,
            "unknown realm",
        )),
    }
}

async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let (realm, raw) = match browser_request(&state, &realm_name, query, form).await {
        Ok(found) => found,
        Err(page) => return page.respond(),
    };
    let cookie = session_cookie(&req);
    let st = state.clone();
    let name = realm_name.clone();
    let outcome = state
        .db
        .write(move |conn| -> Result<AuthOutcome, OAuthError> {
            let now = now(&st);
            let (client, params) = match flows::validate(conn, &realm.id, &raw) {
                Ok(ok) => ok,
                Err(Rejection::Page(p)) => {
                    return Ok(AuthOutcome::Page(error_page(
                        &name,
                        StatusCode::BAD_REQUEST,
                        p.0,
                    )))
                }
                Err(Rejection::Redirect(r)) => {
                    return Ok(AuthOutcome::Redirect {
                        params: r.params,
                        error: r.error,
                        description: r.description,
                    })
                }
                Err(Rejection::Internal(e)) => return Err(e),
            };
            let org = match &params.organization {
                Some(alias) => match flows::organization(conn, &realm.id, alias) {
                    Ok(o) => Some(o),
                    Err(_) => {
                        return Ok(AuthOutcome::Page(error_page(
                            &name,
                            StatusCode::BAD_REQUEST,
                            format!("The organization \"{alias}\" is unknown or disabled."),
                        )))
                    }
                },
                None => None,
            };
            let prompt_login = params
                .prompt
                .as_deref()
                .is_some_and(|p| p.split_whitespace().any(|x| x == "login"));
            let prompt_none = params
                .prompt
                .as_deref()
                .is_some_and(|p| p.split_whitespace().any(|x| x == "none"));
            let session = match &cookie {
                Some(c) => flows::session_from_cookie(conn, &realm.id, c, now)?,
                None => None,
            };
            let fresh_enough = |s: &session_rows::Session| {
                params
                    .max_age
                    .is_none_or(|m| (now - s.auth_time) / 1_000_000 <= m)
            };
            if let Some(session) = session.filter(|s| !prompt_login && fresh_enough(s)) {
                let user_ok = tokens::active_user(conn, &session.user_id).is_ok();
                let member_ok = match &org {
                    Some(o) => flows::is_member(conn, &o.id, &session.user_id)?,
                    None => true,
                };
                if user_ok && member_ok {
                    if let Some(o) = &org {
                        session_rows::set_session_organization(conn, &session.id, Some(&o.id))?;
                    }
                    let session = session_rows::session(conn, &session.id)?.unwrap_or(session);
                    let code = flows::issue_code(
                        conn,
                        &realm.id,
                        &client,
                        &session,
                        &params,
                        now,
                        st.config.issuer.code_lifespan_secs,
                    )?;
                    return Ok(AuthOutcome::Code { params, code });
                }
                if !member_ok && !prompt_none {
                    return Ok(AuthOutcome::Page(error_page(
                        &name,
                        StatusCode::FORBIDDEN,
                        "You are not a member of this organization.",
                    )));
                }
            }
            if prompt_none {
                return Ok(AuthOutcome::Redirect {
                    params,
                    error: "login_required",
                    description: "the user is not signed in".into(),
                });
            }
            let request = flows::begin(
                conn,
                &realm.id,
                &client,
                &params,
                org.as_ref().map(|o| o.id.as_str()),
                now,
                st.config.issuer.login_timeout_secs,
            )?;
            if org.is_none() && client.settings.organization_prompt {
                return Ok(AuthOutcome::Page(organization_page(
                    &name,
                    &request.id,
                    &request.csrf_token,
                    "",
                    None,
                    StatusCode::OK,
                )));
            }
            let hint = params.login_hint.clone().unwrap_or_default();
            Ok(AuthOutcome::Page(login_page(
                &name,
                &request.id,
                &request.csrf_token,
                org.as_ref().map(|o| o.name.as_str()),
                &hint,
                None,
                StatusCode::OK,
            )))
        })
        .await;
    match outcome {
        Ok(AuthOutcome::Page(page)) => page.respond(),
        Ok(AuthOutcome::Code { params, code }) => {
            back_to_client(&state, &realm_name, &params, vec![("code".into(), code)])
        }
        Ok(AuthOutcome::Redirect {
            params,
            error,
            description,
        }) => back_to_client(
            &state,
            &realm_name,
            &params,
            vec![
                ("error".into(), error.into()),
                ("error_description".into(), description),
            ],
        ),
        Err(e) => {
            tracing::error!(error = %e, "authorization request failed");
            error_page(
                &realm_name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again.",
            )
            .respond()
        }
    }
}

fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

async fn login_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    let form = form.into_inner();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (request_id, csrf, username, password) = (
        field("request"),
        field("csrf"),
        field("username"),
        field("password"),
    );
    let ip = client_ip(&req);
    let st = state.clone();
    let name = realm_name.clone();
    // The password check (argon2) runs outside the write queue: it is slow on purpose.
    let checked = state
        .db
        .run({
            let (st, request_id, csrf, username, password, realm_id) = (
                st.clone(),
                request_id.clone(),
                csrf.clone(),
                username.clone(),
                password.clone(),
                realm.id.clone(),
            );
            move |conn| -> Result<_, OAuthError> {
                let now = now(&st);
                let (request, params) = flows::pending(conn, &request_id, &csrf, now)?;
                let attempt = flows::LoginAttempt {
                    realm_id: &realm_id,
                    org_id: request.organization_id.as_deref(),
                    login: &username,
                    password: &password,
                    ip: &ip,
                };
                let outcome = flows::password_login(&st, conn, &attempt, now)?;
                let org_name = match &request.organization_id {
                    Some(id) => crate::db::models::organization::find(conn, id)?.map(|o| o.name),
                    None => None,
                };
                Ok((request, params, outcome, org_name))
            }
        })
        .await;
    let (request, params, outcome, org_name) = match checked {
        Ok(v) => v,
        Err(OAuthError::Protocol { description, .. }) => {
            return error_page(&name, StatusCode::BAD_REQUEST, description).respond()
        }
        Err(e) => {
            tracing::error!(error = %e, "login failed");
            return error_page(
                &name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again.",
            )
            .respond();
        }
    };
    let user = match outcome {
        Ok(user) => user,
        Err(refused) => {
            let message = match refused {
                LoginRefused::Invalid => "Invalid username or password.".to_string(),
                LoginRefused::Locked(secs) => {
                    format!("Too many failed attempts. Try again in {secs} seconds.")
                }
                LoginRefused::Disabled => "This account is disabled.".to_string(),
                LoginRefused::NotMember => "You are not a member of this organization.".to_string(),
            };
            let status = if matches!(refused, LoginRefused::Locked(_)) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            return login_page(
                &name,
                &request.id,
                &request.csrf_token,
                org_name.as_deref(),
                &username,
                Some(&message),
                status,
            )
            .respond();
        }
    };
    let sso_secs = st.config.issuer.sso_session_max_secs;
    let issued = state
        .db
        .write({
            let st = st.clone();
            move |conn| -> Result<_, OAuthError> {
                let now = now(&st);
                let client = clients::find_by_pk(conn, &request.client_pk)?
                    .ok_or_else(|| OAuthError::invalid_request("the client is gone"))?;
                let (session, cookie) = flows::open_session(
                    conn,
                    &request.realm_id,
                    &user,
                    request.organization_id.as_deref(),
                    now,
                    sso_secs,
                )?;
                session_rows::delete_auth_request(conn, &request.id)?;
                let code = flows::issue_code(
                    conn,
                    &request.realm_id,
                    &client,
                    &session,
                    &params,
                    now,
                    st.config.issuer.code_lifespan_secs,
                )?;
                Ok((cookie, code, params))
            }
        })
        .await;
    match issued {
        Ok((cookie, code, params)) => {
            let mut response =
                back_to_client(&state, &realm_name, &params, vec![("code".into(), code)]);
            let _ = response.add_cookie(&cookie_for(&state, &realm_name, cookie, sso_secs));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "login could not complete");
            error_page(
                &realm_name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again.",
            )
            .respond()
        }
    }
}

async fn organization_action(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    let form = form.into_inner();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (request_id, csrf, slug) = (
        field("request"),
        field("csrf"),
        field("organization").trim().to_string(),
    );
    let st = state.clone();
    let name = realm_name.clone();
    let outcome = state
        .db
        .write(move |conn| -> Result<Page, OAuthError> {
            let now = now(&st);
            let (request, params) = flows::pending(conn, &request_id, &csrf, now)?;
            match flows::organization(conn, &realm.id, &slug) {
                Ok(org) => {
                    session_rows::set_auth_request_organization(conn, &request.id, &org.id)?;
                    let hint = params.login_hint.unwrap_or_default();
                    Ok(login_page(
                        &name,
                        &request.id,
                        &request.csrf_token,
                        Some(&org.name),
                        &hint,
                        None,
                        StatusCode::OK,
                    ))
                }
                // No list, no hint of which organizations exist (seed 003).
                Err(_) => Ok(organization_page(
                    &name,
                    &request.id,
                    &request.csrf_token,
                    &slug,
                    Some("We don't know this organization. Check the identifier and try again."),
                    StatusCode::NOT_FOUND,
                )),
            }
        })
        .await;
    match outcome {
        Ok(page) => page.respond(),
        Err(OAuthError::Protocol { description, .. }) => {
            error_page(&realm_name, StatusCode::BAD_REQUEST, description).respond()
        }
        Err(e) => {
            tracing::error!(error = %e, "organization step failed");
            error_page(
                &realm_name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong. Try again.",
            )
            .respond()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Logout and account

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    form: Option<web::Form<HashMap<String, String>>>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let (realm, raw) = match browser_request(&state, &realm_name, query, form).await {
        Ok(found) => found,
        Err(page) => return page.respond(),
    };
    let cookie = session_cookie(&req);
    let st = state.clone();
    let issuer = issuer_of(&state, &realm_name);
    let outcome = state
        .db
        .write(
            move |conn| -> Result<Result<Option<String>, String>, OAuthError> {
                let now = now(&st);
                // The hint names the client and session; an expired hint is still a hint, but its
                // signature and issuer must hold.
                let hint = match raw.get("id_token_hint") {
                    Some(token) => {
                        let kid = jwt::header_kid(token).unwrap_or_default();
                        let keys = st.issuer.keys.get(conn, &realm.id, now, Some(&kid))?;
                        match jwt::verify(token, keys.verifying()) {
                            Ok(claims) if claims["iss"] == issuer => Some(claims),
                            _ => return Ok(Err("The id_token_hint is not valid.".into())),
                        }
                    }
                    None => None,
                };
                let client_id = raw.get("client_id").cloned().or_else(|| {
                    hint.as_ref()
                        .and_then(|c| c["azp"].as_str().map(String::from))
                });
                let redirect = match raw.get("post_logout_redirect_uri") {
                    Some(uri) => {
                        let client = match &client_id {
                            Some(id) => clients::find(conn, &realm.id, id)?,
                            None => None,
                        };
                        match client {
                            Some(c) if c.allows_post_logout_redirect(uri) => {
                                let mut url = url::Url::parse(uri).map_err(|_| {
                                    OAuthError::invalid_request("bad post_logout_redirect_uri")
                                })?;
                                if let Some(s) = raw.get("state") {
                                    url.query_pairs_mut().append_pair("state", s);
                                }
                                Some(url.to_string())
                            }
                            _ => return Ok(Err(
                                "The post_logout_redirect_uri is not registered for this client."
                                    .into(),
                            )),
                        }
                    }
                    None => None,
                };
                let mut ended = Vec::new();
                if let Some(c) = &cookie {
                    if let Some(s) = flows::session_from_cookie(conn, &realm.id, c, now)? {
                        ended.push(s.id);
                    }
                }
                if let Some(sid) = hint.as_ref().and_then(|c| c["sid"].as_str()) {
                    ended.push(sid.to_string());
                }
                for sid in ended {
                    session_rows::end_session(conn, &sid, now)?;
                    session_rows::revoke_session_tokens(conn, &sid, now)?;
                }
                Ok(Ok(redirect))
            },
        )
        .await;
    let mut response = match outcome {
        Ok(Ok(Some(url))) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .finish(),
        Ok(Ok(None)) => html(
            StatusCode::OK,
            pages::render("logged_out.html", context! { realm => realm_name.clone() }),
        ),
        Ok(Err(message)) => {
            return error_page(&realm_name, StatusCode::BAD_REQUEST, message).respond()
        }
        Err(e) => {
            tracing::error!(error = %e, "logout failed");
            return error_page(
                &realm_name,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong.",
            )
            .respond();
        }
    };
    let _ = response.add_removal_cookie(&cookie_for(&state, &realm_name, String::new(), 0));
    response
}

async fn account(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let realm_name = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    let cookie = session_cookie(&req);
    let st = state.clone();
    let shown = state
        .db
        .run(move |conn| -> Result<Option<String>, OAuthError> {
            let now = now(&st);
            let Some(session) = (match &cookie {
                Some(c) => flows::session_from_cookie(conn, &realm.id, c, now)?,
                None => None,
            }) else {
                return Ok(None);
            };
            let user = tokens::active_user(conn, &session.user_id)?;
            let orgs: Vec<_> = crate::db::models::membership::enabled_organizations(conn, &user.id)?
                .into_iter()
                .map(|o| context! { name => o.name, alias => o.alias })
                .collect();
            let name = [user.first_name.clone(), user.last_name.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            Ok(Some(pages::render("account.html", context! {
                realm => realm.name, name => if name.is_empty() { user.username.clone() } else { name },
                username => user.username, email => user.email, organizations => orgs,
                identities => Vec::<String>::new(), logout => format!("/realms/{}/protocol/openid-connect/logout", realm.name),
            })))
        })
        .await;
    match shown {
        Ok(Some(page)) => html(StatusCode::OK, page),
        Ok(None) | Err(_) => {
            // Not signed in: through the built-in `account` client's login, back here.
            let iss = issuer_of(&state, &realm_name);
            let mut url = match url::Url::parse(&format!("{iss}/protocol/openid-connect/auth")) {
                Ok(u) => u,
                Err(_) => {
                    return error_page(
                        &realm_name,
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "bad issuer URL",
                    )
                    .respond()
                }
            };
            let challenge = tokens::opaque("");
            url.query_pairs_mut()
                .append_pair("client_id", "account")
                .append_pair("redirect_uri", &format!("{iss}/account"))
                .append_pair("response_type", "code")
                .append_pair("scope", "openid")
                .append_pair("code_challenge", &challenge[..43])
                .append_pair("code_challenge_method", "S256");
            HttpResponse::Found()
                .insert_header((header::LOCATION, url.to_string()))
                .finish()
        }
    }
}

/// The issuer's routes, under `/realms/{realm}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let oidc = "/protocol/openid-connect";
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery),
    )
    .service(
        web::resource(format!("{oidc}/certs"))
            .route(web::get().to(certs))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    )
    .service(
        web::resource(format!("{oidc}/auth"))
            .route(web::get().to(authorize))
            .route(web::post().to(authorize)),
    )
    .service(
        web::resource(format!("{oidc}/token"))
            .route(web::post().to(token))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    )
    .service(
        web::resource(format!("{oidc}/userinfo"))
            .route(web::get().to(userinfo))
            .route(web::post().to(userinfo))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
    )
    .service(web::resource(format!("{oidc}/token/introspect")).route(web::post().to(introspect)))
    .service(web::resource(format!("{oidc}/revoke")).route(web::post().to(revoke)))
    .service(
        web::resource(format!("{oidc}/logout"))
            .route(web::get().to(logout))
            .route(web::post().to(logout)),
    )
    .route("/login-actions/authenticate", web::post().to(login_action))
    .route(
        "/login-actions/organization",
        web::post().to(organization_action),
    )
    .route("/account", web::get().to(account));
}
