//! Applies the issuer's declarations at start: signing keys for every realm, roles and their
//! composites, client scopes, clients (with service accounts), local users with passwords, memberships and
//! role grants, and group role rules. Idempotent; deletes nothing that is not declared.

use std::collections::HashMap;

use crate::config::{ClientScopeDecl, Config};
use crate::db::models::client_scopes::{self as scope_rows, ClientScopeChanges, ClientScopeRow};
use crate::db::models::clients::{self as client_rows, ClientRow};
use crate::db::models::roles::{self as role_rows, Role};
use crate::db::models::sessions as credential_rows;
use crate::db::models::user::{self as user_rows, User};
use crate::db::models::{fingerprints as fingerprint_rows, organization, realm};
use crate::db::{write_transaction, DbConnection, DbError, Micros};
use crate::issuer::clients::{hash_secret, verify_secret, ClientSettings};
use crate::issuer::jwt::Alg;
use crate::issuer::mappers::MapperSetting;
use crate::issuer::{keys, roles};
use crate::membership::{self, Source};
use crate::users;

/// What the secrets fingerprint is stored under.
const SECRETS_FINGERPRINT: &str = "issuer-secrets";

pub fn apply(conn: &mut DbConnection, config: &Config, now: Micros) -> Result<(), DbError> {
    write_transaction(conn, |conn| {
        let realms = realm_ids(conn, config)?;
        // Checking each declared secret against its stored argon2 hash costs one argon2 run
        // per secret at every start (25-40 ms each). One run over all of them, with the hashes
        // now stored, says whether anything changed since the last start.
        let material = secret_material(conn, config, &realms)?;
        let unchanged = material.is_empty()
            || fingerprint_rows::get(conn, SECRETS_FINGERPRINT)?
                .is_some_and(|f| verify_secret(&material, &f));
        apply_in(conn, config, &realms, unchanged, now)?;
        if !unchanged {
            let material = secret_material(conn, config, &realms)?;
            fingerprint_rows::set(conn, SECRETS_FINGERPRINT, &hash_secret(&material)?, now)?;
        }
        Ok(())
    })
}

/// Appends `field` length-prefixed, so that no two different lists of fields read the same.
fn push_field(material: &mut String, field: &str) {
    material.push_str(&field.len().to_string());
    material.push(':');
    material.push_str(field);
}

/// Every declared client secret and user password with the hash stored for it now, as one
/// string. It holds secrets: it is hashed, never stored or logged.
fn secret_material(
    conn: &mut DbConnection,
    config: &Config,
    realms: &HashMap<String, String>,
) -> Result<String, DbError> {
    let mut material = String::new();
    for decl in &config.clients {
        if let Some(secret) = decl.secret.as_ref().and_then(|s| s.resolved.as_ref()) {
            let stored = client_rows::find(conn, &realms[&decl.realm], &decl.client_id)?
                .and_then(|c| c.secret_hash);
            for field in ["client", &decl.realm, &decl.client_id, secret.expose()] {
                push_field(&mut material, field);
            }
            push_field(&mut material, stored.as_deref().unwrap_or_default());
        }
    }
    for decl in &config.users {
        if let Some(password) = decl.password.as_ref().and_then(|p| p.resolved.as_ref()) {
            let stored = match find_realm_user(conn, &realms[&decl.realm], &decl.username)? {
                Some(user) => credential_rows::password_hash(conn, &user.id)?,
                None => None,
            };
            for field in ["user", &decl.realm, &decl.username, password.expose()] {
                push_field(&mut material, field);
            }
            push_field(&mut material, stored.as_deref().unwrap_or_default());
        }
    }
    Ok(material)
}

fn realm_ids(conn: &mut DbConnection, config: &Config) -> Result<HashMap<String, String>, DbError> {
    let mut ids = HashMap::new();
    let names: Vec<String> = if config.realms.is_empty() {
        vec![crate::declarations::DEFAULT_REALM.to_string()]
    } else {
        config.realms.iter().map(|r| r.name.clone()).collect()
    };
    for name in names {
        if let Some(r) = realm::find_by_name(conn, &name)? {
            ids.insert(name, r.id);
        }
    }
    Ok(ids)
}

/// Finds or creates a role by reference (`"role"` or `"client:role"`).
fn role(conn: &mut DbConnection, realm_id: &str, reference: &str) -> Result<Role, DbError> {
    let (client, name) = roles::split_ref(reference);
    if let Some(r) = role_rows::find(conn, realm_id, client, name)? {
        return Ok(r);
    }
    let r = Role {
        id: crate::db::new_id(),
        realm_id: realm_id.to_string(),
        client_id: client.to_string(),
        name: name.to_string(),
        description: String::new(),
    };
    role_rows::insert(conn, &r)?;
    Ok(r)
}

/// A stored secret hash that still matches, or a new one. `unchanged` says the declarations'
/// fingerprint already vouched for every stored hash.
fn keep_or_hash(current: Option<&str>, secret: &str, unchanged: bool) -> Result<String, DbError> {
    match current {
        Some(h) if unchanged || verify_secret(secret, h) => Ok(h.to_string()),
        _ => hash_secret(secret),
    }
}

/// The realm-level user (not one pushed into an organization) with this username.
fn find_realm_user(
    conn: &mut DbConnection,
    realm_id: &str,
    username: &str,
) -> Result<Option<User>, DbError> {
    let lower = username.to_lowercase();
    Ok(user_rows::find_login(conn, realm_id, username)?
        .into_iter()
        .find(|u| u.organization_id.is_empty() && u.username_lower == lower))
}

fn realm_user(
    conn: &mut DbConnection,
    realm_id: &str,
    username: &str,
    now: Micros,
) -> Result<User, DbError> {
    if let Some(u) = find_realm_user(conn, realm_id, username)? {
        return Ok(u);
    }
    users::create_local(conn, realm_id, username, now)
}

/// Creates or updates a declared client scope; an unchanged one is left as it is.
fn client_scope(
    conn: &mut DbConnection,
    realm_id: &str,
    decl: &ClientScopeDecl,
    now: Micros,
) -> Result<(), DbError> {
    let mappers: Vec<MapperSetting> = decl.mappers.iter().map(MapperSetting::from).collect();
    let mappers = serde_json::to_string(&mappers)
        .map_err(|e| DbError::Pool(format!("client scope {:?}: {e}", decl.name)))?;
    match scope_rows::find(conn, realm_id, &decl.name)? {
        Some(row) if row.description == decl.description && row.mappers == mappers => Ok(()),
        Some(row) => scope_rows::update(
            conn,
            &row.id,
            &ClientScopeChanges {
                description: decl.description.clone(),
                mappers,
                updated_at: now,
            },
        ),
        None => scope_rows::insert(
            conn,
            &ClientScopeRow {
                id: crate::db::new_id(),
                realm_id: realm_id.to_string(),
                name: decl.name.clone(),
                description: decl.description.clone(),
                mappers,
                created_at: now,
                updated_at: now,
            },
        ),
    }
}

fn apply_in(
    conn: &mut DbConnection,
    config: &Config,
    realms: &HashMap<String, String>,
    unchanged: bool,
    now: Micros,
) -> Result<(), DbError> {
    for realm_id in realms.values() {
        keys::ensure(conn, realm_id, now)?;
    }
    for decl in &config.roles {
        let realm_id = &realms[&decl.realm];
        let reference = match &decl.client {
            Some(c) => format!("{c}:{}", decl.name),
            None => decl.name.clone(),
        };
        let r = role(conn, realm_id, &reference)?;
        role_rows::set_description(conn, &r.id, &decl.description)?;
        for child in &decl.composites {
            let c = role(conn, realm_id, child)?;
            role_rows::add_composite(conn, &r.id, &c.id)?;
        }
    }

    for decl in &config.client_scopes {
        client_scope(conn, &realms[&decl.realm], decl, now)?;
    }

    // The built-in account client: public, for the account page's own login.
    for realm_id in realms.values() {
        let existing = client_rows::find(conn, realm_id, "account")?;
        if existing.is_none() {
            let settings = ClientSettings {
                redirect_uris: Vec::new(),
                post_logout_redirect_uris: Vec::new(),
                web_origins: Vec::new(),
                grant_types: vec!["authorization_code".into()],
                full_scope_allowed: true,
                default_scopes: vec!["basic".into(), "profile".into(), "email".into()],
                optional_scopes: Vec::new(),
                access_token_lifespan_secs: 300,
                refresh_token_lifespan_secs: 1800,
                signing_alg: Alg::RS256,
                organization_prompt: false,
                mappers: Vec::new(),
                organization_claim: None,
            };
            client_rows::insert(
                conn,
                &ClientRow {
                    id: crate::db::new_id(),
                    realm_id: realm_id.clone(),
                    client_id: "account".into(),
                    name: "Account console".into(),
                    enabled: true,
                    confidential: false,
                    secret_hash: None,
                    settings: serde_json::to_string(&settings).unwrap_or_default(),
                    service_account_user_id: None,
                    created_at: now,
                    updated_at: now,
                },
            )?;
        }
    }
    for (name, realm_id) in realms {
        // The account page's redirect URI depends on the public URL, set at every start.
        if let Some(mut row) = client_rows::find(conn, realm_id, "account")? {
            if let Ok(mut settings) = serde_json::from_str::<ClientSettings>(&row.settings) {
                let uri = format!("{}/realms/{name}/account", config.server.base_url());
                settings.redirect_uris = vec![uri];
                row.settings = serde_json::to_string(&settings).unwrap_or_default();
                client_rows::update(conn, &row)?;
            }
        }
    }

    for decl in &config.clients {
        let realm_id = &realms[&decl.realm];
        let settings = ClientSettings {
            redirect_uris: decl.redirect_uris.clone(),
            post_logout_redirect_uris: decl.post_logout_redirect_uris.clone(),
            web_origins: decl.web_origins.clone(),
            grant_types: decl.grant_types.clone(),
            full_scope_allowed: decl.full_scope_allowed,
            default_scopes: decl.default_scopes.clone(),
            optional_scopes: decl.optional_scopes.clone(),
            access_token_lifespan_secs: decl.access_token_lifespan_secs,
            refresh_token_lifespan_secs: decl.refresh_token_lifespan_secs,
            signing_alg: Alg::parse(&decl.signing_alg).unwrap_or(Alg::RS256),
            organization_prompt: decl.organization_prompt,
            mappers: decl.mappers.iter().map(MapperSetting::from).collect(),
            organization_claim: decl.organization_claim,
        };
        let existing = client_rows::find(conn, realm_id, &decl.client_id)?;
        let secret_hash = match decl.secret.as_ref().and_then(|s| s.resolved.as_ref()) {
            Some(secret) => Some(keep_or_hash(
                existing.as_ref().and_then(|c| c.secret_hash.as_deref()),
                secret.expose(),
                unchanged,
            )?),
            None => None,
        };
        let service_account = if decl.grant_types.iter().any(|g| g == "client_credentials") {
            let user = realm_user(
                conn,
                realm_id,
                &users::service_account_name(&decl.client_id),
                now,
            )?;
            for reference in &decl.service_account_roles {
                let r = role(conn, realm_id, reference)?;
                role_rows::grant_user(conn, &user.id, &r.id)?;
            }
            Some(user.id)
        } else {
            None
        };
        let row = ClientRow {
            id: existing
                .as_ref()
                .map(|c| c.id.clone())
                .unwrap_or_else(crate::db::new_id),
            realm_id: realm_id.clone(),
            client_id: decl.client_id.clone(),
            name: if decl.name.is_empty() {
                decl.client_id.clone()
            } else {
                decl.name.clone()
            },
            enabled: true,
            confidential: decl.confidential,
            secret_hash,
            settings: serde_json::to_string(&settings).unwrap_or_default(),
            service_account_user_id: service_account,
            created_at: existing.as_ref().map(|c| c.created_at).unwrap_or(now),
            updated_at: now,
        };
        if existing.is_some() {
            client_rows::update(conn, &row)?;
        } else {
            client_rows::insert(conn, &row)?;
        }
        let mut scope_ids = Vec::new();
        for reference in &decl.scope_roles {
            scope_ids.push(role(conn, realm_id, reference)?.id);
        }
        client_rows::set_scope_roles(conn, &row.id, &scope_ids)?;
    }

    for decl in &config.users {
        let realm_id = &realms[&decl.realm];
        let before = realm_user(conn, realm_id, &decl.username, now)?;
        let mut user = before.clone();
        user.email = decl.email.clone();
        user.email_verified = decl.email.is_some();
        user.first_name = decl.first_name.clone();
        user.last_name = decl.last_name.clone();
        user.enabled = decl.enabled;
        users::update(
            conn,
            &before,
            &crate::db::models::user::UserChanges {
                username: user.username.clone(),
                username_lower: user.username_lower.clone(),
                email: user.email.clone(),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                display_name: user.display_name.clone(),
                display_name_lower: user.display_name_lower.clone(),
                external_id: None,
                enabled: user.enabled,
                scim_json: None,
                version: user.version + 1,
                updated_at: now,
            },
            None,
            now,
        )?;
        users::set_email_verified(conn, &user.id, user.email_verified)?;
        if let Some(password) = decl.password.as_ref().and_then(|p| p.resolved.as_ref()) {
            let current = credential_rows::password_hash(conn, &user.id)?;
            let hash = keep_or_hash(current.as_deref(), password.expose(), unchanged)?;
            if current.as_deref() != Some(hash.as_str()) {
                credential_rows::set_password_hash(conn, &user.id, &hash, now)?;
            }
        }
        let attributes: Vec<(String, String)> = decl
            .attributes
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
            .collect();
        users::set_attributes(conn, &user.id, &attributes)?;
        for alias in &decl.organizations {
            if let Some(org) = organization::find_by_alias(conn, realm_id, alias)? {
                membership::ensure_member(conn, &org.id, &user.id, &Source::Admin, now)?;
            }
        }
        for reference in &decl.roles {
            let r = role(conn, realm_id, reference)?;
            role_rows::grant_user(conn, &user.id, &r.id)?;
        }
    }

    for decl in &config.group_roles {
        let realm_id = &realms[&decl.realm];
        let Some(org) = organization::find_by_alias(conn, realm_id, &decl.organization)? else {
            continue;
        };
        let (kind, value) = match (&decl.group, &decl.external_id) {
            (Some(name), _) => ("displayName", name.to_lowercase()),
            (None, Some(id)) => ("externalId", id.clone()),
            (None, None) => continue,
        };
        for reference in &decl.roles {
            let r = role(conn, realm_id, reference)?;
            role_rows::add_group_rule(conn, realm_id, &org.id, kind, &value, &r.id)?;
        }
    }
    Ok(())
}
