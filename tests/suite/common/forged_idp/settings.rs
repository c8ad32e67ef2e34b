//! How the forged IdP starts: which IdP it plays, its client, its user, its first key, its
//! clock.

use std::sync::Arc;

use vestibule::clock::{Clock, FixedClock, SystemClock};

use super::{Alg, User, HOME_TENANT};

/// Which IdP the forged one plays.
#[derive(Clone, Debug, PartialEq)]
pub enum Flavor {
    /// A plain OpenID provider whose issuer is its base URL.
    Generic,
    /// Entra ID (v2.0 endpoints): the issuer is `{base}/{tid}/v2.0` for the user's `tid`,
    /// `tenant` is the app registration's (the root discovery document's issuer), and JWKS keys
    /// carry `issuer: {base}/{tenantid}/v2.0` as Entra's common keys do.
    Entra { tenant: String },
}

/// A client authentication method of the token endpoint (RFC 6749 §2.3, OIDC Core §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    SecretBasic,
    SecretPost,
    PrivateKeyJwt,
}

impl ClientAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::SecretBasic => "client_secret_basic",
            ClientAuth::SecretPost => "client_secret_post",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// How the forged IdP starts. `Settings::default()` is a plain provider; [`Settings::entra`]
/// plays Entra. Every field can be changed before `start`.
pub struct Settings {
    pub flavor: Flavor,
    pub client_id: String,
    pub client_secret: String,
    /// The methods `/token` accepts (and discovery advertises).
    pub client_auth: Vec<ClientAuth>,
    /// With `private_key_jwt`: where the client's keys are. When set, `/token` verifies the
    /// assertion (signature, `iss` = `sub` = client_id, `aud`, `exp`); when not, it only
    /// records it.
    pub client_jwks_uri: Option<String>,
    /// Whom `/authorize` signs in until a test calls [`ForgedIdp::sign_in_as`].
    pub user: User,
    /// The algorithm of the first signing key.
    pub alg: Alg,
    /// RFC 9207: the authorization response carries `iss`, and discovery says so.
    pub iss_in_authorization_response: bool,
    /// Discovery advertises back-channel logout (with `sid`).
    pub backchannel_logout: bool,
    /// Seconds an ID token is valid.
    pub id_token_lifetime: i64,
    /// Where `iat`, `exp` and `auth_time` come from: the system clock, or the test's.
    pub clock: Arc<dyn Clock>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            flavor: Flavor::Generic,
            client_id: "vestibule".into(),
            client_secret: "upstream-secret".into(),
            client_auth: vec![
                ClientAuth::SecretBasic,
                ClientAuth::SecretPost,
                ClientAuth::PrivateKeyJwt,
            ],
            client_jwks_uri: None,
            user: User::generic("alice"),
            alg: Alg::RS256,
            iss_in_authorization_response: false,
            backchannel_logout: true,
            id_token_lifetime: 3600,
            clock: Arc::new(SystemClock),
        }
    }
}

impl Settings {
    /// Entra ID: tenant [`HOME_TENANT`], user `alice` of that tenant. No RFC 9207 `iss` in the
    /// authorization response (Entra's discovery does not advertise it); set
    /// `iss_in_authorization_response` for the mix-up tests.
    pub fn entra() -> Settings {
        Settings {
            flavor: Flavor::Entra {
                tenant: HOME_TENANT.into(),
            },
            user: User::entra(HOME_TENANT, "alice"),
            ..Settings::default()
        }
    }

    /// Time stands at `secs` after the epoch (a fixed clock of its own).
    pub fn at(self, secs: i64) -> Settings {
        self.with_clock(Arc::new(FixedClock::new(secs * 1_000_000)))
    }

    /// Time comes from `clock` (the test's, shared with Vestibule's).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Settings {
        Settings { clock, ..self }
    }
}
