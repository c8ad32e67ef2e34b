//! JSON problem details (RFC 9457), the dialect of the admin API and of every path that is no
//! protocol's: `application/problem+json` with `type`, `title`, `status` and `detail`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// A refusal in problem-details form. `detail` is for people and never quotes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // RFC 9457 §4.2.1: "about:blank" when the status code says it all.
        HttpResponse::build(self.status)
            .content_type("application/problem+json")
            .body(
                json!({
                    "type": "about:blank",
                    "title": self.title,
                    "status": self.status.as_u16(),
                    "detail": self.detail,
                })
                .to_string(),
            )
    }
}

/// Any path no route serves.
pub async fn not_found() -> Result<HttpResponse, Problem> {
    Err(Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        "there is no endpoint at this path",
    ))
}
