//! Which identity provider a login goes to (Keycloak Organizations' identity-first rules, and
//! `kc_idp_hint`): a pure function of the realm's declared IdPs and what the request says.
//! No page ever lists organizations, and one organization's login page never shows another
//! organization's IdPs.

use serde::Serialize;

use crate::config::IdentityProviderDecl;

/// An identity provider as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpRoute {
    pub realm: String,
    pub alias: String,
    pub display_name: String,
    /// The alias of the organization it belongs to.
    pub organization: Option<String>,
    pub enabled: bool,
    pub hidden: bool,
    pub redirect_when_email_domain_matches: bool,
}

impl From<&IdentityProviderDecl> for IdpRoute {
    fn from(d: &IdentityProviderDecl) -> Self {
        IdpRoute {
            realm: d.realm.clone(),
            alias: d.alias.clone(),
            display_name: if d.display_name.is_empty() {
                d.alias.clone()
            } else {
                d.display_name.clone()
            },
            organization: d.organization.clone(),
            enabled: d.enabled,
            hidden: d.hide_on_login_page,
            redirect_when_email_domain_matches: d.redirect_when_email_domain_matches,
        }
    }
}

/// An IdP the login page offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdpLink {
    pub alias: String,
    pub display_name: String,
}

/// Where a login goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Straight to this IdP.
    Upstream(String),
    /// The login page, offering these IdPs beside the password form.
    Local(Vec<IdpLink>),
    /// A hint that cannot be followed; the message is for the person.
    Refused(String),
}

/// What the request says about where to sign in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    /// The organization the login is pinned to (`organization=`, `kc_org`, the slug page).
    pub organization: Option<&'a str>,
    /// `kc_idp_hint` (or `idp_hint`).
    pub idp: Option<&'a str>,
    /// The organization whose verified domain the `login_hint` email is at.
    pub email_domain_organization: Option<&'a str>,
}

fn link(r: &IdpRoute) -> IdpLink {
    IdpLink {
        alias: r.alias.clone(),
        display_name: r.display_name.clone(),
    }
}

/// Decides where a login in `realm` goes.
pub fn route(routes: &[IdpRoute], realm: &str, hints: &Hints<'_>) -> Route {
    let in_realm = || routes.iter().filter(move |r| r.realm == realm && r.enabled);
    if let Some(alias) = hints.idp {
        // Keycloak: a hidden IdP is still reachable with the hint.
        let Some(found) = in_realm().find(|r| r.alias == alias) else {
            return Route::Refused(format!(
                "The identity provider \"{alias}\" is unknown or disabled."
            ));
        };
        if let Some(pinned) = hints.organization {
            if found.organization.as_deref() != Some(pinned) {
                return Route::Refused(
                    "This identity provider belongs to another organization.".into(),
                );
            }
        }
        return Route::Upstream(found.alias.clone());
    }
    let domain_redirect = |org: &str| {
        in_realm()
            .find(|r| {
                r.organization.as_deref() == Some(org) && r.redirect_when_email_domain_matches
            })
            .map(|r| r.alias.clone())
    };
    if let Some(pinned) = hints.organization {
        let visible: Vec<&IdpRoute> = in_realm()
            .filter(|r| r.organization.as_deref() == Some(pinned) && !r.hidden)
            .collect();
        if let [only] = visible.as_slice() {
            return Route::Upstream(only.alias.clone());
        }
        if hints.email_domain_organization == Some(pinned) {
            if let Some(alias) = domain_redirect(pinned) {
                return Route::Upstream(alias);
            }
        }
        return Route::Local(visible.into_iter().map(link).collect());
    }
    if let Some(org) = hints.email_domain_organization {
        if let Some(alias) = domain_redirect(org) {
            return Route::Upstream(alias);
        }
    }
    Route::Local(
        in_realm()
            .filter(|r| r.organization.is_none() && !r.hidden)
            .map(link)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp(alias: &str, org: Option<&str>) -> IdpRoute {
        IdpRoute {
            realm: "r".into(),
            alias: alias.into(),
            display_name: alias.to_uppercase(),
            organization: org.map(str::to_string),
            enabled: true,
            hidden: false,
            redirect_when_email_domain_matches: false,
        }
    }

    fn aliases(route: Route) -> Vec<String> {
        match route {
            Route::Local(links) => links.into_iter().map(|l| l.alias).collect(),
            other => panic!("not the login page: {other:?}"),
        }
    }

    #[test]
    fn an_organization_with_one_visible_idp_goes_straight_to_it() {
        let routes = [
            idp("acme-entra", Some("acme")),
            idp("globex-okta", Some("globex")),
        ];
        let pinned = Hints {
            organization: Some("acme"),
            ..Hints::default()
        };
        assert_eq!(
            route(&routes, "r", &pinned),
            Route::Upstream("acme-entra".into())
        );
        let other_realm = route(&routes, "other", &pinned);
        assert_eq!(aliases(other_realm), Vec::<String>::new());
    }

    #[test]
    fn several_idps_are_listed_and_only_the_organizations() {
        let mut hidden = idp("acme-hidden", Some("acme"));
        hidden.hidden = true;
        let routes = [
            idp("acme-entra", Some("acme")),
            idp("acme-okta", Some("acme")),
            hidden,
            idp("globex-okta", Some("globex")),
            idp("public-google", None),
        ];
        let pinned = Hints {
            organization: Some("acme"),
            ..Hints::default()
        };
        assert_eq!(
            aliases(route(&routes, "r", &pinned)),
            ["acme-entra", "acme-okta"]
        );
        // Without an organization, only the IdPs of none.
        assert_eq!(
            aliases(route(&routes, "r", &Hints::default())),
            ["public-google"]
        );
    }

    #[test]
    fn an_idp_hint_is_followed_unless_it_crosses_the_pinned_organization() {
        let mut disabled = idp("acme-old", Some("acme"));
        disabled.enabled = false;
        let mut hidden = idp("acme-hidden", Some("acme"));
        hidden.hidden = true;
        let routes = [
            idp("acme-entra", Some("acme")),
            idp("globex-okta", Some("globex")),
            disabled,
            hidden,
        ];
        let hint = |idp, organization| Hints {
            idp: Some(idp),
            organization,
            ..Hints::default()
        };
        assert_eq!(
            route(&routes, "r", &hint("globex-okta", None)),
            Route::Upstream("globex-okta".into())
        );
        assert_eq!(
            route(&routes, "r", &hint("acme-hidden", Some("acme"))),
            Route::Upstream("acme-hidden".into())
        );
        assert!(matches!(
            route(&routes, "r", &hint("globex-okta", Some("acme"))),
            Route::Refused(m) if m.contains("another organization")
        ));
        assert!(matches!(
            route(&routes, "r", &hint("acme-old", None)),
            Route::Refused(_)
        ));
        assert!(matches!(
            route(&routes, "r", &hint("nope", None)),
            Route::Refused(_)
        ));
    }

    #[test]
    fn an_email_domain_redirects_only_where_the_idp_says_so() {
        let mut redirecting = idp("acme-entra", Some("acme"));
        redirecting.redirect_when_email_domain_matches = true;
        let plain = idp("globex-okta", Some("globex"));
        let routes = [redirecting, plain];
        let by_domain = |org| Hints {
            email_domain_organization: Some(org),
            ..Hints::default()
        };
        assert_eq!(
            route(&routes, "r", &by_domain("acme")),
            Route::Upstream("acme-entra".into())
        );
        assert_eq!(
            aliases(route(&routes, "r", &by_domain("globex"))),
            Vec::<String>::new()
        );
    }
}
