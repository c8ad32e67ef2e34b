//! Liveness (the process answers) and readiness (the database is reachable and migrated).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "UP" }))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let outcome = tokio::task::spawn_blocking(move || db.is_ready()).await;
    match outcome {
        Ok(Ok(())) => HttpResponse::Ok()
            .json(json!({ "status": "UP", "checks": [{"name": "database", "status": "UP"}] })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            // The cause goes to the log only: it can name hosts and paths of the deployment.
            HttpResponse::ServiceUnavailable().json(
                json!({ "status": "DOWN", "checks": [{"name": "database", "status": "DOWN"}] }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "DOWN" }))
        }
    }
}
