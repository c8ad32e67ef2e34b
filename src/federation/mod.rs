//! Upstream identity providers: people of an organization sign in through their own IdP
//! (OpenID Connect here, SAML later), and arrive exactly as locally signed-in people do,
//! through the issuer's one finish step. The IdP's protocol is spoken here; what a login
//! becomes (who the user is, their organization, their roles) is decided here too, and
//! written through the shared writers of users and memberships.

pub mod entra;
pub mod first_login;
pub mod http_client;
pub mod login;
pub mod oidc;
pub mod runtime;
pub mod upstream;
