//! Upstream identity providers: the organizations' own OIDC and SAML IdPs (Entra ID first) that
//! vouch for people, and what Vestibule makes of what they say. [`idp_mappers`] turns the claims
//! of a login into a plan for the user (Keycloak's IdP mappers, pure). No actix types and no
//! application state here: HTTP lives in `http::broker`.

pub mod idp_mappers;
