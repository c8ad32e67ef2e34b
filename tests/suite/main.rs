//! The integration suite: one test binary (one link, one process tree), every module a topic.
//! Each test builds its own database (a SQLite file or a fresh PostgreSQL database) and serves
//! it with the same `vestibule::serve` that `main` uses, or spawns the real binary.

#[macro_use]
mod common;

mod architecture;
mod bench_load;
mod broker_peers;
mod brokering;
mod brokering_entra;
mod brokering_saml;
mod brokering_saml_options;
mod brokering_sessions;
mod cli;
mod daemon;
mod declared_secrets;
mod dialects;
mod durability;
mod entra_peer;
mod entra_sequence;
mod examples;
mod forged_idp;
mod login_attacks;
mod logs;
mod model_effects;
mod oidc_code_flow;
mod oidc_forgeries;
mod oidc_hardening;
mod oidc_machine_tokens;
mod oidc_negatives;
mod oidc_organizations;
mod oidc_peers;
mod oidc_realms;
mod oidc_refusals;
mod oidc_requests;
mod oidc_scopes;
mod oidc_signing_keys;
mod saml_entry_points;
mod saml_fixtures;
mod saml_logout;
mod saml_metadata_url;
mod saml_peer;
mod saml_requests;
mod scim_auth;
mod scim_groups;
mod scim_limits;
mod scim_negatives;
mod scim_queries;
mod scim_users;
