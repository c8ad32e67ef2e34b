//! `{issuer}/broker/{alias}/login` and `{issuer}/broker/{alias}/endpoint` (Keycloak's layout):
//! a login transaction handed to an upstream IdP, and the IdP's answer. The federation feature
//! decides; this extracts the query and the browser's login cookie, and renders.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;

use super::authorize::{back_to_client, login_cookie, sso_cookie};
use super::{error_page, html, realm_row};
use crate::federation::backchannel::{self, Backchannel};
use crate::federation::login::{self, Callback, Refused, Start};
use crate::federation::saml_login;
use crate::federation::saml_logout::{self, Answer};
use crate::issuer::finish::SignedIn;
use crate::state::AppState;
use crate::web as pages;

/// A refusal with the id the log line carries, so support can find what happened.
fn refused(realm: &str, r: Refused) -> HttpResponse {
    html(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        pages::render(
            "error.html",
            context! { realm => realm, message => r.message, correlation => r.correlation },
        ),
    )
}

fn failed(realm: &str, e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "brokered login failed");
    error_page(
        realm,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong. Try again.",
    )
    .respond()
}

pub(super) async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let (realm_name, alias) = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    let request_id = query.get("request").cloned().unwrap_or_default();
    match login::start(
        &state.federation,
        &realm,
        &alias,
        request_id,
        login_cookie(&req),
    )
    .await
    {
        Ok(Start::Redirect(url)) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .finish(),
        Ok(Start::Post { url, fields }) => html(
            StatusCode::OK,
            pages::render(
                "form_post.html",
                context! { redirect_uri => url, fields => fields },
            ),
        ),
        Ok(Start::Refused(r)) => refused(&realm_name, r),
        Err(e) => failed(&realm_name, e),
    }
}

pub(super) async fn endpoint(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let (realm_name, alias) = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    if query.contains_key("SAMLRequest") || query.contains_key("SAMLResponse") {
        // SAML single logout over HTTP-Redirect: the signature covers the query as sent.
        let answer =
            saml_logout::received(&state.federation, &realm, &alias, req.query_string()).await;
        return match answer {
            Ok(Answer::Redirect(url)) => HttpResponse::Found()
                .insert_header((header::LOCATION, url))
                .finish(),
            Ok(Answer::Page) => html(
                StatusCode::OK,
                pages::render("logged_out.html", context! { realm => realm_name }),
            ),
            Ok(Answer::Refused(r)) => refused(&realm_name, r),
            Err(e) => failed(&realm_name, e),
        };
    }
    let answer = login::callback(
        &state.federation,
        &realm,
        &alias,
        query.into_inner(),
        login_cookie(&req),
    )
    .await;
    signed_in_or_refused(&state, &realm_name, answer)
}

/// A brokered login's end: back to the client with the code and the SSO cookie, or the page.
fn signed_in_or_refused(
    state: &AppState,
    realm_name: &str,
    answer: Result<Callback, impl std::fmt::Display>,
) -> HttpResponse {
    match answer {
        Ok(Callback::SignedIn(signed_in)) => {
            let SignedIn {
                params,
                code,
                sso_cookie: value,
                ..
            } = *signed_in;
            let mut response =
                back_to_client(state, realm_name, &params, vec![("code".into(), code)]);
            let _ = response.add_cookie(&sso_cookie(state, realm_name, value));
            response
        }
        Ok(Callback::Landed {
            sso_cookie: value,
            location,
        }) => {
            let mut response = HttpResponse::Found()
                .insert_header((header::LOCATION, location))
                .finish();
            let _ = response.add_cookie(&sso_cookie(state, realm_name, value));
            response
        }
        Ok(Callback::Refused(r)) => refused(realm_name, r),
        Err(e) => failed(realm_name, e),
    }
}

/// `POST {issuer}/broker/{alias}/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0):
/// 200 when the logout token is valid, 400 in OAuth's JSON otherwise (§2.8).
pub(super) async fn backchannel_logout(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let (realm_name, alias) = path.into_inner();
    let Ok(realm) = realm_row(&state, &realm_name).await else {
        return invalid_logout_token("unknown realm".into());
    };
    let token = form.into_inner().remove("logout_token");
    match backchannel::logout(&state.federation, &realm, &alias, token).await {
        Ok(Backchannel::Ended(_)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Ok(Backchannel::Invalid(why)) => {
            tracing::info!(identity_provider = %alias, reason = %why, "back-channel logout refused");
            invalid_logout_token(why)
        }
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout failed");
            HttpResponse::InternalServerError()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({"error": "server_error"}))
        }
    }
}

fn invalid_logout_token(why: String) -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"error": "invalid_request", "error_description": why}))
}

/// The ACS's form: the Response, and the RelayState Vestibule sends none of.
#[derive(serde::Deserialize)]
pub(super) struct SamlPost {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
}

/// `POST {issuer}/broker/{alias}/endpoint` (SAML HTTP-POST binding).
pub(super) async fn saml_acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<SamlPost>,
) -> HttpResponse {
    let (realm_name, alias) = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    let answer = saml_login::acs(
        &state.federation,
        &realm,
        &alias,
        &form.saml_response,
        login_cookie(&req),
    )
    .await;
    signed_in_or_refused(&state, &realm_name, answer)
}

/// `GET {issuer}/broker/{alias}/endpoint/descriptor`: Vestibule's SP metadata for a SAML IdP.
pub(super) async fn saml_descriptor(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (realm_name, alias) = path.into_inner();
    let realm = match realm_row(&state, &realm_name).await {
        Ok(r) => r,
        Err(_) => return error_page(&realm_name, StatusCode::NOT_FOUND, "unknown realm").respond(),
    };
    match saml_login::descriptor(&state.federation, &realm, &alias).await {
        Ok(Some(xml)) => HttpResponse::Ok()
            .content_type("application/samlmetadata+xml")
            .body(xml),
        Ok(None) => error_page(
            &realm_name,
            StatusCode::NOT_FOUND,
            "no such SAML identity provider",
        )
        .respond(),
        Err(e) => failed(&realm_name, e),
    }
}
