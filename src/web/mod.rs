//! Server-rendered pages for people: login, organization slug, errors, account, the logout
//! confirmation. Templates are compiled into the binary and every value is HTML-escaped.

use minijinja::Environment;
use std::sync::OnceLock;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            (
                "organization.html",
                include_str!("templates/organization.html"),
            ),
            ("error.html", include_str!("templates/error.html")),
            ("form_post.html", include_str!("templates/form_post.html")),
            ("logged_out.html", include_str!("templates/logged_out.html")),
            (
                "logout_confirm.html",
                include_str!("templates/logout_confirm.html"),
            ),
            ("account.html", include_str!("templates/account.html")),
        ] {
            // The sources are part of the binary; a broken one fails the tests, not a login.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not parse");
            }
        }
        env
    })
}

/// Renders a page; a template error becomes a plain, escaped message.
pub fn render(name: &str, ctx: minijinja::Value) -> String {
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(template = name, error = %e, "page failed to render");
            "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn every_page_renders_and_escapes() {
        let login = render(
            "login.html",
            context! { realm => "r", action => "/x", request_id => "1", csrf => "c", username => "<b>", organization => "Acme", error => "bad" },
        );
        assert!(
            login.contains("Sign in to Acme")
                && login.contains("&lt;b&gt;")
                && !login.contains("<b>")
        );
        assert!(render(
            "organization.html",
            context! { realm => "r", action => "/o", request_id => "1", csrf => "c", slug => "" }
        )
        .contains("Organization identifier"));
        assert!(
            render("error.html", context! { realm => "r", message => "nope" }).contains("nope")
        );
        assert!(render(
            "form_post.html",
            context! { redirect_uri => "https://a/cb", fields => vec![("code", "x")] }
        )
        .contains("name=\"code\""));
        assert!(render("logged_out.html", context! { realm => "r" }).contains("signed out"));
        let account = render(
            "account.html",
            context! { realm => "r", name => "A", username => "a", organizations => Vec::<String>::new(), identities => Vec::<String>::new(), logout => "/l", csrf_field => "csrf", csrf => "t0k" },
        );
        assert!(
            account.contains("Signed in as") && account.contains("name=\"csrf\" value=\"t0k\"")
        );
        let confirm = render(
            "logout_confirm.html",
            context! { realm => "r", action => "/l", csrf_field => "csrf", csrf => "t0k", fields => vec![("state", "<s>")] },
        );
        assert!(
            confirm.contains("name=\"csrf\" value=\"t0k\"")
                && confirm.contains("name=\"state\" value=\"&lt;s&gt;\""),
            "{confirm}"
        );
    }
}
