//! `vestibule idp list|show`: the declared identity providers, from the config (and a SAML IdP's
//! metadata URL), with no database and no secret: where each sends people, the redirect URI to
//! register at the IdP, its mappers, and what `check-config` warns about. `vestibule idp
//! sp-keys|rotate-sp-key|retire-sp-key`: a SAML connection's own keys, in the database.

use clap::Subcommand;
use vestibule::config::saml_metadata::IdpMetadata;
use vestibule::config::{Config, IdentityProviderDecl, MetadataSource};
use vestibule::db::{DbConnection, Micros};
use vestibule::federation::saml_metadata_url;

#[derive(Subcommand)]
pub enum IdpCommand {
    /// One line per identity provider.
    List {
        /// Only this realm.
        #[arg(long)]
        realm: Option<String>,
    },
    /// Everything about one identity provider.
    Show {
        #[arg(long)]
        realm: String,
        alias: String,
    },
    /// A SAML connection's SP keys (in the database): which one signs, which are published.
    SpKeys {
        #[arg(long)]
        realm: String,
        alias: String,
    },
    /// Adds a SAML connection's next SP key, published at once beside the one that signs.
    RotateSpKey {
        #[arg(long)]
        realm: String,
        alias: String,
    },
    /// Retires the SP key that signs, once the IdP has read the metadata with its successor.
    RetireSpKey {
        #[arg(long)]
        realm: String,
        alias: String,
    },
}

fn kind(idp: &IdentityProviderDecl) -> &'static str {
    if idp.is_saml() && idp.is_entra() {
        "saml (entra)"
    } else if idp.is_saml() {
        "saml"
    } else if idp.is_entra() {
        "oidc (entra)"
    } else {
        "oidc"
    }
}

/// Seconds since the epoch, by this machine's clock.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A SAML IdP's metadata as the daemon would have it: read, or fetched from its URL now.
pub(super) fn saml_metadata(idp: &IdentityProviderDecl) -> anyhow::Result<IdpMetadata> {
    let now = now_secs();
    saml_metadata_url::blocking(saml_metadata_url::load(idp, now))
        .and_then(|loaded| loaded)
        .map_err(|e| anyhow::anyhow!(e))
}

/// The expiring certificates of fetched metadata (local metadata's are among the config's
/// warnings already).
pub(super) fn fetched_certificate_warnings(
    idp: &IdentityProviderDecl,
    metadata: &IdpMetadata,
) -> Vec<String> {
    match idp.metadata_source() {
        Ok(MetadataSource::Url(_)) => idp.certificate_warnings(metadata, now_secs()),
        _ => Vec::new(),
    }
}

/// Where a SAML IdP's metadata comes from, in words.
pub(super) fn metadata_source(idp: &IdentityProviderDecl) -> String {
    match idp.metadata_source() {
        Ok(MetadataSource::File(path)) => format!("file {}", path.display()),
        Ok(MetadataSource::Inline(_)) => "inline".into(),
        Ok(MetadataSource::Url(url)) => format!("{url} (fetched now; refreshed daily by serve)"),
        Err(e) => e,
    }
}

/// A certificate's validity, as dates.
fn validity(not_before: i64, not_after: i64) -> String {
    let day = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| secs.to_string())
    };
    format!("valid {} to {}", day(not_before), day(not_after))
}

/// One line per certificate of the IdP's metadata: its use and validity, and a note when it
/// expires within 30 days (or has).
fn certificate_lines(metadata: &IdpMetadata) -> Vec<String> {
    let now = now_secs();
    metadata
        .certificates
        .iter()
        .map(|c| {
            let usage = match (c.signing, c.encryption) {
                (true, true) => "signing, encryption",
                (true, false) => "signing",
                _ => "encryption",
            };
            let soon = if c.expires_within(now, 30) {
                "  EXPIRES WITHIN 30 DAYS"
            } else {
                ""
            };
            format!(
                "  IdP certificate {:?} ({usage}): {}{soon}",
                c.subject,
                validity(c.not_before, c.not_after)
            )
        })
        .collect()
}

/// What an operator gives the customer's SAML IdP, and what its metadata says.
fn show_saml(config: &Config, idp: &IdentityProviderDecl) -> anyhow::Result<()> {
    let issuer = vestibule::issuer::issuer_url(&config.server.base_url(), &idp.realm);
    println!(
        "  SP entity ID: {}",
        idp.sp_entity_id.as_deref().unwrap_or(&issuer)
    );
    println!("  ACS (HTTP-POST): {}", redirect_uri(config, idp));
    println!(
        "  SP metadata URL: {}/endpoint/descriptor",
        redirect_uri(config, idp).trim_end_matches("/endpoint")
    );
    println!("  IdP metadata: {}", metadata_source(idp));
    let metadata = saml_metadata(idp)?;
    println!("  IdP entity ID: {}", metadata.entity_id);
    for e in &metadata.single_sign_on {
        println!("  IdP SSO: {} ({})", e.location, e.binding);
    }
    for line in certificate_lines(&metadata) {
        println!("{line}");
    }
    println!(
        "  principal: {}  linked to the directory by: {}",
        idp.effective_principal_attribute().unwrap_or("NameID"),
        idp.effective_external_id_claim().unwrap_or("(nothing)")
    );
    println!(
        "  want assertions signed: {}  want response signed: {}  SHA-1 allowed: {}  clock skew: {} s",
        idp.want_assertions_signed,
        idp.want_response_signed,
        idp.allow_sha1,
        idp.clock_skew_secs()
    );
    for w in fetched_certificate_warnings(idp, &metadata) {
        println!("warning: {w}");
    }
    Ok(())
}

/// `{issuer}/broker/{alias}/endpoint`: what the IdP's app registration must list.
fn redirect_uri(config: &Config, idp: &IdentityProviderDecl) -> String {
    format!(
        "{}/realms/{}/broker/{}/endpoint",
        config.server.base_url(),
        idp.realm,
        idp.alias
    )
}

type SpKeyAction =
    fn(&mut DbConnection, &Config, &str, &str, Micros) -> anyhow::Result<Vec<String>>;

/// Runs `action` on the SP keys of SAML connection `alias` of `realm`, in the database.
fn sp_keys(config: Config, realm: &str, alias: &str, action: SpKeyAction) -> anyhow::Result<()> {
    let state = super::open(config)?;
    let mut conn = state.db.get()?;
    let now = state.clock.now();
    super::print_lines(action(&mut conn, &state.config, realm, alias, now)?);
    Ok(())
}

pub fn run(config: Config, command: IdpCommand) -> anyhow::Result<()> {
    match command {
        IdpCommand::SpKeys { realm, alias } => {
            sp_keys(config, &realm, &alias, |c, cfg, r, a, _| {
                vestibule::admin::list_saml_sp_keys(c, cfg, r, a)
            })
        }
        IdpCommand::RotateSpKey { realm, alias } => {
            sp_keys(config, &realm, &alias, vestibule::admin::rotate_saml_sp_key)
        }
        IdpCommand::RetireSpKey { realm, alias } => {
            sp_keys(config, &realm, &alias, vestibule::admin::retire_saml_sp_key)
        }
        IdpCommand::List { realm } => {
            for idp in config
                .identity_providers
                .iter()
                .filter(|i| realm.as_deref().is_none_or(|r| r == i.realm))
            {
                let metadata = if idp.is_saml() {
                    Some(saml_metadata(idp)?)
                } else {
                    None
                };
                let entity = metadata
                    .as_ref()
                    .map(|m| format!("  IdP entity ID {}", m.entity_id))
                    .unwrap_or_default();
                println!(
                    "{}/{}  {:<13} organization {:<12} {}{}{entity}",
                    idp.realm,
                    idp.alias,
                    kind(idp),
                    idp.organization.as_deref().unwrap_or("-"),
                    if idp.enabled { "enabled" } else { "disabled" },
                    if idp.hide_on_login_page {
                        ", hidden"
                    } else {
                        ""
                    },
                );
                for line in metadata.iter().flat_map(certificate_lines) {
                    println!("{line}");
                }
            }
            Ok(())
        }
        IdpCommand::Show { realm, alias } => {
            let idp = config
                .identity_providers
                .iter()
                .find(|i| i.realm == realm && i.alias == alias)
                .ok_or_else(|| {
                    anyhow::anyhow!("no identity provider {alias:?} in realm {realm:?}")
                })?;
            println!(
                "identity provider {}/{} ({})",
                idp.realm,
                idp.alias,
                kind(idp)
            );
            println!(
                "  display name: {}",
                if idp.display_name.is_empty() {
                    &idp.alias
                } else {
                    &idp.display_name
                }
            );
            println!(
                "  enabled: {}  hidden on login page: {}",
                idp.enabled, idp.hide_on_login_page
            );
            println!(
                "  organization: {}",
                idp.organization.as_deref().unwrap_or("(none)")
            );
            if idp.is_saml() {
                show_saml(&config, idp)?;
                println!(
                    "  trust email: {}  first login: {:?}  sync mode: {:?}",
                    idp.trust_email, idp.first_login, idp.sync_mode
                );
                for m in &idp.mappers {
                    println!("  mapper {:?}", m.name);
                }
                for w in idp.warnings() {
                    println!("warning: {w}");
                }
                return Ok(());
            }
            if idp.is_entra() {
                println!("  tenants: {}", idp.tenants().join(", "));
            }
            match idp.effective_discovery_url() {
                Some(url) => println!("  discovery: {url}"),
                None => println!("  endpoints: declared one by one"),
            }
            println!(
                "  client id: {}  authentication: {:?}",
                idp.client_id, idp.client_authentication
            );
            println!("  redirect URI to register: {}", redirect_uri(&config, idp));
            println!(
                "  back-channel logout URI: {}/realms/{}/broker/{}/backchannel-logout",
                config.server.base_url(),
                idp.realm,
                idp.alias
            );
            println!(
                "  scopes: {}  PKCE: {}",
                idp.effective_scopes().join(" "),
                idp.pkce
            );
            println!(
                "  subject: {}  linked to the directory by: {}",
                idp.effective_subject_claim(),
                idp.effective_external_id_claim().unwrap_or("(nothing)")
            );
            println!(
                "  trust email: {}  first login: {:?}  sync mode: {:?}",
                idp.trust_email, idp.first_login, idp.sync_mode
            );
            for m in &idp.mappers {
                println!("  mapper {:?}", m.name);
            }
            for w in idp.warnings() {
                println!("warning: {w}");
            }
            Ok(())
        }
    }
}
