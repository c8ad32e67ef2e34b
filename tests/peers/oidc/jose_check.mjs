// jose (npm: a JOSE implementation on WebCrypto, sharing no code with Vestibule's OpenSSL signer)
// verifies a live Vestibule's ES256 and EdDSA tokens against its JWKS, fetched over HTTP. For each
// algorithm, a client declared with that signing_alg gets a client_credentials access token and,
// through the login form, an authorization code ID token; both verify (the header's alg, a kid the
// JWKS publishes, iss, aud, exp), and the ID token with one claim changed, or the access token
// with one signature byte changed, is refused: the verifier can fail.
//
//   node jose_check.mjs --issuer URL --es256-client-id ID --eddsa-client-id ID \
//     --client-secret SECRET --redirect-uri URI --username NAME --password PASSWORD
// Both clients share the secret and the redirect URI.
import * as jose from 'jose';
import { exchange, startLogin } from './browser.mjs';
import { Checks, Cookies, expect, need, options, signInOverHttp } from './checks.mjs';

const args = options([
  'issuer',
  'es256-client-id',
  'eddsa-client-id',
  'client-secret',
  'redirect-uri',
  'username',
  'password',
]);
const checks = new Checks('jose');
// What each algorithm's key is in a JWKS (RFC 7518 §6.2, RFC 8037 §2).
const ALGORITHMS = [
  { alg: 'ES256', clientId: args['es256-client-id'], kty: 'EC', crv: 'P-256' },
  { alg: 'EdDSA', clientId: args['eddsa-client-id'], kty: 'OKP', crv: 'Ed25519' },
];
let metadata;
let jwks;

await checks.run('discovery and the JWKS over HTTP', async () => {
  const discovery = await fetch(`${args.issuer}/.well-known/openid-configuration`);
  expect(discovery.status === 200, `discovery answered ${discovery.status}`);
  metadata = await discovery.json();
  expect(metadata.issuer === args.issuer, `issuer ${metadata.issuer} != ${args.issuer}`);
  const answer = await fetch(metadata.jwks_uri);
  expect(answer.status === 200, `GET ${metadata.jwks_uri} answered ${answer.status}`);
  jwks = await answer.json();
  expect(Array.isArray(jwks.keys) && jwks.keys.length > 0, `no keys: ${JSON.stringify(jwks)}`);
  return jwks.keys.map((k) => `${k.alg} ${k.kty}${k.crv ? ` ${k.crv}` : ''}`).join(', ');
});

/** jose's verification against the JWKS as fetched: signature by the kid's key, alg, iss, aud, exp. */
async function verify(token, alg, audience) {
  const keys = jose.createLocalJWKSet(need(jwks, 'the JWKS'));
  const { payload, protectedHeader } = await jose.jwtVerify(token, keys, {
    issuer: args.issuer,
    audience,
    algorithms: [alg],
    requiredClaims: ['exp', 'iat', 'sub'],
  });
  expect(protectedHeader.alg === alg, `header alg ${protectedHeader.alg}`);
  const key = jwks.keys.find((k) => k.kid === protectedHeader.kid);
  expect(key?.alg === alg, `kid ${protectedHeader.kid} is no ${alg} key of the JWKS`);
  return payload;
}

/** The verification of `token` must fail on its signature, and on nothing else. */
async function refused(token, alg, audience) {
  try {
    await verify(token, alg, audience);
  } catch (error) {
    expect(error instanceof jose.errors.JWSSignatureVerificationFailed, `refused for another reason: ${error.code}: ${error.message}`);
    return error.code;
  }
  throw new Error('the altered token verified');
}

const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

for (const { alg, clientId, kty, crv } of ALGORITHMS) {
  let accessToken;
  let idToken;

  await checks.run(`${alg}: the JWKS publishes a ${kty} ${crv} key for it`, async () => {
    const key = need(jwks, 'the JWKS').keys.find((k) => k.alg === alg);
    expect(key, `no key with alg ${alg}`);
    expect(key.kty === kty && key.crv === crv, `the ${alg} key is ${key.kty} ${key.crv}`);
    expect(key.use === 'sig' && key.kid, `use ${key.use}, kid ${key.kid}`);
    return `kid ${key.kid}`;
  });

  await checks.run(`${alg}: ${clientId}'s client_credentials access token verifies`, async () => {
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(args['client-secret'])}`).toString('base64');
    const answer = await fetch(need(metadata, 'discovery').token_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    const body = await answer.json();
    expect(answer.status === 200, `the token endpoint answered ${answer.status}: ${JSON.stringify(body)}`);
    accessToken = body.access_token;
    const claims = await verify(accessToken, alg, clientId);
    expect(claims.azp === clientId, `azp ${claims.azp}`);
    return `sub ${claims.sub}`;
  });

  await checks.run(`${alg}: ${clientId}'s ID token from the code flow verifies`, async () => {
    // openid-client runs the flow (browser.mjs's, which also checks the signature); told the
    // client's id_token_signed_response_alg, it accepts the ID token's alg. jose checks again.
    const flow = await startLogin(
      args.issuer,
      clientId,
      { client_secret: args['client-secret'], id_token_signed_response_alg: alg },
      args['redirect-uri'],
    );
    const { callback } = await signInOverHttp(new Cookies(), flow.url, args.username, args.password);
    idToken = (await exchange(flow, callback)).id_token;
    const claims = await verify(idToken, alg, clientId);
    expect(claims.nonce === flow.nonce, `nonce ${claims.nonce} != ${flow.nonce}`);
    return `sub ${claims.sub}`;
  });

  await checks.run(`${alg}: the ID token with its sub changed is refused`, async () => {
    const [header, payload, signature] = need(idToken, 'the ID token').split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url'));
    const forged = [header, encode({ ...claims, sub: `${claims.sub}-someone-else` }), signature].join('.');
    return refused(forged, alg, clientId);
  });

  await checks.run(`${alg}: the access token with one signature byte changed is refused`, async () => {
    const [header, payload, signature] = need(accessToken, 'the access token').split('.');
    const bytes = Buffer.from(signature, 'base64url');
    bytes[0] ^= 0x01;
    return refused([header, payload, bytes.toString('base64url')].join('.'), alg, clientId);
  });
}

checks.finish();
