//! One authorization-code round trip as a browser and its application make it: authorize GET,
//! the login form POST (argon2id), the code, the token POST with PKCE.

use anyhow::{bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{PASSWORD, REDIRECT_URI, SECRET};

/// The value of the hidden input `name` in an HTML form.
fn hidden_input(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(
        rest[v..v + end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// One authorization-code round trip: authorize GET, login POST, code, token POST.
pub(super) async fn code_round_trip(
    client: &reqwest::Client,
    base: &str,
    i: usize,
) -> anyhow::Result<()> {
    let issuer = format!("{base}/realms/bench");
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = B64.encode(bytes);
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    let state = format!("s{i}");
    let query = form(&[
        ("client_id", "web"),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", &state),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let resp = client
        .get(format!("{issuer}/protocol/openid-connect/auth?{query}"))
        .send()
        .await?;
    let status = resp.status();
    // The login transaction belongs to the browser that asked for it (its login cookie): the
    // login POST carries back every cookie the authorization endpoint set, as a browser would.
    let cookies = resp
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let html = resp.text().await?;
    if status != 200 {
        bail!("authorize answered {status}: {html}");
    }
    let request = hidden_input(&html, "request").context("no request input on the login page")?;
    let csrf = hidden_input(&html, "csrf").context("no csrf input on the login page")?;
    let resp = client
        .post(format!("{base}/realms/bench/login-actions/authenticate"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(reqwest::header::COOKIE, cookies)
        .body(form(&[
            ("request", &request),
            ("csrf", &csrf),
            ("username", "bench@acme.test"),
            ("password", PASSWORD),
        ]))
        .send()
        .await?;
    if resp.status() != 302 {
        let status = resp.status();
        bail!(
            "the login answered {status}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("the login's redirect has no Location")?;
    let url = url::Url::parse(location).context("the login's Location is not a URL")?;
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(state.as_str()) {
        bail!("the redirect lost the state: {location}");
    }
    let code = param("code").with_context(|| format!("no code in {location}"))?;
    let resp = client
        .post(format!("{issuer}/protocol/openid-connect/token"))
        .basic_auth("web", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ]))
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if status != 200 || body["access_token"].as_str().is_none() || body["id_token"].is_null() {
        bail!("the code exchange answered {status}: {body}");
    }
    Ok(())
}
