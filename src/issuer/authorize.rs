//! The authorization endpoint's decision (OIDC Core §3.1.2): validate the request, resolve the
//! organization it is pinned to, reuse the SSO session when it is fresh enough (`prompt`,
//! `max_age`), or start a login transaction. Rendering is the HTTP layer's; this says what.

use crate::db::models::organization as org_rows;
use crate::db::models::sessions::{self as session_rows, AuthRequest, Session};
use crate::db::{DbConnection, Micros};
use crate::issuer::flows::{self, AuthParams, RawParams, Rejection};
use crate::issuer::login::FormPage;
use crate::issuer::routing::{self, Hints, Route};
use crate::issuer::runtime::Runtime;
use crate::issuer::{tokens, transaction, Result};

/// What the authorization endpoint answers.
pub enum Authorization {
    /// The login form of a new login transaction, with the organization's name when pinned
    /// and the identity providers it offers.
    LoginForm {
        form: FormPage,
        /// A login cookie to set: the browser had none, so its transaction got a new one.
        login_cookie: Option<String>,
    },
    /// On to an identity provider with a new login transaction.
    Upstream {
        request_id: String,
        alias: String,
        login_cookie: Option<String>,
    },
    /// The page that asks for the organization slug (the client asked for it, none was named).
    OrganizationForm {
        request: AuthRequest,
        login_cookie: Option<String>,
    },
    /// Signed in already: a code for the client.
    Code { params: AuthParams, code: String },
    /// An error for the client's registered redirect URI (RFC 6749 §4.1.2.1).
    Redirect {
        params: AuthParams,
        error: &'static str,
        description: String,
    },
    /// A refusal for the person, never a redirect: unknown client or redirect URI, an unknown
    /// or disabled organization, or a signed-in person who is not its member.
    Refused { status: u16, message: String },
}

fn prompt_has(params: &AuthParams, value: &str) -> bool {
    params
        .prompt
        .as_deref()
        .is_some_and(|p| p.split_whitespace().any(|x| x == value))
}

/// The cookies a browser presents to the authorization endpoint.
#[derive(Debug, Clone, Default)]
pub struct BrowserCookies {
    /// The SSO session's.
    pub session: Option<String>,
    /// The login cookie its login transactions are bound to.
    pub login: Option<String>,
}

/// Decides an authorization request.
pub fn authorize(
    rt: &Runtime,
    conn: &mut DbConnection,
    (realm_id, realm_name): (&str, &str),
    raw: &RawParams,
    cookies: &BrowserCookies,
    now: Micros,
) -> Result<Authorization> {
    let cookie = cookies.session.as_deref();
    let (client, params) = match flows::validate(conn, realm_id, raw) {
        Ok(ok) => ok,
        Err(Rejection::Page(p)) => {
            return Ok(Authorization::Refused {
                status: 400,
                message: p.0,
            })
        }
        Err(Rejection::Redirect(r)) => {
            return Ok(Authorization::Redirect {
                params: r.params,
                error: r.error,
                description: r.description,
            })
        }
        Err(Rejection::Internal(e)) => return Err(e),
    };
    let org = match &params.organization {
        Some(alias) => match flows::organization(conn, realm_id, alias) {
            Ok(o) => Some(o),
            Err(_) => {
                return Ok(Authorization::Refused {
                    status: 400,
                    message: format!("The organization \"{alias}\" is unknown or disabled."),
                })
            }
        },
        None => None,
    };
    let prompt_none = prompt_has(&params, "none");
    let session = match cookie {
        Some(c) => flows::session_from_cookie(conn, realm_id, c, now)?,
        None => None,
    };
    // OIDC Core §3.1.2.1: prompt=login and an exceeded max_age both ask for the password again.
    let fresh_enough = |s: &Session| {
        params
            .max_age
            .is_none_or(|m| (now - s.auth_time) / 1_000_000 <= m)
    };
    if let Some(session) = session.filter(|s| !prompt_has(&params, "login") && fresh_enough(s)) {
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
                realm_id,
                &client,
                &session,
                &params,
                now,
                rt.settings.code_lifespan_secs,
            )?;
            return Ok(Authorization::Code { params, code });
        }
        if !member_ok && !prompt_none {
            return Ok(Authorization::Refused {
                status: 403,
                message: "You are not a member of this organization.".into(),
            });
        }
    }
    if prompt_none {
        return Ok(Authorization::Redirect {
            params,
            error: "login_required",
            description: "the user is not signed in".into(),
        });
    }
    let domain_org = match params
        .login_hint
        .as_deref()
        .and_then(|h| h.rsplit_once('@'))
    {
        Some((_, domain)) => org_rows::find_by_verified_domain(conn, realm_id, domain)?,
        None => None,
    };
    let hints = Hints {
        organization: org.as_ref().map(|o| o.alias.as_str()),
        idp: params.idp_hint.as_deref(),
        email_domain_organization: domain_org.as_ref().map(|o| o.alias.as_str()),
    };
    let route = routing::route(&rt.identity_providers, realm_name, &hints);
    if let Route::Refused(message) = route {
        return Ok(Authorization::Refused {
            status: 400,
            message,
        });
    }
    let (browser, minted) = transaction::browser_cookie(cookies.login.as_deref());
    let request = transaction::begin(
        conn,
        &transaction::NewTransaction {
            realm_id,
            client: &client,
            params: &params,
            org_id: org.as_ref().map(|o| o.id.as_str()),
            browser: &browser,
        },
        now,
        rt.settings.login_timeout_secs,
    )?;
    let login_cookie = minted.then_some(browser);
    let identity_providers = match route {
        Route::Upstream(alias) => {
            return Ok(Authorization::Upstream {
                request_id: request.id,
                alias,
                login_cookie,
            })
        }
        Route::Local(links) => links,
        Route::Refused(_) => Vec::new(),
    };
    if org.is_none() && client.settings.organization_prompt && params.idp_hint.is_none() {
        return Ok(Authorization::OrganizationForm {
            request,
            login_cookie,
        });
    }
    Ok(Authorization::LoginForm {
        form: FormPage {
            request_id: request.id,
            csrf: request.csrf_token,
            organization: org.map(|o| o.name),
            username: params.login_hint.clone().unwrap_or_default(),
            error: None,
            status: 200,
            identity_providers,
        },
        login_cookie,
    })
}
