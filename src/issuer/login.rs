//! Local login through the login form, and the organization slug step before it (seed 003: the
//! slug page never lists or hints at which organizations exist).
//!
//! A password login runs in three steps, so that argon2 (slow on purpose) never holds the
//! SQLite writer: (1) a short write transaction finds the form's transaction (realm, browser,
//! CSRF), picks the user and counts the attempt on its brute-force counters before anything is
//! verified; (2) the password is verified outside any transaction; (3) a verified password goes
//! through the shared finish step, which re-checks and consumes the transaction.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::db::models::organization as org_rows;
use crate::db::models::sessions as session_rows;
use crate::db::models::user::{self as user_rows, User};
use crate::db::{DbConnection, Micros};
use crate::issuer::finish::{self, Arrival, Finished, Refusal, SignedIn};
use crate::issuer::flows;
use crate::issuer::routing::{self, Hints, IdpLink, Route};
use crate::issuer::runtime::{RealmRow, Runtime};
use crate::issuer::throttle::{self, Key, Policy};
use crate::issuer::transaction::{self, Transaction};
use crate::issuer::{clients, Result};

/// What the login form posts, and from where.
pub struct LoginForm {
    pub request: String,
    pub csrf: String,
    pub username: String,
    pub password: String,
    /// The browser's login cookie, if it sent one.
    pub browser: Option<String>,
    /// The client's address (behind trusted proxies, the one they name).
    pub address: String,
}

/// What the slug page posts.
pub struct OrganizationForm {
    pub request: String,
    pub csrf: String,
    pub slug: String,
    pub browser: Option<String>,
}

/// The login form to show (again), with what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct FormPage {
    pub request_id: String,
    pub csrf: String,
    /// The name of the organization the login is pinned to.
    pub organization: Option<String>,
    pub username: String,
    pub error: Option<&'static str>,
    pub status: u16,
    /// The identity providers offered beside the password form.
    pub identity_providers: Vec<IdpLink>,
}

/// What a login action answers.
pub enum LoginStep {
    /// Back to the client with the code, setting the SSO cookie.
    SignedIn(Box<SignedIn>),
    /// The login form.
    Form(FormPage),
    /// On to an identity provider: `{issuer}/broker/{alias}/login?request=…`.
    Upstream { request_id: String, alias: String },
    /// The slug page again, with an error.
    OrganizationForm {
        request_id: String,
        csrf: String,
        slug: String,
        error: &'static str,
        status: u16,
    },
    /// The transaction cannot go on; the message is for the person.
    Refused { status: u16, message: &'static str },
}

/// Said for a wrong password, an unknown name and a locked counter alike: which one it was is
/// exactly what an attacker wants to learn.
pub const INVALID: &str = "Invalid username or password.";
const DISABLED: &str = "This account is disabled.";
const NOT_MEMBER: &str = "You are not a member of this organization.";
const UNKNOWN_ORGANIZATION: &str =
    "We don't know this organization. Check the identifier and try again.";
const ORGANIZATION_FIXED: &str =
    "This login is for the organization the application asked for; start again from the application to choose another.";

fn expired() -> LoginStep {
    LoginStep::Refused {
        status: 400,
        message: transaction::EXPIRED,
    }
}

/// The user a login name means in the realm: by user name or email, case-insensitively. With an
/// organization pinned, its member of that name; failing that, a realm-level user of that name
/// (who will be told they are not a member), never a user another organization's directory
/// owns. A name that several users share picks nobody.
fn pick_user(
    conn: &mut DbConnection,
    realm_id: &str,
    org_id: Option<&str>,
    login: &str,
) -> Result<Option<User>> {
    let candidates = user_rows::find_login(conn, realm_id, login.trim())?;
    let only = |mut users: Vec<User>| if users.len() == 1 { users.pop() } else { None };
    let Some(org) = org_id else {
        return Ok(only(candidates));
    };
    let mut members = Vec::new();
    for user in &candidates {
        if flows::is_member(conn, org, &user.id)? {
            members.push(user.clone());
        }
    }
    if !members.is_empty() {
        return Ok(only(members));
    }
    Ok(only(
        candidates
            .into_iter()
            .filter(|u| u.organization_id.is_empty())
            .collect(),
    ))
}

/// The organization a transaction is pinned to: (name, alias).
async fn pinned(rt: &Arc<Runtime>, tx: &Transaction) -> Result<Option<(String, String)>> {
    let Some(id) = tx.request.organization_id.clone() else {
        return Ok(None);
    };
    Ok(rt
        .db
        .run(move |conn| org_rows::find(conn, &id))
        .await?
        .map(|o| (o.name, o.alias)))
}

/// The identity providers the login page offers for a login pinned to `org_alias` (none: the
/// realm's IdPs that belong to no organization).
pub fn offered(rt: &Runtime, realm: &str, org_alias: Option<&str>) -> Vec<IdpLink> {
    let hints = Hints {
        organization: org_alias,
        ..Hints::default()
    };
    match routing::route(&rt.identity_providers, realm, &hints) {
        Route::Local(links) => links,
        // The one IdP a login would have gone to: offered again to a person back at the form.
        Route::Upstream(alias) => rt
            .identity_providers
            .iter()
            .filter(|r| r.realm == realm && r.alias == alias)
            .map(|r| IdpLink {
                alias: r.alias.clone(),
                display_name: r.display_name.clone(),
            })
            .collect(),
        Route::Refused(_) => Vec::new(),
    }
}

/// What step (1) found.
struct Counted {
    tx: Transaction,
    user: Option<User>,
    hash: Option<String>,
    keys: Vec<Key>,
    allowed: bool,
}

fn count_attempt(
    rt: &Runtime,
    conn: &mut DbConnection,
    realm_id: &str,
    form: &LoginForm,
    now: Micros,
) -> Result<Option<Counted>> {
    let Some(tx) = transaction::find_form(
        conn,
        realm_id,
        &form.request,
        &form.csrf,
        form.browser.as_deref(),
        now,
    )?
    else {
        return Ok(None);
    };
    let user = pick_user(
        conn,
        realm_id,
        tx.request.organization_id.as_deref(),
        &form.username,
    )?;
    let person = match &user {
        Some(u) => Key::user(realm_id, &u.id),
        None => Key::unknown_name(realm_id, &form.username),
    };
    let keys = vec![person, Key::address(realm_id, &form.address)];
    let allowed = throttle::reserve(conn, &Policy::new(&rt.settings), &keys, now)?;
    let hash = match (&user, allowed) {
        (Some(u), true) => session_rows::password_hash(conn, &u.id)?,
        _ => None,
    };
    Ok(Some(Counted {
        tx,
        user,
        hash,
        keys,
        allowed,
    }))
}

/// An argon2id hash of a random value, verified against when there is no hash to check, so an
/// unknown name costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        clients::hash_secret(&crate::issuer::tokens::opaque("")).unwrap_or_default()
    })
}

/// `POST login-actions/authenticate`.
pub async fn authenticate(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    form: LoginForm,
) -> Result<LoginStep> {
    let form = Arc::new(form);
    let counted = {
        let (rt, realm_id, form) = (rt.clone(), realm.id.clone(), form.clone());
        rt.db
            .clone()
            .write(move |conn| count_attempt(&rt, conn, &realm_id, &form, rt.now()))
            .await?
    };
    let Some(counted) = counted else {
        return Ok(expired());
    };
    let page = |error: &'static str, status: u16, organization: Option<(String, String)>| {
        let identity_providers = offered(
            rt,
            &realm.name,
            organization.as_ref().map(|(_, a)| a.as_str()),
        );
        LoginStep::Form(FormPage {
            request_id: counted.tx.request.id.clone(),
            csrf: counted.tx.request.csrf_token.clone(),
            organization: organization.map(|(name, _)| name),
            username: form.username.clone(),
            error: Some(error),
            status,
            identity_providers,
        })
    };
    // A locked counter is answered as a wrong password, without the argon2 run.
    let verified = counted.allowed && {
        rt.password_checks.fetch_add(1, Ordering::Relaxed);
        let (password, hash) = (form.password.clone(), counted.hash.clone());
        tokio::task::spawn_blocking(move || match hash {
            Some(h) => clients::verify_secret(&password, &h),
            None => {
                let _ = clients::verify_secret(&password, dummy_hash());
                false
            }
        })
        .await
        .unwrap_or(false)
    };
    let organization = pinned(rt, &counted.tx).await?;
    let Some(user) = counted.user.clone().filter(|_| verified) else {
        return Ok(page(INVALID, 401, organization));
    };
    let finished = {
        let (rt, realm_id, form, keys) = (
            rt.clone(),
            realm.id.clone(),
            form.clone(),
            counted.keys.clone(),
        );
        rt.db
            .clone()
            .write(move |conn| {
                let arrival = Arrival {
                    realm_id: &realm_id,
                    transaction_id: &form.request,
                    browser: form.browser.as_deref(),
                    user_id: &user.id,
                    notes: Default::default(),
                    throttle: &keys,
                    organization_id: None,
                    session_until: None,
                };
                finish::finish(&rt, conn, &arrival, rt.now())
            })
            .await?
    };
    Ok(match finished {
        Finished::SignedIn(signed_in) => LoginStep::SignedIn(signed_in),
        Finished::Refused(Refusal::Disabled) => page(DISABLED, 401, organization),
        Finished::Refused(Refusal::NotMember) => page(NOT_MEMBER, 401, organization),
        Finished::Expired => expired(),
    })
}

/// `POST login-actions/organization`: the slug step, only for a transaction whose request named
/// no organization.
pub async fn choose_organization(
    rt: &Arc<Runtime>,
    realm: &RealmRow,
    form: OrganizationForm,
) -> Result<LoginStep> {
    let (rt, realm_id, realm_name) = (rt.clone(), realm.id.clone(), realm.name.clone());
    rt.db
        .clone()
        .write(move |conn| {
            let now = rt.now();
            let Some(tx) = transaction::find_form(
                conn,
                &realm_id,
                &form.request,
                &form.csrf,
                form.browser.as_deref(),
                now,
            )?
            else {
                return Ok(expired());
            };
            if tx.organization_named() {
                return Ok(LoginStep::Refused {
                    status: 400,
                    message: ORGANIZATION_FIXED,
                });
            }
            let slug = form.slug.trim();
            match flows::organization(conn, &realm_id, slug) {
                Ok(org) => {
                    session_rows::set_auth_request_organization(conn, &tx.request.id, &org.id)?;
                    let hints = Hints {
                        organization: Some(&org.alias),
                        ..Hints::default()
                    };
                    Ok(
                        match routing::route(&rt.identity_providers, &realm_name, &hints) {
                            Route::Upstream(alias) => LoginStep::Upstream {
                                request_id: tx.request.id,
                                alias,
                            },
                            Route::Local(identity_providers) => LoginStep::Form(FormPage {
                                request_id: tx.request.id,
                                csrf: tx.request.csrf_token,
                                organization: Some(org.name),
                                username: tx.params.login_hint.unwrap_or_default(),
                                error: None,
                                status: 200,
                                identity_providers,
                            }),
                            Route::Refused(_) => LoginStep::Refused {
                                status: 400,
                                message: transaction::EXPIRED,
                            },
                        },
                    )
                }
                // No list, no hint of which organizations exist (seed 003).
                Err(_) => Ok(LoginStep::OrganizationForm {
                    request_id: tx.request.id,
                    csrf: tx.request.csrf_token,
                    slug: slug.to_string(),
                    error: UNKNOWN_ORGANIZATION,
                    status: 404,
                }),
            }
        })
        .await
}
