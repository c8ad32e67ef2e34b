//! `/token`: client authentication (`client_secret_basic`, `client_secret_post`,
//! `private_key_jwt`), the grant (a code this IdP issued, unused, for the same redirect URI,
//! with its PKCE verifier; or a refresh token), then the answer the script makes.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::endpoints::params;
use super::keys::{unverified_claims, verify_with_jwks, Forgery};
use super::{claims, lock, AuthorizeRequest, ClientAuth, Exchange, IdTokenScript, Issued};
use super::{Shared, TokenRequest, TokenResponseScript};
use crate::common::oidc::challenge;

/// RFC 7523 §2.2.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An OAuth error answer (RFC 6749 §5.2).
struct Refusal {
    status: u16,
    error: &'static str,
    description: String,
}

fn invalid_client(description: &str) -> Refusal {
    Refusal {
        status: 401,
        error: "invalid_client",
        description: description.into(),
    }
}

fn invalid_grant(description: &str) -> Refusal {
    Refusal {
        status: 400,
        error: "invalid_grant",
        description: description.into(),
    }
}

impl Refusal {
    fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(
            actix_web::http::StatusCode::from_u16(self.status).expect("status"),
        );
        if self.status == 401 {
            response.insert_header(("www-authenticate", "Basic realm=\"forged-idp\""));
        }
        response.json(json!({"error": self.error, "error_description": self.description}))
    }
}

pub(super) async fn token(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = params(&body);
    let mut record = TokenRequest {
        form: form.clone(),
        client_auth: None,
        client_id: None,
        client_assertion: None,
        assertion_verified: None,
        status: 200,
        error: None,
    };
    let response = match answer(&shared, &req, &form, &mut record).await {
        Ok(body) => HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .json(body),
        Err(refusal) => {
            record.status = refusal.status;
            record.error = Some(refusal.error.to_string());
            refusal.response()
        }
    };
    let mut state = lock(&shared);
    state.counters.token += 1;
    state.token_requests.push(record);
    response
}

async fn answer(
    shared: &Shared,
    req: &HttpRequest,
    form: &BTreeMap<String, String>,
    record: &mut TokenRequest,
) -> Result<Value, Refusal> {
    authenticate(shared, req, form, record).await?;
    let grant = grant(shared, form)?;
    let exchange = &grant.exchange;
    let mut id_claims = claims::id_token(exchange, grant.lifetime);
    let forgery = grant
        .script
        .map_or(Forgery::Valid, |script| script(exchange, &mut id_claims));
    let id_token = {
        let mut state = lock(shared);
        let issued = Issued {
            authorization: grant.index,
            sub: id_claims.get("sub").cloned(),
        };
        let access_token = exchange.access_token.clone();
        state.access_tokens.insert(access_token, issued);
        state.keys.sign(&id_claims, "JWT", &forgery)
    };
    let request = &exchange.authorization.request;
    let mut body = json!({
        "access_token": exchange.access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
        "scope": request.scope.as_deref().unwrap_or("openid"),
        "refresh_token": grant.refresh_token,
    });
    if let Some(script) = grant.response_script {
        script(exchange, &mut body);
    }
    Ok(body)
}

/// `value` form-urldecoded (RFC 6749 §2.3.1 encodes Basic credentials so before base64).
fn form_decoded(value: &str) -> String {
    params(format!("v={value}").as_bytes())
        .remove("v")
        .unwrap_or_default()
}

/// Authenticates the client by the method it used, if the settings allow that method.
async fn authenticate(
    shared: &Shared,
    req: &HttpRequest,
    form: &BTreeMap<String, String>,
    record: &mut TokenRequest,
) -> Result<(), Refusal> {
    let (client_id, secret, allowed, jwks_uri, audiences, now) = {
        let state = lock(shared);
        let s = &state.settings;
        let audiences = [format!("{}/token", state.base), state.issuer_for(None)];
        let (id, secret) = (s.client_id.clone(), s.client_secret.clone());
        let (allowed, jwks_uri) = (s.client_auth.clone(), s.client_jwks_uri.clone());
        (id, secret, allowed, jwks_uri, audiences, state.now())
    };
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let (method, id, sent_secret) = if let Some(encoded) = basic {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let (id, secret) = decoded
            .as_deref()
            .and_then(|d| d.split_once(':'))
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let secret = Some(form_decoded(secret));
        (ClientAuth::SecretBasic, form_decoded(id), secret)
    } else if form.get("client_assertion_type").map(String::as_str) == Some(JWT_BEARER) {
        let assertion = form.get("client_assertion").cloned().unwrap_or_default();
        record.client_assertion = Some(assertion.clone());
        let claims = unverified_claims(&assertion).unwrap_or(Value::Null);
        let id = claims["sub"].as_str().unwrap_or_default().to_string();
        (ClientAuth::PrivateKeyJwt, id, None)
    } else if let Some(secret) = form.get("client_secret") {
        let id = form.get("client_id").cloned().unwrap_or_default();
        (ClientAuth::SecretPost, id, Some(secret.clone()))
    } else {
        return Err(invalid_client("no client authentication"));
    };
    record.client_auth = Some(method);
    record.client_id = Some(id.clone());
    if !allowed.contains(&method) {
        return Err(invalid_client(&format!(
            "{} is not allowed",
            method.as_str()
        )));
    }
    // RFC 6749 §3.2.1: a client_id in the form names the authenticated client.
    if id != client_id || form.get("client_id").is_some_and(|f| *f != id) {
        return Err(invalid_client("unknown client"));
    }
    match method {
        ClientAuth::SecretBasic | ClientAuth::SecretPost => {
            if sent_secret.as_deref() != Some(secret.as_str()) {
                return Err(invalid_client("wrong client secret"));
            }
        }
        ClientAuth::PrivateKeyJwt => {
            let Some(jwks_uri) = jwks_uri else {
                return Ok(());
            };
            let assertion = record.client_assertion.clone().unwrap_or_default();
            let verified = verify_assertion(&assertion, &jwks_uri, &client_id, &audiences, now)
                .await
                .is_ok();
            record.assertion_verified = Some(verified);
            if !verified {
                return Err(invalid_client("the client assertion does not verify"));
            }
        }
    }
    Ok(())
}

/// RFC 7523 §3: signed by a key of the client's JWKS, `iss` = `sub` = the client, `aud` the
/// token endpoint or the issuer, not expired.
async fn verify_assertion(
    assertion: &str,
    jwks_uri: &str,
    client_id: &str,
    audiences: &[String],
    now: i64,
) -> Result<(), String> {
    let jwks: Value = reqwest::get(jwks_uri)
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let claims = verify_with_jwks(assertion, &jwks)?;
    let aud_ok = match &claims["aud"] {
        Value::String(aud) => audiences.contains(aud),
        Value::Array(auds) => auds
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    };
    let exp_ok = claims["exp"].as_i64().is_some_and(|exp| exp > now);
    if claims["iss"] == client_id && claims["sub"] == client_id && aud_ok && exp_ok {
        Ok(())
    } else {
        Err(format!("claims refused: {claims}"))
    }
}

/// What the grant decided, taken out of the lock.
struct Grant {
    exchange: Exchange,
    index: usize,
    refresh_token: String,
    lifetime: i64,
    script: Option<Arc<IdTokenScript>>,
    response_script: Option<Arc<TokenResponseScript>>,
}

/// RFC 7636 §4.6: with a challenge recorded, the verifier must be sent and match it (`plain`
/// when no method was sent, §4.3).
fn check_pkce(request: &AuthorizeRequest, verifier: Option<&String>) -> Result<(), Refusal> {
    let Some(expected) = &request.code_challenge else {
        return Ok(());
    };
    let verifier = verifier
        .ok_or_else(|| invalid_grant("code_verifier is required: the request had a challenge"))?;
    let computed = match request.code_challenge_method.as_deref() {
        Some("S256") => challenge(verifier),
        _ => verifier.clone(),
    };
    if computed == *expected {
        Ok(())
    } else {
        Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ))
    }
}

fn grant(shared: &Shared, form: &BTreeMap<String, String>) -> Result<Grant, Refusal> {
    let mut state = lock(shared);
    let field = |name: &str| {
        form.get(name)
            .ok_or_else(|| invalid_grant(&format!("no {name}")))
    };
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let (index, refresh_token) = match grant_type.as_str() {
        "authorization_code" => {
            let code = field("code")?;
            let &(index, used) = state
                .codes
                .get(code)
                .ok_or_else(|| invalid_grant("a code this IdP did not issue"))?;
            if used && !state.allow_code_reuse {
                return Err(invalid_grant("the code was already used"));
            }
            let request = &state.authorizations[index].request;
            // RFC 6749 §4.1.3: the redirect_uri of the authorization request, identical.
            if form.get("redirect_uri") != request.redirect_uri.as_ref() {
                return Err(invalid_grant("redirect_uri is not the request's"));
            }
            check_pkce(request, form.get("code_verifier"))?;
            state.codes.insert(code.clone(), (index, true));
            let refresh_token = format!("rt-{}", uuid::Uuid::new_v4().simple());
            state.refresh_tokens.insert(refresh_token.clone(), index);
            (index, refresh_token)
        }
        "refresh_token" => {
            let token = field("refresh_token")?;
            let &index = state
                .refresh_tokens
                .get(token)
                .ok_or_else(|| invalid_grant("a refresh token this IdP did not issue"))?;
            (index, token.clone())
        }
        _ => {
            return Err(Refusal {
                status: 400,
                error: "unsupported_grant_type",
                description: format!("grant_type {grant_type:?}"),
            })
        }
    };
    let script = match state.scripts.id_token_once.pop_front() {
        Some(once) => Some(once),
        None => state.scripts.id_token.clone(),
    };
    Ok(Grant {
        exchange: Exchange {
            authorization: state.authorizations[index].clone(),
            grant_type,
            access_token: format!("at-{}", uuid::Uuid::new_v4().simple()),
            now: state.now(),
        },
        index,
        refresh_token,
        lifetime: state.settings.id_token_lifetime,
        script,
        response_script: state.scripts.token_response.clone(),
    })
}
