//! Vestibule's own OpenID Provider: keys, clients, roles, claims, sessions and the flows that
//! turn them into tokens. Keycloak's URL layout and claim shapes, so apps built for Keycloak
//! switch by changing a host. HTTP lives in `http::oidc` and `web`; no actix types here.

pub mod account;
pub mod api;
pub mod authorize;
pub mod cache;
pub mod claims;
pub mod clients;
pub mod declare;
pub mod finish;
pub mod flows;
pub mod grants;
pub mod introspection;
pub mod jwt;
pub mod keys;
pub mod login;
pub mod logout;
pub mod mappers;
pub mod roles;
pub mod routing;
pub mod runtime;
pub mod scopes;
pub mod throttle;
pub mod tokens;
pub mod transaction;

use crate::db::DbError;

/// An OAuth 2.0 / OIDC error (RFC 6749 §5.2), rendered once at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// A protocol error with its code, description and HTTP status.
    #[error("{code}: {description}")]
    Protocol {
        code: &'static str,
        description: String,
        status: u16,
    },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("key error: {0}")]
    Key(#[from] jwt::JwtError),
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        let status = match code {
            "invalid_client" => 401,
            "invalid_token" => 401,
            "access_denied" => 403,
            "insufficient_scope" => 403,
            "temporarily_unavailable" => 503,
            "server_error" => 500,
            _ => 400,
        };
        OAuthError::Protocol {
            code,
            description: description.into(),
            status,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }

    pub fn status(&self) -> u16 {
        match self {
            OAuthError::Protocol { status, .. } => *status,
            _ => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::Protocol { code, .. } => code,
            _ => "server_error",
        }
    }
}

pub type Result<T> = std::result::Result<T, OAuthError>;

/// `{public_url}/realms/{realm}`: the issuer identifier.
pub fn issuer_url(base_url: &str, realm: &str) -> String {
    format!("{base_url}/realms/{realm}")
}
