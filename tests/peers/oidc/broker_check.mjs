// The whole brokered chain in a real browser (Debian's Chromium, driven by playwright-core): an
// openid-client relying party -> Vestibule -> the upstream IdP's login page -> Vestibule -> the
// relying party, which exchanges the code and reads what Vestibule says about the person.
//
//   node broker_check.mjs --issuer URL --client-id ID --client-secret SECRET --redirect-uri URI \
//     --organization ALIAS --upstream ORIGIN --username NAME --password PASSWORD \
//     --role ROLE --email EMAIL [--groups JSON] [--id-token-claims JSON] [--sub ID] \
//     [--username-selector CSS] [--password-selector CSS] [--submit-selector CSS]
//
// The login starts with `organization=ALIAS`: the organization has one IdP, so Vestibule sends
// the browser straight to the upstream at ORIGIN, whose form is filled in and submitted: by
// default #username, #password and #sign-in (Vestibule's and the Entra-like peer's login page);
// the selectors name another IdP's (SimpleSAMLphp's button is #submit_button). Whatever the
// upstream does next (OIDC's redirect, SAML's auto-submitted POST to the ACS) the browser does. Then, each a named check: the ID token validated by openid-client; the
// organization claim; ROLE in the access token's realm_access.roles; EMAIL in the ID token and
// userinfo; with --groups, exactly those group paths in `groups`; with --id-token-claims, those
// claims (arrays in any order); with --sub, that `sub` (the user SCIM provisioned); and a second
// login from a browser without cookies arriving as the same user.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as client from 'openid-client';
import { CHROMIUM, callbackServer, exchange, launchChromium, startLogin, submitAndLand } from './browser.mjs';
import { Checks, expect, need, options } from './checks.mjs';

const args = options(
  [
    'issuer',
    'client-id',
    'client-secret',
    'redirect-uri',
    'organization',
    'upstream',
    'username',
    'password',
    'role',
    'email',
  ],
  ['groups', 'id-token-claims', 'sub', 'username-selector', 'password-selector', 'submit-selector'],
);
const selectors = {
  username: args['username-selector'] ?? '#username',
  password: args['password-selector'] ?? '#password',
  submit: args['submit-selector'] ?? '#sign-in',
};
const upstream = new URL(args.upstream).origin;
const app = await callbackServer(new URL(args['redirect-uri']).origin);
const checks = new Checks('broker');
const workDir = mkdtempSync(join(tmpdir(), 'vestibule-broker-'));
let context;
let page;
let first;
let second;

/** The claims of a JWT, unverified: what the relying party reads from an access token. */
function payload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** Arrays compared as sets: claims built from sets have no order to rely on. */
function sameClaim(actual, expected) {
  const sorted = (v) => (Array.isArray(v) ? [...v].sort() : v);
  return isDeepStrictEqual(sorted(actual), sorted(expected));
}

/**
 * The relying party starts a login for the organization; the browser must land on the
 * upstream's login page without stopping at Vestibule's.
 */
async function toUpstream() {
  const flow = await startLogin(args.issuer, args['client-id'], args['client-secret'], args['redirect-uri'], {
    scope: 'openid profile email organization',
    organization: args.organization,
  });
  const response = await page.goto(flow.url.href);
  expect(response.status() === 200, `GET ${flow.url} ended with ${response.status()} at ${page.url()}`);
  const at = new URL(page.url());
  expect(at.origin === upstream, `the browser stopped at ${at}, not at the upstream ${upstream}`);
  for (const selector of Object.values(selectors)) {
    expect(await page.locator(selector).isVisible(), `no visible ${selector} on the upstream's page ${at}`);
  }
  return { flow, at };
}

/** Signs in on the upstream's page and follows the redirects back: the URL the application got. */
async function signInUpstream(flow) {
  await page.fill(selectors.username, args.username);
  await page.fill(selectors.password, args.password);
  const landed = await submitAndLand(page, selectors.submit, flow, args.issuer);
  expect(app.arrivals.some((u) => u.href === landed.href), 'the callback server did not see the redirect');
  return landed;
}

/** The first login, once its code was exchanged. */
function exchanged() {
  need(first?.id, 'the code exchange');
  return first;
}

/** One login through the chain, exchanged: the tokens and the claims the application reads. */
async function loginThroughChain() {
  const { flow } = await toUpstream();
  const landed = await signInUpstream(flow);
  const tokens = await exchange(flow, landed);
  return { flow, tokens, id: tokens.claims(), access: payload(tokens.access_token) };
}

try {
  await checks.run('Chromium starts (fresh profile)', async () => {
    ({ context, page } = await launchChromium(join(workDir, 'profile')));
    return CHROMIUM;
  });

  await checks.run(`organization=${args.organization} goes straight to the upstream's login page`, async () => {
    need(page, 'Chromium');
    const { flow, at } = await toUpstream();
    first = { flow };
    return `${at.origin}${at.pathname}`;
  });

  await checks.run('signing in upstream comes back to the application with a code', async () => {
    const { flow } = need(first, "the upstream's login page");
    first.landed = await signInUpstream(flow);
    return `${[...first.landed.searchParams.keys()].join(', ')}`;
  });

  await checks.run('openid-client exchanges the code and validates the ID token (JWKS, iss, aud, nonce)', async () => {
    need(first?.landed, 'the callback');
    const { flow, landed } = first;
    first.tokens = await exchange(flow, landed);
    first.id = first.tokens.claims();
    first.access = payload(first.tokens.access_token);
    expect(first.id.iss === args.issuer, `iss ${first.id.iss}`);
    expect([first.id.aud].flat().includes(args['client-id']), `aud ${JSON.stringify(first.id.aud)}`);
    expect(first.id.nonce === flow.nonce, `nonce ${first.id.nonce}`);
    return `sub ${first.id.sub}`;
  });

  await checks.run(`the organization claim names ${args.organization}`, async () => {
    const { id, access } = exchanged();
    for (const [token, claims] of [['ID token', id], ['access token', access]]) {
      expect(
        isDeepStrictEqual(claims.organization, [args.organization]),
        `${token} organization ${JSON.stringify(claims.organization)}`,
      );
    }
    return JSON.stringify(id.organization);
  });

  await checks.run(`${args.role} is in realm_access.roles of the access token`, async () => {
    const { access } = exchanged();
    const roles = access.realm_access?.roles ?? [];
    expect(roles.includes(args.role), `realm_access.roles ${JSON.stringify(roles)}`);
    return JSON.stringify(roles);
  });

  await checks.run(`the email is ${args.email} in the ID token and userinfo`, async () => {
    const { id, tokens } = exchanged();
    const info = await client.fetchUserInfo(first.flow.config, tokens.access_token, id.sub);
    expect(id.email === args.email, `ID token email ${id.email}`);
    expect(info.email === args.email, `userinfo email ${info.email}`);
    return args.email;
  });

  if (args.groups !== undefined) {
    const groups = JSON.parse(args.groups);
    await checks.run(`groups holds the group names ${groups.join(', ')}`, async () => {
      const { id, access } = exchanged();
      expect(sameClaim(id.groups, groups), `ID token groups ${JSON.stringify(id.groups)}`);
      expect(sameClaim(access.groups, groups), `access token groups ${JSON.stringify(access.groups)}`);
      return JSON.stringify(id.groups);
    });
  }

  if (args['id-token-claims'] !== undefined) {
    const expected = JSON.parse(args['id-token-claims']);
    await checks.run(`the imported attributes are in the ID token (${Object.keys(expected).join(', ')})`, async () => {
      const { id } = exchanged();
      for (const [name, value] of Object.entries(expected)) {
        expect(sameClaim(id[name], value), `${name} ${JSON.stringify(id[name])}, not ${JSON.stringify(value)}`);
      }
      return Object.keys(expected).join(', ');
    });
  }

  if (args.sub !== undefined) {
    await checks.run('the person is the user SCIM provisioned (sub = the SCIM id)', async () => {
      const { id, access } = exchanged();
      expect(id.sub === args.sub, `ID token sub ${id.sub}, SCIM id ${args.sub}`);
      expect(access.sub === args.sub, `access token sub ${access.sub}`);
      return args.sub;
    });
  }

  await checks.run('a second login from a browser without cookies is the same user', async () => {
    const before = need(first?.id, 'the code exchange');
    await context.clearCookies();
    second = await loginThroughChain();
    expect(second.id.sub === before.sub, `second sub ${second.id.sub}, first ${before.sub}`);
    const roles = second.access.realm_access?.roles ?? [];
    expect(roles.includes(args.role), `second login's realm_access.roles ${JSON.stringify(roles)}`);
    return `sub ${second.id.sub}`;
  });
} finally {
  await context?.close().catch(() => {});
  app.close();
  rmSync(workDir, { recursive: true, force: true });
}

checks.finish();
