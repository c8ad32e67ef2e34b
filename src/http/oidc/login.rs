//! The login form's actions: `login-actions/authenticate` (local password, argon2id, brute-force
//! backoff, then the SSO session and the code) and `login-actions/organization` (the slug page;
//! it never lists or hints at which organizations exist, seed 003).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::authorize::{back_to_client, cookie_for, login_page, organization_page};
use super::{error_page, realm_row, Page};
use crate::db::models::sessions as session_rows;
use crate::issuer::clients;
use crate::issuer::flows::{self, LoginRefused};
use crate::issuer::OAuthError;
use crate::state::AppState;

fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub(super) async fn login_action(
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
    let st = state.issuer.clone();
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
                let now = st.now();
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
    let sso_secs = st.settings.sso_session_max_secs;
    let issued = state
        .db
        .write({
            let st = st.clone();
            move |conn| -> Result<_, OAuthError> {
                let now = st.now();
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
                    st.settings.code_lifespan_secs,
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

pub(super) async fn organization_action(
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
    let st = state.issuer.clone();
    let name = realm_name.clone();
    let outcome = state
        .db
        .write(move |conn| -> Result<Page, OAuthError> {
            let now = st.now();
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
