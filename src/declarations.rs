//! Applies what the config declares (realms, organizations, directories) to the database at
//! start: creates or updates what is declared, never deletes what is not. Running it twice
//! changes nothing the second time.

use std::collections::HashMap;

use crate::config::Config;
use crate::db::models::directory::{self, Directory};
use crate::db::models::organization::{self, Domain, Organization, OrganizationChanges};
use crate::db::models::realm;
use crate::db::{write_transaction, DbConnection, DbError, Micros};
use crate::directories;

/// The realm every installation has, even one that declares none.
pub const DEFAULT_REALM: &str = "default";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub realms: usize,
    pub organizations_created: usize,
    pub organizations_updated: usize,
    pub directories_created: usize,
    pub directories_updated: usize,
    /// Directories whose config token an operator revoked: it stays refused.
    pub revoked_config_tokens: Vec<String>,
}

pub fn apply(conn: &mut DbConnection, config: &Config, now: Micros) -> Result<Applied, DbError> {
    write_transaction(conn, |conn| apply_in_transaction(conn, config, now))
}

fn apply_in_transaction(
    conn: &mut DbConnection,
    config: &Config,
    now: Micros,
) -> Result<Applied, DbError> {
    let mut applied = Applied::default();
    let mut realm_ids = HashMap::new();
    let names: Vec<&str> = if config.realms.is_empty() {
        vec![DEFAULT_REALM]
    } else {
        config.realms.iter().map(|r| r.name.as_str()).collect()
    };
    for name in names {
        let realm = realm::ensure(conn, name, now)?;
        realm_ids.insert(name.to_string(), realm.id);
        applied.realms += 1;
    }

    let mut org_ids = HashMap::new();
    for decl in &config.organizations {
        let realm_id = &realm_ids[&decl.realm];
        let org_id = match organization::find_by_alias(conn, realm_id, &decl.alias)? {
            Some(existing) => {
                organization::update(
                    conn,
                    &existing.id,
                    &OrganizationChanges {
                        name: decl.name.clone(),
                        description: decl.description.clone(),
                        enabled: decl.enabled,
                        redirect_url: decl.redirect_url.clone(),
                        updated_at: now,
                    },
                )?;
                applied.organizations_updated += 1;
                existing.id
            }
            None => {
                let org = Organization {
                    id: crate::db::new_id(),
                    realm_id: realm_id.clone(),
                    alias: decl.alias.clone(),
                    name: decl.name.clone(),
                    description: decl.description.clone(),
                    enabled: decl.enabled,
                    redirect_url: decl.redirect_url.clone(),
                    created_at: now,
                    updated_at: now,
                };
                organization::insert(conn, &org)?;
                applied.organizations_created += 1;
                org.id
            }
        };
        let domains: Vec<Domain> = decl
            .domains
            .iter()
            .map(|d| Domain {
                organization_id: org_id.clone(),
                realm_id: realm_id.clone(),
                name: d.name().to_ascii_lowercase(),
                verified: d.verified(),
            })
            .collect();
        organization::set_domains(conn, &org_id, &domains)?;
        let attributes: Vec<(String, String)> = decl
            .attributes
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
            .collect();
        organization::set_attributes(conn, &org_id, &attributes)?;
        org_ids.insert((decl.realm.clone(), decl.alias.clone()), org_id);
    }

    for decl in &config.directories {
        let realm_id = &realm_ids[&decl.realm];
        let org_id = &org_ids[&(decl.realm.clone(), decl.organization.clone())];
        let dir_id = match directory::find_by_name(conn, realm_id, &decl.name)? {
            Some(existing) => {
                directory::update(
                    conn,
                    &existing.id,
                    org_id,
                    decl.deprovisioning.as_str(),
                    now,
                )?;
                applied.directories_updated += 1;
                existing.id
            }
            None => {
                let dir = Directory {
                    id: crate::db::new_id(),
                    realm_id: realm_id.clone(),
                    organization_id: org_id.clone(),
                    name: decl.name.clone(),
                    deprovisioning: decl.deprovisioning.as_str().to_string(),
                    created_at: now,
                    updated_at: now,
                };
                directory::insert(conn, &dir)?;
                applied.directories_created += 1;
                dir.id
            }
        };
        if let Some(secret) = decl.token.as_ref().and_then(|t| t.resolved.as_ref()) {
            if !directories::set_config_token(conn, &dir_id, secret.expose(), now)? {
                applied.revoked_config_tokens.push(decl.name.clone());
            }
        }
    }
    Ok(applied)
}
