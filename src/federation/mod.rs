//! Upstream identity providers: people of an organization sign in through their own IdP
//! (OpenID Connect or SAML 2.0), and arrive exactly as locally signed-in people do,
//! through the issuer's one finish step. The IdP's protocol is spoken here; what a login
//! becomes (who the user is, their organization, their roles: [`idp_mappers`], Keycloak's IdP
//! mappers as a pure plan) is decided here too, and written through the shared writers of
//! users and memberships. No actix types and no application state: HTTP lives in
//! `http::oidc::broker`.

pub mod backchannel;
pub mod entra;
pub mod first_login;
pub mod http_client;
pub mod idp_mappers;
pub mod jws;
pub mod login;
pub mod logout;
pub mod mapping;
pub mod oidc;
pub mod runtime;
pub mod saml;
pub mod saml_algorithms;
pub mod saml_crypt;
pub mod saml_keys;
pub mod saml_login;
pub mod saml_logout;
pub mod saml_metadata_refresh;
pub mod saml_metadata_url;
pub mod saml_redirect;
pub mod saml_xml;
pub mod upstream;
