//! A browser as far as SimpleSAMLphp's pages need one, for tests that do without Chromium:
//! cookies kept per name (one origin), redirects followed by hand, the one form of a page read
//! from its HTML (SimpleSAMLphp's templates write double-quoted attributes).

use std::collections::BTreeMap;
use std::sync::Mutex;

use url::Url;

use super::SamlPeer;

/// Where a visit ended.
#[derive(Debug)]
pub enum SamlVisit {
    /// A redirect away from the peer (the HTTP-Redirect binding): the URL.
    Redirect(String),
    /// A form that posts away from the peer (the HTTP-POST binding's auto-submitting page):
    /// `action` is the ACS or SLO URL, `fields` hold `SAMLResponse` (or `SAMLRequest`) and
    /// `RelayState`.
    Post(Box<Form>),
    /// A form of the peer's own (the login page).
    Form(Box<Form>),
    /// A page without a form: its HTML.
    Page(String),
    /// An error page: the HTTP status (SimpleSAMLphp shows most refusals with 200) and the
    /// error, `Class: message` as its debug section words it (else the whole page).
    Refused(u16, String),
}

/// The first form of a page.
#[derive(Debug, Clone)]
pub struct Form {
    pub page_url: Url,
    pub action: Url,
    pub fields: BTreeMap<String, String>,
    pub html: String,
}

impl Form {
    /// The value of field `name`; fails when the form has none.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("no field {name} in the form at {}", self.page_url))
    }
}

/// A cookie jar of its own in front of the peer's HTTP client.
pub struct SamlBrowser<'a> {
    pub(super) peer: &'a SamlPeer,
    pub(super) cookies: Mutex<BTreeMap<String, String>>,
}

impl SamlBrowser<'_> {
    /// Follows redirects from `url` until they leave the peer or a page shows.
    pub async fn visit(&self, url: &str) -> SamlVisit {
        self.follow(reqwest::Method::GET, Url::parse(url).expect("URL"), &[])
            .await
    }

    /// Posts `fields` to `url` (an HTTP-POST binding message sent to the peer), then follows as
    /// [`Self::visit`] does.
    pub async fn post(&self, url: &str, fields: &[(&str, &str)]) -> SamlVisit {
        self.follow(reqwest::Method::POST, Url::parse(url).expect("URL"), fields)
            .await
    }

    /// Posts `form` with `fields`, then follows as [`Self::visit`] does.
    pub async fn submit(&self, form: &Form, fields: &BTreeMap<String, String>) -> SamlVisit {
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.follow(reqwest::Method::POST, form.action.clone(), &fields)
            .await
    }

    /// Visits `url` (an AuthnRequest in the HTTP-Redirect binding, or an IdP-initiated login)
    /// and fills the login page with `username` and `password`: where the peer sends the
    /// browser next, normally [`SamlVisit::Post`] to the SP's ACS. A login page shown again
    /// (wrong password) fails.
    pub async fn sign_in(&self, url: &str, username: &str, password: &str) -> SamlVisit {
        let form = match self.visit(url).await {
            SamlVisit::Form(form) => form,
            other => return other,
        };
        assert!(
            form.fields.contains_key("password"),
            "not a login page at {}:\n{}",
            form.page_url,
            form.html
        );
        let mut fields = form.fields.clone();
        fields.insert("username".into(), username.into());
        fields.insert("password".into(), password.into());
        match self.submit(&form, &fields).await {
            SamlVisit::Form(again) if again.fields.contains_key("password") => panic!(
                "the IdP showed its login page again for {username}:\n{}\n{}",
                again.html,
                self.peer.log()
            ),
            other => other,
        }
    }

    /// [`Self::sign_in`] that must end in an auto-submitting form posting to `acs`: that form.
    pub async fn sign_in_to(&self, url: &str, username: &str, password: &str, acs: &str) -> Form {
        match self.sign_in(url, username, password).await {
            SamlVisit::Post(form) if form.action.as_str() == acs => *form,
            other => panic!(
                "signing in did not end in a POST to {acs}: {other:?}\n{}",
                self.peer.log()
            ),
        }
    }

    async fn follow(
        &self,
        mut method: reqwest::Method,
        mut url: Url,
        form: &[(&str, &str)],
    ) -> SamlVisit {
        let peer = Url::parse(&self.peer.base).unwrap().origin();
        for _ in 0..12 {
            if url.origin() != peer {
                return SamlVisit::Redirect(url.into());
            }
            let mut request = self.peer.http.request(method.clone(), url.clone());
            if method == reqwest::Method::POST {
                request = request.form(form);
            }
            let cookie = self.cookie_header();
            if !cookie.is_empty() {
                request = request.header("cookie", cookie);
            }
            let reply = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {url}: {e}\n{}", self.peer.log()));
            self.keep_cookies(reply.headers());
            let status = reply.status().as_u16();
            if (300..400).contains(&status) {
                let location = reply.headers()["location"].to_str().expect("location");
                url = url.join(location).expect("redirect URL");
                method = reqwest::Method::GET;
                continue;
            }
            let html = reply.text().await.unwrap_or_default();
            if status != 200 || html.contains("id=\"trackid\"") {
                return SamlVisit::Refused(status, refusal(&html));
            }
            if !html.contains("<form") {
                return SamlVisit::Page(html);
            }
            let found = read_form(&html, &url);
            return if found.action.origin() == peer {
                SamlVisit::Form(Box::new(found))
            } else {
                SamlVisit::Post(Box::new(found))
            };
        }
        panic!("more than 12 redirects from {url}\n{}", self.peer.log());
    }

    fn cookie_header(&self) -> String {
        let cookies = self.cookies.lock().unwrap();
        cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps each `Set-Cookie` by name; an expired or emptied one is dropped.
    fn keep_cookies(&self, headers: &reqwest::header::HeaderMap) {
        let mut cookies = self.cookies.lock().unwrap();
        for line in headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = line.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let lower = line.to_ascii_lowercase();
            if value.is_empty()
                || value == "deleted"
                || lower.contains("expires=thu, 01 jan 1970")
                || lower.contains("max-age=0")
            {
                cookies.remove(name.trim());
            } else {
                cookies.insert(name.trim().into(), value.trim().into());
            }
        }
    }
}

/// The innermost cause on SimpleSAMLphp's error page (`showerrors` is on), else the page.
fn refusal(html: &str) -> String {
    html.rsplit("Caused by: ")
        .next()
        .filter(|_| html.contains("Caused by: "))
        .map(|cause| unescape(cause.lines().next().unwrap_or_default()))
        .unwrap_or_else(|| html.to_string())
}

fn read_form(html: &str, page_url: &Url) -> Form {
    let start = html.find("<form").expect("a form");
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| start + e);
    let form = &html[start..end];
    let tag = &form[..form.find('>').unwrap_or(form.len())];
    let action = page_url
        .join(&attribute(tag, "action").unwrap_or_default())
        .expect("form action");
    let mut fields = BTreeMap::new();
    for input in form.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        if let Some(name) = attribute(tag, "name") {
            fields.insert(name, attribute(tag, "value").unwrap_or_default());
        }
    }
    Form {
        page_url: page_url.clone(),
        action,
        fields,
        html: html.to_string(),
    }
}

/// The value of attribute `name` in a tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = [" ", "\n", "\t"]
        .iter()
        .filter_map(|space| {
            let marker = format!("{space}{name}=\"");
            tag.find(&marker).map(|at| at + marker.len())
        })
        .min()?;
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

/// What PHP's `htmlspecialchars` escapes (SimpleSAMLphp's templates use it).
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
