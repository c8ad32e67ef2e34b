"""Authlib (PyPI) as a relying party against a live Vestibule issuer.

Discovery; authorization code + PKCE (S256) with state and nonce, signing in through the login
form over plain HTTP; the ID token checked by Authlib against the JWKS (signature, iss, aud, exp,
nonce, at_hash); userinfo; refresh; client_credentials; RP-initiated logout. One line per check,
a summary line (`authlib: N passed, F failed`), exit status 1 on any failure. No `assert`
statements: every expectation goes through `expect`, so `python -O` runs the same checks.

    python authlib_check.py --issuer URL --client-id ID --client-secret SECRET \\
        --redirect-uri URI --post-logout-redirect-uri URI --username NAME --password PASSWORD
"""

from __future__ import annotations

import argparse
import sys
import traceback
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session

SESSION_COOKIE = "VESTIBULE_SESSION"


class CheckFailed(Exception):
    """A check's expectation that did not hold."""


def expect(condition, message) -> None:
    """Fails the check with `message` unless `condition`. A function, not `assert`: the checks
    must hold under `python -O` / PYTHONOPTIMIZE too, which strip every assert statement."""
    if not condition:
        raise CheckFailed(message)


class Relying(OpenIDMixin):
    """Authlib's OpenID half (JWKS fetch, ID token parsing, logout URL) over a requests session,
    the way its framework integrations assemble it, without a web framework."""

    def __init__(self, metadata: dict, client_id: str, client_secret: str, redirect_uri: str):
        self.server_metadata = metadata
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri

    def load_server_metadata(self) -> dict:
        return self.server_metadata

    def _get_session(self) -> OAuth2Session:
        return self.session()

    def session(self, **kwargs) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope="openid profile email",
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint=self.server_metadata["token_endpoint"],
            **kwargs,
        )


class Form(HTMLParser):
    """The first form of a page: action, named inputs, element ids, the #error text."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields: dict[str, str] = {}
        self.ids: list[str] = []
        self.error = None
        self._in_error = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
            self._in_error = a["id"] == "error"
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        if tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""

    def handle_data(self, data):
        if self._in_error:
            self.error = (self.error or "") + data

    def handle_endtag(self, tag):
        self._in_error = False


def read_form(page: str) -> Form:
    form = Form()
    form.feed(page)
    if form.action is None:
        raise CheckFailed(f"no <form> on the page:\n{page}")
    return form


def sign_in_over_http(browser: requests.Session, url: str, username: str, password: str) -> str:
    """Fetches the authorization URL, submits the login form, returns the redirect to the client."""
    page = browser.get(url, allow_redirects=False)
    if page.status_code != 200:
        raise CheckFailed(f"GET {url} answered {page.status_code}:\n{page.text}")
    form = read_form(page.text)
    for needed in ("username", "password", "sign-in"):
        if needed not in form.ids:
            raise CheckFailed(f"the login page has no #{needed}:\n{page.text}")
    action = urljoin(url, form.action)
    answer = browser.post(
        action,
        data={**form.fields, "username": username, "password": password},
        allow_redirects=False,
    )
    if answer.status_code not in (302, 303):
        raise CheckFailed(f"POST {action} answered {answer.status_code}:\n{answer.text}")
    return urljoin(action, answer.headers["location"])


class Checks:
    def __init__(self, peer: str):
        self.peer = peer
        self.passed = 0
        self.failed = 0

    def run(self, name, body):
        try:
            detail = body()
        except Exception as error:  # noqa: BLE001 - every failure is reported, then counted
            self.failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {error}", flush=True)
            traceback.print_exc(file=sys.stderr)
            return
        self.passed += 1
        print(f"ok   {name}" + (f" — {detail}" if detail else ""), flush=True)

    def finish(self) -> int:
        print(f"{self.peer}: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def need(value, what):
    if value is None:
        raise CheckFailed(f"not run: needs {what}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in (
        "issuer",
        "client-id",
        "client-secret",
        "redirect-uri",
        "post-logout-redirect-uri",
        "username",
        "password",
    ):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()

    checks = Checks("authlib")
    browser = requests.Session()
    s: dict = {}

    def discovery():
        url = args.issuer.rstrip("/") + "/.well-known/openid-configuration"
        answer = requests.get(url, timeout=30)
        answer.raise_for_status()
        metadata = answer.json()
        expect(metadata["issuer"] == args.issuer, metadata["issuer"])
        expect("S256" in metadata.get("code_challenge_methods_supported", []), metadata)
        s["rp"] = Relying(metadata, args.client_id, args.client_secret, args.redirect_uri)
        return f"issuer {metadata['issuer']}"

    def login():
        rp: Relying = need(s.get("rp"), "discovery")
        session = rp.session()
        code_verifier = generate_token(48)
        nonce = generate_token(20)
        url, state = session.create_authorization_url(
            rp.server_metadata["authorization_endpoint"],
            code_verifier=code_verifier,
            nonce=nonce,
        )
        expect("code_challenge_method=S256" in url, url)
        callback = sign_in_over_http(browser, url, args.username, args.password)
        expect(callback.startswith(args.redirect_uri + "?"), f"redirected to {callback}")
        params = parse_qs(urlsplit(callback).query)
        for p in ("code", "state", "iss"):
            expect(p in params, f"callback lacks {p}: {callback}")
        expect(params["iss"] == [args.issuer], params["iss"])
        expect(SESSION_COOKIE in browser.cookies, "no session cookie after login")
        s.update(session=session, callback=callback, state=state, nonce=nonce, verifier=code_verifier)
        return "callback carries " + ", ".join(params)

    def exchange():
        rp: Relying = s["rp"]
        session: OAuth2Session = need(s.get("session"), "login")
        # authorization_response checks state (parse_authorization_code_response) and takes code.
        token = session.fetch_token(
            authorization_response=s["callback"],
            state=s["state"],
            code_verifier=s["verifier"],
        )
        # Signature against jwks_uri, then iss, aud, exp (essential), nonce and at_hash.
        userinfo = rp.parse_id_token(
            token,
            nonce=s["nonce"],
            claims_options={
                "iss": {"essential": True, "value": args.issuer},
                "aud": {"essential": True, "value": args.client_id},
                "exp": {"essential": True},
            },
        )
        expect(userinfo is not None, f"no id_token in {sorted(token)}")
        expect(userinfo["nonce"] == s["nonce"], f"nonce {userinfo['nonce']} != {s['nonce']}")
        expect(token.get("refresh_token"), "no refresh_token")
        s.update(token=token, sub=userinfo["sub"])
        return f"sub {userinfo['sub']}, {userinfo.get('preferred_username') or userinfo.get('email')}"

    def userinfo():
        rp: Relying = s["rp"]
        session: OAuth2Session = need(s.get("token") and s["session"], "code exchange")
        answer = session.get(rp.server_metadata["userinfo_endpoint"])
        answer.raise_for_status()
        info = answer.json()
        expect(info["sub"] == s["sub"], info)
        expect(args.username in (info.get("email"), info.get("preferred_username")), info)
        return f"email {info.get('email')}"

    def refresh():
        session: OAuth2Session = need(s.get("token") and s["session"], "code exchange")
        old = s["token"]
        token = session.refresh_token(refresh_token=old["refresh_token"])
        expect(token["access_token"] != old["access_token"], "no new access token")
        if "id_token" in token:
            # OIDC Core §12.2: a refreshed ID token keeps iss, sub and aud; a nonce is optional
            # there (it belongs to an authentication request, and a refresh is none).
            claims = s["rp"].parse_id_token(
                token,
                nonce=None,
                claims_options={
                    "iss": {"essential": True, "value": args.issuer},
                    "aud": {"essential": True, "value": args.client_id},
                    "exp": {"essential": True},
                },
            )
            expect(claims["sub"] == s["sub"], claims)
            expect(claims.get("nonce") in (None, s["nonce"]), claims)
        s["refreshed"] = token
        return "new access token" + (" and ID token" if "id_token" in token else "")

    def client_credentials():
        rp: Relying = need(s.get("rp"), "discovery")
        session = rp.session()
        token = session.fetch_token(grant_type="client_credentials")
        expect(token.get("access_token"), token)
        expect("refresh_token" not in token, "client_credentials must not return a refresh token (RFC 6749 §4.4.3)")
        answer = session.post(
            rp.server_metadata["introspection_endpoint"],
            data={"token": token["access_token"]},
            auth=(args.client_id, args.client_secret),
            withhold_token=True,
        )
        answer.raise_for_status()
        expect(answer.json().get("active") is True, answer.text)
        return f"expires_in {token.get('expires_in')}, introspects active"

    def logout():
        rp: Relying = s["rp"]
        token = need(s.get("refreshed") or s.get("token"), "code exchange")
        made = rp.create_logout_url(
            post_logout_redirect_uri=args.post_logout_redirect_uri,
            id_token_hint=token["id_token"] if "id_token" in token else s["token"]["id_token"],
        )
        answer = browser.get(made["url"], allow_redirects=False)
        if answer.status_code not in (302, 303):
            raise CheckFailed(f"GET {made['url']} answered {answer.status_code}:\n{answer.text}")
        location = answer.headers["location"]
        back = urlsplit(location)
        expected = urlsplit(args.post_logout_redirect_uri)
        expect(
            (back.scheme, back.netloc, back.path) == (expected.scheme, expected.netloc, expected.path),
            f"redirected to {location}",
        )
        expect(parse_qs(back.query).get("state") == [made["state"]], location)
        expect(SESSION_COOKIE not in browser.cookies, "the session cookie was not removed")
        return f"redirected to {location}"

    def refresh_after_logout():
        token = need(s.get("refreshed") or s.get("token"), "refresh")
        session: OAuth2Session = s["session"]
        try:
            session.refresh_token(refresh_token=token["refresh_token"])
        except Exception as error:  # authlib raises OAuthError with .error
            expect(getattr(error, "error", None) == "invalid_grant", repr(error))
            return "invalid_grant"
        raise CheckFailed("the refresh token still works after logout")

    checks.run("discovery", discovery)
    checks.run("authorization code + PKCE S256 + state + nonce (login form over HTTP)", login)
    checks.run("code exchange (ID token: JWKS signature, iss, aud, exp, nonce)", exchange)
    checks.run("userinfo", userinfo)
    checks.run("refresh", refresh)
    checks.run("client_credentials", client_credentials)
    checks.run("RP-initiated logout", logout)
    checks.run("refresh token is dead after logout", refresh_after_logout)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
