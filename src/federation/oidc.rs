//! OpenID Connect toward an upstream IdP, through the openidconnect crate: the authorization
//! request (state, nonce, PKCE S256), the code exchange (client_secret_basic, _post or
//! private_key_jwt), and every check the ID token must pass (OIDC Core §3.1.3.7): signature by
//! an accepted algorithm (never `none`; HMAC only with the client secret), `iss` (exact, or
//! Entra's rule in `entra`), `aud` contains the client and nothing untrusted, `azp` when there
//! are several audiences, `exp`/`iat`/`nbf` within the clock skew, the nonce, and `at_hash`
//! when present. What the crate leaves to the caller is done here, each with the reason.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, LoginHint, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::config::{ClientAuthentication, IdentityProviderDecl};
use crate::db::Micros;
use crate::federation::entra;
use crate::federation::http_client::UpstreamHttp;
use crate::federation::upstream::{Keys, Metadata};

/// What a callback's checks refused, in words for the log (never the token's content).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Why the code exchange failed: the IdP could not be reached, or what it answered is not
/// acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Refused(String),
}

fn refuse(what: impl Into<String>) -> Refusal {
    Refusal(what.into())
}

/// The authorization request's parameters Vestibule chose.
pub struct Outgoing<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub login_hint: Option<&'a str>,
}

/// The URL the browser is sent to.
pub fn authorization_url(
    idp: &IdentityProviderDecl,
    metadata: &Metadata,
    keys: &Keys,
    out: &Outgoing<'_>,
) -> Result<String, Refusal> {
    let client = CoreClient::new(
        ClientId::new(idp.client_id.clone()),
        issuer_url(metadata)?,
        keys.set.clone(),
    )
    .set_auth_uri(
        AuthUrl::new(metadata.authorization_endpoint.clone())
            .map_err(|_| refuse("bad authorization endpoint"))?,
    )
    .set_redirect_uri(
        RedirectUrl::new(out.redirect_uri.to_string()).map_err(|_| refuse("bad redirect URI"))?,
    );
    let (state, nonce) = (out.state.to_string(), out.nonce.to_string());
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        move || CsrfToken::new(state),
        move || Nonce::new(nonce),
    );
    for scope in idp.effective_scopes().into_iter().filter(|s| s != "openid") {
        request = request.add_scope(Scope::new(scope));
    }
    if let Some(verifier) = out.pkce_verifier {
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.into()));
        request = request.set_pkce_challenge(challenge);
    }
    if let (Some(prompt), true) = (out.prompt, idp.pass_prompt) {
        request = request.add_extra_param("prompt", prompt.to_string());
    }
    if let (Some(hint), true) = (out.login_hint, idp.pass_login_hint) {
        request = request.set_login_hint(LoginHint::new(hint.to_string()));
    }
    let (url, _, _) = request.url();
    Ok(url.to_string())
}

fn issuer_url(metadata: &Metadata) -> Result<IssuerUrl, Refusal> {
    IssuerUrl::new(metadata.issuer.clone())
        .map_err(|_| refuse("the metadata's issuer is not a URL"))
}

/// How Vestibule proves itself at the token endpoint.
pub enum Credentials {
    Secret(String),
    /// A client assertion (RFC 7523) for private_key_jwt.
    Assertion(String),
}

/// What the token endpoint answered.
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
}

/// What the code exchange sends.
pub struct Grant<'a> {
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub pkce_verifier: Option<&'a str>,
    pub credentials: Credentials,
}

/// Exchanges the authorization code at the IdP's token endpoint.
pub async fn exchange(
    http: &UpstreamHttp,
    idp: &IdentityProviderDecl,
    metadata: &Metadata,
    keys: &Keys,
    grant: Grant<'_>,
) -> Result<Tokens, ExchangeError> {
    let Grant {
        redirect_uri,
        code,
        pkce_verifier,
        credentials,
    } = grant;
    let invalid = |r: Refusal| ExchangeError::Refused(r.0);
    let mut client = CoreClient::new(
        ClientId::new(idp.client_id.clone()),
        issuer_url(metadata).map_err(invalid)?,
        keys.set.clone(),
    )
    .set_token_uri(
        TokenUrl::new(metadata.token_endpoint.clone())
            .map_err(|_| invalid(refuse("bad token endpoint")))?,
    )
    .set_redirect_uri(
        RedirectUrl::new(redirect_uri.to_string())
            .map_err(|_| invalid(refuse("bad redirect URI")))?,
    )
    .set_auth_type(match idp.client_authentication {
        ClientAuthentication::ClientSecretBasic => AuthType::BasicAuth,
        _ => AuthType::RequestBody,
    });
    let assertion = match credentials {
        Credentials::Secret(secret) => {
            client = client.set_client_secret(ClientSecret::new(secret));
            None
        }
        Credentials::Assertion(jwt) => Some(jwt),
    };
    let mut request = client.exchange_code(AuthorizationCode::new(code.to_string()));
    if let Some(verifier) = pkce_verifier {
        request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()));
    }
    if let Some(jwt) = assertion {
        request = request
            .add_extra_param(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .add_extra_param("client_assertion", jwt);
    }
    let send = |r| {
        let http = http.clone();
        async move { http.call(r).await }
    };
    let response = request.request_async(&send).await.map_err(|e| match e {
        openidconnect::RequestTokenError::ServerResponse(r) => ExchangeError::Refused(format!(
            "the token endpoint refused the code: {}",
            r.error()
        )),
        openidconnect::RequestTokenError::Request(e) => {
            ExchangeError::Unreachable(format!("the token request failed: {e}"))
        }
        // An answer that does not parse (an ID token without `sub`, say) is not acceptable.
        other => ExchangeError::Refused(format!("the token response is not valid: {other}")),
    })?;
    let id_token = response
        .id_token()
        .ok_or_else(|| ExchangeError::Refused("the token response carries no ID token".into()))?
        .to_string();
    Ok(Tokens {
        id_token,
        access_token: response.access_token().secret().clone(),
    })
}

/// The algorithms the declaration accepts, as openidconnect names them.
fn algorithms(idp: &IdentityProviderDecl) -> Vec<CoreJwsSigningAlgorithm> {
    idp.signature_algorithms
        .iter()
        .filter_map(|a| serde_json::from_value(Value::String(a.clone())).ok())
        .filter(|a| *a != CoreJwsSigningAlgorithm::None)
        .collect()
}

/// The JOSE header and payload of a compact JWS, unverified.
pub fn parts(jwt: &str) -> Result<(Value, Value), Refusal> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    let mut it = jwt.split('.');
    let mut decode = |what: &str| -> Result<Value, Refusal> {
        let part = it
            .next()
            .ok_or_else(|| refuse(format!("the JWT has no {what}")))?;
        let bytes = B64
            .decode(part)
            .map_err(|_| refuse(format!("the JWT's {what} is not base64url")))?;
        serde_json::from_slice(&bytes).map_err(|_| refuse(format!("the JWT's {what} is not JSON")))
    };
    let header = decode("header")?;
    let payload = decode("payload")?;
    Ok((header, payload))
}

/// The `kid` an ID token's header names.
pub fn kid_of(jwt: &str) -> Option<String> {
    parts(jwt)
        .ok()
        .and_then(|(h, _)| h.get("kid").and_then(Value::as_str).map(str::to_string))
}

/// OIDC Core §3.1.3.6: the left half of the hash of the access token, by the hash of the ID
/// token's algorithm.
fn token_hash(alg: &str, access_token: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    let digest: Vec<u8> = match alg {
        "RS256" | "PS256" | "ES256" | "HS256" => Sha256::digest(access_token).to_vec(),
        "RS384" | "PS384" | "ES384" | "HS384" => Sha384::digest(access_token).to_vec(),
        "RS512" | "PS512" | "ES512" | "HS512" | "EdDSA" => Sha512::digest(access_token).to_vec(),
        _ => return None,
    };
    Some(B64.encode(&digest[..digest.len() / 2]))
}

/// What the ID token check needs besides the token.
pub struct Expected<'a> {
    pub nonce: &'a str,
    pub now: Micros,
    /// The client secret, for an IdP that signs with HMAC.
    pub client_secret: Option<&'a str>,
    pub access_token: &'a str,
}

/// Verifies an ID token; its claims when every check passes.
pub fn verify_id_token(
    idp: &IdentityProviderDecl,
    metadata: &Metadata,
    keys: &Keys,
    id_token: &str,
    expected: &Expected<'_>,
) -> Result<Value, Refusal> {
    let token: CoreIdToken = id_token
        .parse()
        .map_err(|_| refuse("the ID token is not a JWT"))?;
    let (header, claims) = parts(id_token)?;
    let now_s = expected.now / 1_000_000;
    let skew = idp.clock_skew_secs();
    let issuer = issuer_url(metadata)?;
    let verifier = match expected.client_secret {
        Some(secret) => CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(idp.client_id.clone()),
            ClientSecret::new(secret.to_string()),
            issuer,
            keys.set.clone(),
        ),
        None => CoreIdTokenVerifier::new_public_client(
            ClientId::new(idp.client_id.clone()),
            issuer,
            keys.set.clone(),
        ),
    };
    let checked_at = chrono::DateTime::from_timestamp(now_s - skew, 0).unwrap_or_default();
    let latest_iat = chrono::DateTime::from_timestamp(now_s + skew, 0).unwrap_or_default();
    let verifier = verifier
        .set_allowed_algs(algorithms(idp))
        // Entra's multi-tenant issuer is a template; `entra::check_issuer` checks it instead.
        .require_issuer_match(!idp.is_entra())
        // openidconnect compares `exp` with no skew: it is given the time minus the skew.
        .set_time_fn(move || checked_at)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > latest_iat {
                Err("the ID token was issued in the future".into())
            } else {
                Ok(())
            }
        });
    token
        .claims(&verifier, &Nonce::new(expected.nonce.to_string()))
        .map_err(|e| refuse(format!("the ID token is not valid: {e:?}")))?;
    // §3.1.3.7 items 4-5, which openidconnect leaves out.
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let azp = claims.get("azp").and_then(Value::as_str);
    if audiences.len() > 1 && azp.is_none() {
        return Err(refuse("the ID token has several audiences and no azp"));
    }
    if azp.is_some_and(|a| a != idp.client_id) {
        return Err(refuse("the ID token was issued to another party (azp)"));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now_s + skew)
    {
        return Err(refuse("the ID token is not valid yet (nbf)"));
    }
    if let Some(at_hash) = claims.get("at_hash").and_then(Value::as_str) {
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if token_hash(alg, expected.access_token).as_deref() != Some(at_hash) {
            return Err(refuse(
                "the ID token's at_hash does not match the access token",
            ));
        }
    }
    if idp.is_entra() {
        let kid = header.get("kid").and_then(Value::as_str);
        entra::check_issuer(idp, &metadata.issuer, &claims, keys.issuer_of(kid)).map_err(refuse)?;
    }
    Ok(claims)
}

/// The userinfo claims (OIDC Core §5.3), whose `sub` must be the ID token's (§5.3.2).
pub async fn userinfo(
    http: &UpstreamHttp,
    metadata: &Metadata,
    access_token: &str,
    subject: &str,
) -> Result<Option<Value>, Refusal> {
    let Some(endpoint) = &metadata.userinfo_endpoint else {
        return Ok(None);
    };
    let claims = http
        .get_json(
            endpoint,
            Some(AccessToken::new(access_token.into()).secret()),
        )
        .await
        .map_err(|e| refuse(format!("the userinfo request failed: {e}")))?;
    if claims.get("sub").and_then(Value::as_str) != Some(subject) {
        return Err(refuse("the userinfo sub is not the ID token's"));
    }
    Ok(Some(claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_access_tokens_hash() {
        // OIDC Core §3.1.3.6 with the example of the spec's Appendix A.3.
        assert_eq!(
            token_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y").as_deref(),
            Some("77QmUPtjPfzWtF2AnpK9RQ")
        );
        assert_eq!(token_hash("none", "x"), None);
    }
}
