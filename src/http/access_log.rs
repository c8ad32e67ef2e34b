//! One access line per request, at `info` under the target `vestibule::access`: method, route
//! template, status, latency, and the realm and client id where known.
//!
//! What a client sends is personal data or a credential until proven otherwise: query strings
//! (`?access_token=`, `?filter=userName eq "…"`), bodies, headers, cookies, its address, even the
//! raw path (ids, values). So the line carries only what Vestibule itself defines: the route
//! template of the matched resource (or a placeholder), a standard method name, a realm that is
//! declared, and a client id that has the shape of one. Errors are not printed here either:
//! their `Display` often quotes the request (a filter parser says where the filter went wrong).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, HttpMessage, HttpRequest};

use crate::config::Config;
use crate::declarations::DEFAULT_REALM;

/// The route of a request no resource matched; the path itself may carry anything.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// The client a request speaks for, as a handler learnt it, for the access line. Set it with
/// [`note_client_id`].
#[derive(Debug, Clone)]
pub struct LoggedClientId(String);

/// Records the client id the request names (authenticated or not: a refused client is what an
/// operator looks for). A client id is public (RFC 6749 §2.2), but a confused client may put
/// anything in the field, so only identifier-shaped values are kept: an email, a URL with a
/// query or a long token never is.
pub fn note_client_id(req: &HttpRequest, client_id: Option<&str>) {
    if let Some(id) = client_id.filter(|id| is_identifier(id)) {
        req.extensions_mut().insert(LoggedClientId(id.to_string()));
    }
}

/// Up to 64 characters of letters, digits and `-._:/`: Keycloak-style client ids and simple URIs,
/// never an email, a query string, whitespace, or one of our 68-character tokens.
fn is_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':' | '/'))
}

/// The middleware: `App::wrap(AccessLog::new(&config))`.
pub struct AccessLog {
    realms: Arc<[String]>,
}

impl AccessLog {
    /// Realms are all declared in the config (or the default one), so the set is known here; a
    /// realm segment naming anything else is a value the client typed and is not logged.
    pub fn new(config: &Config) -> AccessLog {
        let realms: Vec<String> = if config.realms.is_empty() {
            vec![DEFAULT_REALM.to_string()]
        } else {
            config.realms.iter().map(|r| r.name.clone()).collect()
        };
        AccessLog {
            realms: realms.into(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for AccessLog
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = AccessLogService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(AccessLogService {
            service: Rc::new(service),
            realms: self.realms.clone(),
        }))
    }
}

pub struct AccessLogService<S> {
    service: Rc<S>,
    realms: Arc<[String]>,
}

impl<S, B> Service<ServiceRequest> for AccessLogService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<ServiceResponse<B>, Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = method_name(req.method());
        let realms = self.realms.clone();
        // Nothing of `req` is kept across the call: routing needs the request to itself.
        let response = self.service.call(req);
        Box::pin(async move {
            let outcome = response.await;
            let latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
            match &outcome {
                Ok(res) => {
                    let req = res.request();
                    let route = req.match_pattern();
                    let realm = req
                        .match_info()
                        .get("realm")
                        .filter(|name| realms.iter().any(|r| r == name));
                    let client = req.extensions().get::<LoggedClientId>().cloned();
                    write(
                        method,
                        route.as_deref().unwrap_or(UNMATCHED_ROUTE),
                        res.status(),
                        latency_ms,
                        realm,
                        client.as_ref().map(|c| c.0.as_str()),
                    );
                }
                // Only a middleware inside this one fails this way (handlers' errors are
                // responses by now); the request went with it.
                Err(e) => write(
                    method,
                    UNMATCHED_ROUTE,
                    e.as_response_error().status_code(),
                    latency_ms,
                    None,
                    None,
                ),
            }
            outcome
        })
    }
}

fn write(
    method: &str,
    route: &str,
    status: StatusCode,
    latency_ms: f64,
    realm: Option<&str>,
    client_id: Option<&str>,
) {
    // Displayed, not debugged: the text format would quote every value otherwise.
    tracing::info!(
        target: "vestibule::access",
        method = %method,
        route = %route,
        status = status.as_u16(),
        latency_ms,
        realm = realm.map(tracing::field::display),
        client_id = client_id.map(tracing::field::display),
        "request"
    );
}

/// A standard method's name; an extension method is whatever the client typed, so it is not.
fn method_name(method: &Method) -> &'static str {
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    STANDARD
        .iter()
        .find(|(m, _)| m == method)
        .map_or("OTHER", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_identifier_shaped_client_ids_are_kept() {
        for (id, kept) in [
            ("web", true),
            ("logs-app", true),
            ("service-account_1.v2", true),
            ("urn:app:billing", true),
            ("https://app.example.com/sp", true),
            ("", false),
            ("alice@acme.test", false),
            ("app?secret=1", false),
            ("two words", false),
            ("new\nline", false),
            (&"x".repeat(65), false),
            (&format!("vst_{}", "a".repeat(64)), false),
        ] {
            assert_eq!(is_identifier(id), kept, "{id:?}");
        }
    }

    #[test]
    fn extension_methods_are_not_echoed() {
        assert_eq!(method_name(&Method::GET), "GET");
        assert_eq!(method_name(&Method::PATCH), "PATCH");
        let typed = Method::from_bytes(b"ALICE").expect("a token");
        assert_eq!(method_name(&typed), "OTHER");
    }
}
