// What the browser checks share: Debian's Chromium as playwright-core launches it, the
// application's callback server, and an authorization request started with openid-client.
import { createServer } from 'node:http';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { expect } from './checks.mjs';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Headless Chromium on a fresh profile in `userDataDir`: its context and first page. */
export async function launchChromium(userDataDir) {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

/**
 * The application's side at `origin` (http://127.0.0.1:PORT): every request it gets is recorded
 * in `arrivals` and answered with a plain page showing #callback.
 */
export async function callbackServer(origin) {
  const arrivals = [];
  const server = createServer((req, res) => {
    arrivals.push(new URL(req.url, origin));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Callback</title><h1 id="callback">Back in the application</h1>');
  });
  const { hostname, port } = new URL(origin);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), hostname, resolve);
  });
  return { arrivals, close: () => server.close() };
}

/**
 * An authorization request as an application would start it, through openid-client: discovery
 * (every ID token's signature checked against jwks_uri), PKCE S256, state and nonce, and the
 * `extra` parameters (`organization`, ...). `clientSecret` is the secret, or client metadata with
 * it (`{ client_secret, id_token_signed_response_alg }`); a client without one is public.
 */
export async function startLogin(issuer, clientId, clientSecret, redirectUri, extra = {}) {
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    clientSecret,
    clientSecret ? undefined : client.None(),
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { config, url, codeVerifier, state, nonce, redirectUri };
}

/** The code exchange of a login `startLogin` began, landed at `landed`: openid-client's tokens. */
export async function exchange(flow, landed) {
  return client.authorizationCodeGrant(flow.config, new URL(landed), {
    pkceCodeVerifier: flow.codeVerifier,
    expectedState: flow.state,
    expectedNonce: flow.nonce,
    idTokenExpected: true,
  });
}

/**
 * Clicks `selector` (a login form's submit button) and waits until the browser lands on the
 * redirect URI of `flow` with a code and the flow's state and `iss`: the URL it landed on.
 */
export async function submitAndLand(page, selector, flow, issuer) {
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(`${flow.redirectUri}?`)),
    page.click(selector),
  ]);
  const landed = new URL(page.url());
  expect(landed.searchParams.get('code'), `no code in ${landed}`);
  expect(landed.searchParams.get('state') === flow.state, `state in ${landed}`);
  expect(landed.searchParams.get('iss') === issuer, `iss in ${landed}`);
  return landed;
}
