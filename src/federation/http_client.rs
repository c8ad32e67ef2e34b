//! The one HTTP client toward upstream IdPs: OpenSSL TLS (native-tls), short timeouts, no
//! redirects followed (an IdP's endpoints are where its metadata says, and a redirect could
//! point anywhere), and every body read to a cap, so a hostile or broken IdP can neither stall
//! a login nor fill memory. openidconnect takes it as its async HTTP client.

use std::time::Duration;

use openidconnect::http::{HeaderMap, HeaderValue, Response, StatusCode};
use openidconnect::{HttpRequest, HttpResponse};

/// The largest upstream answer read (metadata, JWKS, token response, userinfo).
pub const MAX_BODY: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why an upstream call failed, without the response's content.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamHttpError {
    #[error("the request could not be sent: {0}")]
    Send(String),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer could not be read: {0}")]
    Read(String),
}

/// Every client toward an IdP starts here: no redirects, short timeouts, our User-Agent.
pub fn builder() -> openidconnect::reqwest::ClientBuilder {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent(concat!("vestibule/", env!("CARGO_PKG_VERSION")))
}

/// The answer's body, refused as soon as it (or its announced length) passes `cap` bytes.
pub async fn read_capped(
    mut answer: openidconnect::reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, UpstreamHttpError> {
    if answer.content_length().is_some_and(|n| n as usize > cap) {
        return Err(UpstreamHttpError::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer
        .chunk()
        .await
        .map_err(|e| UpstreamHttpError::Read(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > cap {
            return Err(UpstreamHttpError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Clone)]
pub struct UpstreamHttp {
    client: openidconnect::reqwest::Client,
}

impl UpstreamHttp {
    pub fn new() -> Result<UpstreamHttp, UpstreamHttpError> {
        let client = builder()
            .build()
            .map_err(|e| UpstreamHttpError::Send(e.to_string()))?;
        Ok(UpstreamHttp { client })
    }

    /// Sends one request and reads its answer up to [`MAX_BODY`].
    pub async fn call(&self, request: HttpRequest) -> Result<HttpResponse, UpstreamHttpError> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        let mut outgoing = self.client.request(parts.method, url).body(body);
        for (name, value) in &parts.headers {
            outgoing = outgoing.header(name, value);
        }
        let answer = outgoing
            .send()
            .await
            .map_err(|e| UpstreamHttpError::Send(e.without_url().to_string()))?;
        let status = StatusCode::from_u16(answer.status().as_u16())
            .map_err(|e| UpstreamHttpError::Read(e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in answer.headers() {
            if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(name.clone(), v);
            }
        }
        let body = read_capped(answer, MAX_BODY).await?;
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }

    /// GET `url` and parse its JSON answer; a status other than 200 is an error.
    pub async fn get_json(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<serde_json::Value, String> {
        let mut request = openidconnect::http::Request::builder()
            .method(openidconnect::http::Method::GET)
            .uri(url)
            .header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Vec::new()).map_err(|e| e.to_string())?;
        let answer = self.call(request).await.map_err(|e| e.to_string())?;
        if answer.status() != StatusCode::OK {
            return Err(format!("answered HTTP {}", answer.status().as_u16()));
        }
        serde_json::from_slice(answer.body()).map_err(|_| "the answer is not JSON".to_string())
    }
}
