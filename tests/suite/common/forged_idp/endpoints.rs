//! The forged IdP's HTTP side, but for `/token` (`token.rs`): discovery, `/authorize`,
//! `/userinfo`, `/jwks` and the end-session endpoint.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::Service;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use super::{claims, lock, token, Authorization, AuthorizeRequest, Flavor, Shared, State};

/// Serves `shared` on `listener` in a task of the current runtime; the handle stops it.
pub(super) fn serve(shared: Arc<Shared>, listener: TcpListener) -> actix_web::dev::ServerHandle {
    let data = web::Data::from(shared.clone());
    let server = HttpServer::new(move || {
        let timed = shared.clone();
        App::new()
            .app_data(data.clone())
            .wrap_fn(move |req, srv| {
                let (path, arrived) = (req.path().to_string(), Instant::now());
                let answer = srv.call(req);
                let timed = timed.clone();
                async move {
                    let answer = answer.await;
                    lock(&timed).busy.add(&path, arrived.elapsed());
                    answer
                }
            })
            .route(
                "/.well-known/openid-configuration",
                web::get().to(discovery),
            )
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                web::get().to(discovery),
            )
            .route("/authorize", web::get().to(authorize))
            .route("/token", web::post().to(token::token))
            .route("/userinfo", web::get().to(userinfo))
            .route("/userinfo", web::post().to(userinfo))
            .route("/jwks", web::get().to(jwks))
            .route("/logout", web::get().to(end_session))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    handle
}

/// `uri` with `params` appended to its query.
pub(super) fn with_query(uri: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return uri.to_string();
    }
    let mut url = url::Url::parse(uri).expect("an absolute URI");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// A query string or form body as a map (the last value of a repeated name).
pub(super) fn params(encoded: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(encoded).into_owned().collect()
}

/// The provider metadata (OIDC Discovery 1.0 §3) naming `issuer`.
fn metadata(state: &State, issuer: &str) -> Value {
    let base = &state.base;
    let settings = &state.settings;
    let methods: Vec<&str> = settings.client_auth.iter().map(|m| m.as_str()).collect();
    let subject_type = match settings.flavor {
        Flavor::Generic => "public",
        Flavor::Entra { .. } => "pairwise",
    };
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "end_session_endpoint": format!("{base}/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": [subject_type],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "id_token_signing_alg_values_supported": state.keys.algorithms(),
        "token_endpoint_auth_methods_supported": methods,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": settings.iss_in_authorization_response,
        "backchannel_logout_supported": settings.backchannel_logout,
        "backchannel_logout_session_supported": settings.backchannel_logout,
    })
}

/// `/.well-known/openid-configuration`, and Entra's `/{tenant}/v2.0/...`: `common` and
/// `organizations` answer the `{tenantid}` template (federation.md §1.1), `consumers` the
/// consumer tenant, anything else that tenant's own issuer.
async fn discovery(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let (mut document, script) = {
        let mut state = lock(&shared);
        state.counters.discovery += 1;
        let issuer = match (req.match_info().get("tenant"), &state.settings.flavor) {
            (None, _) => state.issuer_for(None),
            (Some(_), Flavor::Generic) => return HttpResponse::NotFound().finish(),
            (Some("common" | "organizations"), Flavor::Entra { .. }) => {
                format!("{}/{{tenantid}}/v2.0", state.base)
            }
            (Some("consumers"), Flavor::Entra { .. }) => {
                state.issuer_for(Some(claims::CONSUMER_TENANT))
            }
            (Some(tid), Flavor::Entra { .. }) => state.issuer_for(Some(tid)),
        };
        (metadata(&state, &issuer), state.scripts.discovery.clone())
    };
    if let Some(script) = script {
        script(req.path(), &mut document);
    }
    HttpResponse::Ok().json(document)
}

/// `/authorize`: no login page. Records the request and sends the browser back at once with a
/// code, or with the refusal a test queued.
async fn authorize(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let request = AuthorizeRequest::from_params(params(req.query_string().as_bytes()));
    let mut state = lock(&shared);
    state.requests.push(request.clone());
    // RFC 6749 §4.1.2.1: a wrong client or redirect URI is shown, never redirected to.
    if request.client_id.as_deref() != Some(state.settings.client_id.as_str()) {
        return HttpResponse::BadRequest().body("unknown client_id");
    }
    let Some(redirect_uri) = request
        .redirect_uri
        .clone()
        .filter(|uri| url::Url::parse(uri).is_ok())
    else {
        return HttpResponse::BadRequest().body("a redirect_uri is required");
    };
    let mut response = Vec::new();
    let refusal = state.refusals.pop_front().or_else(|| {
        (request.response_type.as_deref() != Some("code")).then(|| {
            let error = "unsupported_response_type";
            (error.into(), "only the code flow is served".into())
        })
    });
    let user = state.user.clone();
    let issuer = state.issuer_for(user.tid());
    let (error, code) = match refusal {
        Some((error, description)) => {
            response.push(("error".into(), error));
            response.push(("error_description".into(), description));
            (true, String::new())
        }
        None => {
            let code = format!("code-{}", uuid::Uuid::new_v4().simple());
            response.push(("code".into(), code.clone()));
            (false, code)
        }
    };
    if let Some(value) = &request.state {
        response.push(("state".into(), value.clone()));
    }
    // RFC 9207 §2: `iss` on successful and error responses alike.
    if state.settings.iss_in_authorization_response {
        response.push(("iss".into(), issuer.clone()));
    }
    let location = with_query(&redirect_uri, &response);
    if !error {
        let authorization = Authorization {
            request,
            user,
            issuer,
            code: code.clone(),
            sid: format!("sid-{}", uuid::Uuid::new_v4().simple()),
            auth_time: state.now(),
            response,
        };
        state.authorizations.push(authorization);
        let index = state.authorizations.len() - 1;
        state.codes.insert(code, (index, false));
    }
    HttpResponse::Found()
        .insert_header(("location", location))
        .finish()
}

/// `/userinfo` (OIDC Core §5.3): the bearer token in the header (RFC 6750 §2.1) or the form
/// body (§2.2). The claims are the ID token's `sub` and the user's claims, then the script's.
async fn userinfo(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let from_header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(String::from);
    let token = from_header.or_else(|| params(&body).remove("access_token"));
    let found = {
        let mut state = lock(&shared);
        state.counters.userinfo += 1;
        token
            .and_then(|t| state.access_tokens.get(&t))
            .map(|issued| {
                let authorization = state.authorizations[issued.authorization].clone();
                let sub = issued.sub.clone();
                (authorization, sub, state.scripts.userinfo.clone())
            })
    };
    let Some((authorization, sub, script)) = found else {
        return HttpResponse::Unauthorized()
            .insert_header(("www-authenticate", "Bearer error=\"invalid_token\""))
            .finish();
    };
    let mut claims = Value::Object(authorization.user.claims.clone());
    claims["sub"] = sub.unwrap_or_else(|| json!(authorization.user.sub));
    if let Some(script) = script {
        script(&authorization, &mut claims);
    }
    HttpResponse::Ok().json(claims)
}

/// `/jwks`: every fetch counts, failing ones too.
async fn jwks(shared: web::Data<Shared>) -> HttpResponse {
    let mut state = lock(&shared);
    state.counters.jwks += 1;
    if state.jwks_fails {
        return HttpResponse::InternalServerError().body("the JWKS is failing, as scripted");
    }
    HttpResponse::Ok().json(state.keys.jwks())
}

/// The end-session endpoint (OIDC RP-Initiated Logout 1.0): records the request, returns to
/// `post_logout_redirect_uri` with `state` if one is given.
async fn end_session(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let request = params(req.query_string().as_bytes());
    lock(&shared).logouts.push(request.clone());
    match request.get("post_logout_redirect_uri") {
        Some(uri) if url::Url::parse(uri).is_ok() => {
            let state: Vec<(String, String)> = request
                .get("state")
                .map(|s| ("state".to_string(), s.clone()))
                .into_iter()
                .collect();
            HttpResponse::Found()
                .insert_header(("location", with_query(uri, &state)))
                .finish()
        }
        _ => HttpResponse::Ok().body("signed out"),
    }
}
