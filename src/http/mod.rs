//! actix only: the one route table, and each protocol's edge (SCIM here; OAuth, admin and HTML
//! as they come). Handlers extract and authorize, call a feature module, and render.

pub mod access_log;
pub mod client_address;
pub mod health;
pub mod oidc;
pub mod problem;
pub mod scim;

pub use access_log::{note_client_id, AccessLog};
pub use client_address::{client_address, is_https};

use actix_web::web;

use crate::state::AppState;

/// Mounts every route on an `App`; shared by `serve` and the tests.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state))
            .service(web::resource("/health/live").route(web::get().to(health::live)))
            .service(web::resource("/health/ready").route(web::get().to(health::ready)))
            // One scope with the dynamic `{realm}` segment: actix matches dynamic patterns
            // with a regex, which was the costliest part of routing a request.
            .service(
                web::scope("/realms/{realm}")
                    .service(
                        web::scope("/scim/v2")
                            .app_data(web::QueryConfig::default().error_handler(|_, _| {
                                scim::bad_query("the query string is not valid".into())
                            }))
                            .configure(scim::routes)
                            .default_service(web::route().to(scim::unknown_endpoint)),
                    )
                    .configure(oidc::routes),
            )
            .default_service(web::route().to(problem::not_found));
    }
}
