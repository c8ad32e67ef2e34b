//! What the admin commands do (`vestibule keys|client|role|idp ...`), apart from parsing their
//! arguments: each takes a connection and returns the lines to print. Clients and roles made
//! here live beside the declared ones; a declared client is re-applied from config at start.

use anyhow::{bail, Context};

use crate::clock::rfc3339;
use crate::config::Config;
use crate::db::models::broker as broker_rows;
use crate::db::models::clients::{self as client_rows, ClientRow};
use crate::db::models::roles::{self as role_rows, Role};
use crate::db::models::{keys as key_rows, organization, realm, user};
use crate::db::{DbConnection, Micros};
use crate::federation::saml_keys;
use crate::issuer::clients::{hash_secret, ClientSettings};
use crate::issuer::jwt::Alg;
use crate::issuer::{keys, roles};

/// The SAML IdP `alias` of realm `realm`, as declared, and the realm's id.
fn saml_idp<'a>(
    conn: &mut DbConnection,
    config: &'a Config,
    realm: &str,
    alias: &str,
) -> anyhow::Result<(&'a crate::config::IdentityProviderDecl, String)> {
    let idp = config
        .identity_providers
        .iter()
        .find(|i| i.realm == realm && i.alias == alias && i.is_saml())
        .with_context(|| format!("no SAML identity provider {alias:?} in realm {realm:?}"))?;
    Ok((idp, realm_id(conn, realm)?))
}

fn sp_key_lines(keys: &[crate::db::models::broker::SamlSpKey]) -> Vec<String> {
    let last = keys.len().saturating_sub(1);
    keys.iter()
        .enumerate()
        .map(|(at, k)| {
            let role = if at == last {
                "signs, decrypts, published"
            } else {
                "decrypts, published (signs once the keys before it are retired)"
            };
            format!("{}  created {}  {role}", k.id, rfc3339(k.created_at))
        })
        .collect()
}

/// The SP keys of a SAML connection, newest first, and what each does.
pub fn list_saml_sp_keys(
    conn: &mut DbConnection,
    config: &Config,
    realm: &str,
    alias: &str,
) -> anyhow::Result<Vec<String>> {
    let (_, realm_id) = saml_idp(conn, config, realm, alias)?;
    Ok(sp_key_lines(&broker_rows::saml_sp_keys(
        conn, &realm_id, alias,
    )?))
}

/// A new SP key for a SAML connection: published in the SP metadata at once beside the one
/// that signs, which keeps signing until it is retired (once the IdP has read the new metadata).
pub fn rotate_saml_sp_key(
    conn: &mut DbConnection,
    config: &Config,
    realm: &str,
    alias: &str,
    now: Micros,
) -> anyhow::Result<Vec<String>> {
    let (idp, realm_id) = saml_idp(conn, config, realm, alias)?;
    let sp_entity_id = idp
        .sp_entity_id
        .clone()
        .unwrap_or_else(|| crate::issuer::issuer_url(&config.server.base_url(), realm));
    let key = saml_keys::generate(&realm_id, alias, &sp_entity_id, now)?;
    broker_rows::insert_saml_sp_key(conn, &key)?;
    Ok(sp_key_lines(&broker_rows::saml_sp_keys(
        conn, &realm_id, alias,
    )?))
}

/// Retires the SP key that signs (the oldest), so that the next one signs; refused when it is
/// the only key, which the connection cannot do without.
pub fn retire_saml_sp_key(
    conn: &mut DbConnection,
    config: &Config,
    realm: &str,
    alias: &str,
    now: Micros,
) -> anyhow::Result<Vec<String>> {
    let (_, realm_id) = saml_idp(conn, config, realm, alias)?;
    let keys = broker_rows::saml_sp_keys(conn, &realm_id, alias)?;
    let [_, .., oldest] = keys.as_slice() else {
        bail!(
            "the connection has {} SP key(s): add its successor first (idp rotate-sp-key)",
            keys.len()
        );
    };
    broker_rows::retire_saml_sp_key(conn, &oldest.id, now)?;
    Ok(sp_key_lines(&broker_rows::saml_sp_keys(
        conn, &realm_id, alias,
    )?))
}

fn realm_id(conn: &mut DbConnection, name: &str) -> anyhow::Result<String> {
    Ok(realm::find_by_name(conn, name)?
        .with_context(|| format!("realm {name:?} does not exist"))?
        .id)
}

/// New signing keys; the old ones stay published until the longest-lived token they signed
/// has expired (the longest declared access-token lifespan, plus a minute of clock skew).
pub fn rotate_keys(
    conn: &mut DbConnection,
    config: &Config,
    realm: &str,
    algs: &[Alg],
    now: Micros,
) -> anyhow::Result<Vec<String>> {
    let id = realm_id(conn, realm)?;
    let longest = config
        .clients
        .iter()
        .map(|c| c.access_token_lifespan_secs)
        .max()
        .unwrap_or(300)
        .max(300);
    let grace = (longest + 60) * 1_000_000;
    let algs = if algs.is_empty() {
        Alg::ALL.to_vec()
    } else {
        algs.to_vec()
    };
    let kids = keys::rotate(conn, &id, &algs, now, grace)?;
    Ok(kids
        .iter()
        .zip(&algs)
        .map(|(kid, alg)| {
            format!(
                "{} key {kid} is now active; the previous one is published until {}",
                alg.as_str(),
                rfc3339(now + grace)
            )
        })
        .collect())
}

pub fn list_keys(conn: &mut DbConnection, realm: &str, now: Micros) -> anyhow::Result<Vec<String>> {
    let id = realm_id(conn, realm)?;
    Ok(key_rows::published(conn, &id, now)?
        .into_iter()
        .map(|k| {
            let state = match (k.retired_at, k.expires_at) {
                (None, _) => "active".to_string(),
                (Some(_), Some(until)) => format!("retired, published until {}", rfc3339(until)),
                (Some(_), None) => "retired".to_string(),
            };
            format!(
                "{}  {:<6} created {}  {state}",
                k.kid,
                k.algorithm,
                rfc3339(k.created_at)
            )
        })
        .collect())
}

pub fn list_clients(conn: &mut DbConnection, realm: &str) -> anyhow::Result<Vec<String>> {
    let id = realm_id(conn, realm)?;
    Ok(client_rows::list(conn, &id)?
        .into_iter()
        .map(|c| {
            let settings: ClientSettings = serde_json::from_str(&c.settings)
                .unwrap_or_else(|_| default_settings(Vec::new(), Vec::new()));
            format!(
                "{:<20} {:<12} grants [{}] redirect URIs [{}]{}",
                c.client_id,
                if c.confidential {
                    "confidential"
                } else {
                    "public"
                },
                settings.grant_types.join(", "),
                settings.redirect_uris.join(", "),
                if c.enabled { "" } else { " (disabled)" }
            )
        })
        .collect())
}

fn default_settings(redirect_uris: Vec<String>, grant_types: Vec<String>) -> ClientSettings {
    ClientSettings {
        redirect_uris,
        post_logout_redirect_uris: Vec::new(),
        web_origins: Vec::new(),
        grant_types,
        full_scope_allowed: true,
        default_scopes: [
            "basic",
            "profile",
            "email",
            "roles",
            "web-origins",
            "acr",
            "groups",
        ]
        .map(String::from)
        .to_vec(),
        optional_scopes: ["organization", "offline_access", "address", "phone"]
            .map(String::from)
            .to_vec(),
        access_token_lifespan_secs: 300,
        refresh_token_lifespan_secs: 1800,
        signing_alg: Alg::RS256,
        organization_prompt: false,
        mappers: Vec::new(),
        organization_claim: None,
    }
}

/// Creates a client; returns its secret (shown once) for a confidential one.
pub fn create_client(
    conn: &mut DbConnection,
    realm: &str,
    client_id: &str,
    public: bool,
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    now: Micros,
) -> anyhow::Result<Option<String>> {
    let id = realm_id(conn, realm)?;
    if client_rows::find(conn, &id, client_id)?.is_some() {
        bail!("client {client_id:?} already exists");
    }
    for uri in &redirect_uris {
        url::Url::parse(uri).with_context(|| format!("{uri:?} is not an absolute URI"))?;
    }
    let grant_types = if grant_types.is_empty() {
        vec![
            "authorization_code".to_string(),
            "refresh_token".to_string(),
        ]
    } else {
        grant_types
    };
    if public && grant_types.iter().any(|g| g == "client_credentials") {
        bail!("client_credentials needs a confidential client");
    }
    let secret = (!public).then(|| crate::issuer::tokens::opaque(""));
    let service_account = if grant_types.iter().any(|g| g == "client_credentials") {
        Some(service_account(conn, &id, client_id, now)?)
    } else {
        None
    };
    client_rows::insert(
        conn,
        &ClientRow {
            id: crate::db::new_id(),
            realm_id: id,
            client_id: client_id.to_string(),
            name: client_id.to_string(),
            enabled: true,
            confidential: !public,
            secret_hash: secret.as_deref().map(hash_secret).transpose()?,
            settings: serde_json::to_string(&default_settings(redirect_uris, grant_types))?,
            service_account_user_id: service_account,
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(secret)
}

fn service_account(
    conn: &mut DbConnection,
    realm_id: &str,
    client_id: &str,
    now: Micros,
) -> anyhow::Result<String> {
    Ok(crate::users::create_service_account(conn, realm_id, client_id, now)?.id)
}

/// A new secret for a confidential client. The old one stops working at once for a daemon
/// that reads the client afresh, and within two seconds for one answering from memory.
pub fn rotate_client_secret(
    conn: &mut DbConnection,
    realm: &str,
    client_id: &str,
    now: Micros,
) -> anyhow::Result<String> {
    let id = realm_id(conn, realm)?;
    let mut row = client_rows::find(conn, &id, client_id)?
        .with_context(|| format!("no client {client_id:?}"))?;
    if !row.confidential {
        bail!("client {client_id:?} is public and has no secret");
    }
    let secret = crate::issuer::tokens::opaque("");
    row.secret_hash = Some(hash_secret(&secret)?);
    row.updated_at = now;
    client_rows::update(conn, &row)?;
    Ok(secret)
}

pub fn delete_client(conn: &mut DbConnection, realm: &str, client_id: &str) -> anyhow::Result<()> {
    let id = realm_id(conn, realm)?;
    let row = client_rows::find(conn, &id, client_id)?
        .with_context(|| format!("no client {client_id:?}"))?;
    client_rows::delete(conn, &row.id)?;
    Ok(())
}

pub fn list_roles(conn: &mut DbConnection, realm: &str) -> anyhow::Result<Vec<String>> {
    let id = realm_id(conn, realm)?;
    let all = role_rows::list(conn, &id)?;
    let edges = role_rows::composite_edges(conn, &id)?;
    let name_of = |rid: &str| {
        all.iter()
            .find(|r| r.id == rid)
            .map(|r| {
                if r.client_id.is_empty() {
                    r.name.clone()
                } else {
                    format!("{}:{}", r.client_id, r.name)
                }
            })
            .unwrap_or_default()
    };
    Ok(all
        .iter()
        .map(|r| {
            let children: Vec<String> = edges
                .iter()
                .filter(|(p, _)| p == &r.id)
                .map(|(_, c)| name_of(c))
                .collect();
            let full = if r.client_id.is_empty() {
                r.name.clone()
            } else {
                format!("{}:{}", r.client_id, r.name)
            };
            if children.is_empty() {
                full
            } else {
                format!("{full} -> {}", children.join(", "))
            }
        })
        .collect())
}

fn find_or_create_role(
    conn: &mut DbConnection,
    realm_id: &str,
    reference: &str,
) -> anyhow::Result<Role> {
    let (client, name) = roles::split_ref(reference);
    if let Some(r) = role_rows::find(conn, realm_id, client, name)? {
        return Ok(r);
    }
    let role = Role {
        id: crate::db::new_id(),
        realm_id: realm_id.to_string(),
        client_id: client.to_string(),
        name: name.to_string(),
        description: String::new(),
    };
    role_rows::insert(conn, &role)?;
    Ok(role)
}

/// Creates a role (`"role"` or `"client:role"`) with its composites.
pub fn create_role(
    conn: &mut DbConnection,
    realm: &str,
    reference: &str,
    composites: &[String],
) -> anyhow::Result<()> {
    let id = realm_id(conn, realm)?;
    let role = find_or_create_role(conn, &id, reference)?;
    for child in composites {
        let c = find_or_create_role(conn, &id, child)?;
        role_rows::add_composite(conn, &role.id, &c.id)?;
    }
    Ok(())
}

/// Grants a role to a user (by user name or email), or to a group of an organization.
pub fn grant_role(
    conn: &mut DbConnection,
    realm: &str,
    reference: &str,
    user_login: Option<&str>,
    group: Option<(&str, &str)>,
) -> anyhow::Result<String> {
    let id = realm_id(conn, realm)?;
    let (client, name) = roles::split_ref(reference);
    let role = role_rows::find(conn, &id, client, name)?
        .with_context(|| format!("no role {reference:?}"))?;
    match (user_login, group) {
        (Some(login), None) => {
            let users = user::find_login(conn, &id, login)?;
            let [u] = users.as_slice() else {
                bail!("{} users match {login:?}; name exactly one", users.len());
            };
            role_rows::grant_user(conn, &u.id, &role.id)?;
            Ok(format!("{reference} granted to user {}", u.username))
        }
        (None, Some((org_alias, group_name))) => {
            let org = organization::find_by_alias(conn, &id, org_alias)?
                .with_context(|| format!("no organization {org_alias:?}"))?;
            let groups = crate::db::models::group::lookup(
                conn,
                &org.id,
                &crate::db::models::group::GroupKey::NameLower(group_name.to_lowercase()),
            )?;
            let [g] = groups.as_slice() else {
                bail!("organization {org_alias:?} has no group {group_name:?}");
            };
            role_rows::grant_group(conn, &g.id, &role.id)?;
            Ok(format!(
                "{reference} granted to group {} of {org_alias}",
                g.name
            ))
        }
        _ => bail!("name either --user or --organization with --group"),
    }
}

pub fn revoke_role(
    conn: &mut DbConnection,
    realm: &str,
    reference: &str,
    login: &str,
) -> anyhow::Result<bool> {
    let id = realm_id(conn, realm)?;
    let (client, name) = roles::split_ref(reference);
    let role = role_rows::find(conn, &id, client, name)?
        .with_context(|| format!("no role {reference:?}"))?;
    let users = user::find_login(conn, &id, login)?;
    let [u] = users.as_slice() else {
        bail!("{} users match {login:?}; name exactly one", users.len());
    };
    Ok(role_rows::revoke_user(conn, &u.id, &role.id)?)
}
