//! `vestibule check-config`: validates the config without the database and without its
//! secrets, and prints what it declares. Each secret reference is reported with whether it can
//! be resolved here; one that cannot is a note, not a failure (the check may run where the
//! secrets do not live, such as CI), and no secret value is ever printed.

use vestibule::config::Config;
use vestibule::declarations;

use super::idp::{fetched_certificate_warnings, metadata_source, saml_metadata};
use super::process_env;

pub fn check_config(config: &Config) -> anyhow::Result<()> {
    println!("config ok");
    println!(
        "listen: {}  public url: {}",
        config.server.listen,
        config.server.base_url()
    );
    let realms: Vec<&str> = config.realms.iter().map(|r| r.name.as_str()).collect();
    println!(
        "realms: {}",
        if realms.is_empty() {
            declarations::DEFAULT_REALM.to_string()
        } else {
            realms.join(", ")
        }
    );
    for o in &config.organizations {
        let domains: Vec<&str> = o.domains.iter().map(|d| d.name()).collect();
        println!(
            "organization {}/{}: {:?} domains [{}]{}",
            o.realm,
            o.alias,
            o.name,
            domains.join(", "),
            if o.enabled { "" } else { " (disabled)" }
        );
    }
    for d in &config.directories {
        println!(
            "directory {}/{} -> organization {}: deprovisioning {}, token {}",
            d.realm,
            d.name,
            d.organization,
            d.deprovisioning.as_str(),
            if d.token.is_some() {
                "declared"
            } else {
                "none (mint one with `directory token create`)"
            }
        );
        if let Some(entra) = &d.entra {
            println!(
                "  Entra's own JWT from tenants {} for audience {}",
                entra.tenants.join(", "),
                entra.audience
            );
        }
        if !d.clients.is_empty() {
            println!(
                "  access tokens of clients {} (client_credentials)",
                d.clients.join(", ")
            );
        }
    }
    for idp in &config.identity_providers {
        println!(
            "identity provider {}/{} ({}) -> organization {}{}",
            idp.realm,
            idp.alias,
            if idp.is_saml() && idp.is_entra() {
                "saml, entra"
            } else if idp.is_saml() {
                "saml"
            } else if idp.is_entra() {
                "oidc, entra"
            } else {
                "oidc"
            },
            idp.organization.as_deref().unwrap_or("(none)"),
            if idp.enabled { "" } else { " (disabled)" }
        );
        if idp.is_saml() {
            // A URL is fetched as `serve` would: its failure fails the check, naming the IdP.
            let metadata = saml_metadata(idp)?;
            println!(
                "  SAML metadata ({}): entity ID {}, {} signing certificate(s)",
                metadata_source(idp),
                metadata.entity_id,
                metadata.signing_certificates().count()
            );
            for w in fetched_certificate_warnings(idp, &metadata) {
                println!("warning: {w}");
            }
        }
    }
    for warning in config.warnings() {
        println!("warning: {warning}");
    }
    for check in config.check_secrets(&process_env()) {
        match check.problem {
            None => println!("secret {} ({}): resolvable", check.what, check.source),
            Some(problem) => println!(
                "note: secret {} ({}) cannot be resolved here: {problem}; serve, apply and migrate need it",
                check.what, check.source
            ),
        }
    }
    Ok(())
}
