// openid-client (npm, the certified Node relying party) against a live Vestibule issuer:
// discovery, authorization code + PKCE with state and nonce through the login form over plain
// HTTP, ID token signatures checked against the JWKS, userinfo, refresh, introspection,
// client_credentials, revocation and RP-initiated logout.
//
//   node openid_client_check.mjs --issuer URL --client-id ID --client-secret SECRET \
//     --redirect-uri URI --post-logout-redirect-uri URI --username NAME --password PASSWORD
import * as client from 'openid-client';
import { Checks, Cookies, browse, expect, need, options, signInOverHttp } from './checks.mjs';

const args = options([
  'issuer',
  'client-id',
  'client-secret',
  'redirect-uri',
  'post-logout-redirect-uri',
  'username',
  'password',
]);
const checks = new Checks('openid-client');
const cookies = new Cookies();
let config;
let login;
let tokens;
let refreshed;
let serviceToken;

await checks.run('discovery', async () => {
  // Plain http on loopback only; enableNonRepudiationChecks makes openid-client verify every ID
  // token's signature against jwks_uri (by default it trusts the TLS channel instead).
  config = await client.discovery(
    new URL(args.issuer),
    args['client-id'],
    args['client-secret'],
    undefined,
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
  const metadata = config.serverMetadata();
  expect(metadata.issuer === args.issuer, `issuer ${metadata.issuer} != ${args.issuer}`);
  expect(metadata.supportsPKCE('S256'), 'S256 is not advertised');
  return `issuer ${metadata.issuer}`;
});

await checks.run('authorization code + PKCE S256 + state + nonce (login form over HTTP)', async () => {
  need(config, 'discovery');
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: args['redirect-uri'],
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const { callback } = await signInOverHttp(cookies, url, args.username, args.password);
  expect(
    callback.href.startsWith(`${args['redirect-uri']}?`),
    `redirected to ${callback.href}, not ${args['redirect-uri']}`,
  );
  for (const p of ['code', 'state', 'iss']) expect(callback.searchParams.has(p), `callback lacks ${p}: ${callback}`);
  expect(cookies.has('VESTIBULE_SESSION'), 'no VESTIBULE_SESSION cookie after login');
  login = { callback, codeVerifier, state, nonce };
  return `callback carries ${[...callback.searchParams.keys()].join(', ')}`;
});

await checks.run('code exchange (ID token validated against JWKS)', async () => {
  const { callback, codeVerifier, state, nonce } = need(login, 'login');
  tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  expect(claims.iss === args.issuer, `iss ${claims.iss}`);
  expect([claims.aud].flat().includes(args['client-id']), `aud ${JSON.stringify(claims.aud)}`);
  expect(claims.nonce === nonce, `nonce ${claims.nonce}`);
  expect(tokens.refresh_token, 'no refresh_token');
  expect(tokens.token_type?.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`);
  return `sub ${claims.sub}, ${claims.preferred_username ?? claims.email}`;
});

await checks.run('userinfo', async () => {
  const claims = need(tokens, 'code exchange').claims();
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(info.sub === claims.sub, `sub ${info.sub}`);
  expect(info.email === args.username || info.preferred_username === args.username, `userinfo ${JSON.stringify(info)}`);
  return `email ${info.email}`;
});

await checks.run('refresh', async () => {
  need(tokens, 'code exchange');
  refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  expect(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'no new access token');
  const claims = refreshed.claims();
  if (claims) expect(claims.sub === tokens.claims().sub, `refreshed ID token sub ${claims.sub}`);
  return `new access token${claims ? ' and ID token' : ''}${refreshed.refresh_token ? ', rotated refresh token' : ''}`;
});

await checks.run('introspection', async () => {
  const token = need(refreshed, 'refresh').access_token;
  const answer = await client.tokenIntrospection(config, token);
  expect(answer.active === true, `introspection ${JSON.stringify(answer)}`);
  expect(answer.sub === tokens.claims().sub, `introspected sub ${answer.sub}`);
  return `active, client_id ${answer.client_id}`;
});

await checks.run('client_credentials', async () => {
  need(config, 'discovery');
  serviceToken = await client.clientCredentialsGrant(config, {});
  expect(serviceToken.access_token, 'no access token');
  expect(!serviceToken.refresh_token, 'client_credentials must not return a refresh token (RFC 6749 §4.4.3)');
  return `expires_in ${serviceToken.expires_in}`;
});

await checks.run('revocation', async () => {
  const token = need(serviceToken, 'client_credentials').access_token;
  await client.tokenRevocation(config, token, { token_type_hint: 'access_token' });
  const answer = await client.tokenIntrospection(config, token);
  expect(answer.active === false, `revoked token still introspects as ${JSON.stringify(answer)}`);
  return 'revoked token introspects inactive';
});

await checks.run('RP-initiated logout', async () => {
  const idToken = need(refreshed?.id_token ?? tokens?.id_token, 'code exchange');
  const state = client.randomState();
  const url = client.buildEndSessionUrl(config, {
    id_token_hint: idToken,
    post_logout_redirect_uri: args['post-logout-redirect-uri'],
    state,
  });
  const answer = await browse(cookies, url);
  const location = answer.headers.get('location');
  expect(answer.status === 302 || answer.status === 303, `GET ${url} answered ${answer.status}:\n${await answer.text()}`);
  const back = new URL(location);
  expect(
    back.origin + back.pathname === new URL(args['post-logout-redirect-uri']).href.replace(/\?.*$/, ''),
    `redirected to ${location}`,
  );
  expect(back.searchParams.get('state') === state, `state ${back.searchParams.get('state')} != ${state}`);
  expect(!cookies.has('VESTIBULE_SESSION'), 'the session cookie was not removed');
  return `redirected to ${location}`;
});

await checks.run('refresh token is dead after logout', async () => {
  const refreshToken = need(refreshed?.refresh_token ?? tokens?.refresh_token, 'refresh');
  try {
    await client.refreshTokenGrant(config, refreshToken);
  } catch (error) {
    expect(error.error === 'invalid_grant', `expected invalid_grant, got ${error.error ?? error.message}`);
    return 'invalid_grant';
  }
  throw new Error('the refresh token still works after logout');
});

await checks.run('a replayed code is refused and revokes what it issued (RFC 6749 §4.1.2)', async () => {
  need(config, 'discovery');
  // A fresh login (the one above ended with the logout), exchanged once, then replayed.
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: args['redirect-uri'],
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const { callback } = await signInOverHttp(cookies, url, args.username, args.password);
  const expected = { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce };
  const first = await client.authorizationCodeGrant(config, callback, expected);
  try {
    await client.authorizationCodeGrant(config, callback, expected);
    throw new Error('the code was accepted twice');
  } catch (error) {
    expect(error.error === 'invalid_grant', `replay answered ${error.error ?? error.message}`);
  }
  const still = [];
  for (const [hint, token] of [['refresh_token', first.refresh_token], ['access_token', first.access_token]]) {
    const answer = await client.tokenIntrospection(config, token, { token_type_hint: hint });
    if (answer.active !== false) still.push(hint);
  }
  expect(!still.length, `after the replay these tokens issued for the code still introspect active: ${still.join(', ')}`);
  return 'invalid_grant; its refresh and access tokens introspect inactive';
});

checks.finish();
