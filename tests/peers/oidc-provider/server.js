// The peer of `vestibule bench oidc`: one node `oidc-provider` on 127.0.0.1 issuing JWT access
// tokens by client_credentials (client_secret_basic) to three clients, one per signing
// algorithm: m2m-rs256 (RS256), m2m-es256 (ES256), m2m-eddsa (EdDSA). One Node process, the
// in-memory adapter, keys generated at start (one per algorithm).
//
//   PORT=8081 BENCH_SECRET=s3cret node server.js
//
// Token endpoint: http://127.0.0.1:$PORT/token; ready once /.well-known/openid-configuration
// answers 200.

import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 8081);
const secret = process.env.BENCH_SECRET || 'bench-secret';
const issuer = `http://127.0.0.1:${port}`;
const resource = 'urn:vestibule:bench:api';

function jwk(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, kid, use: 'sig' };
}

const keys = [
  jwk('rsa', { modulusLength: 2048 }, 'RS256', 'rs256'),
  jwk('ec', { namedCurve: 'P-256' }, 'ES256', 'es256'),
  jwk('ed25519', {}, 'EdDSA', 'eddsa'),
];

const algOf = {
  'm2m-rs256': 'RS256',
  'm2m-es256': 'ES256',
  'm2m-eddsa': 'EdDSA',
};

const clients = Object.keys(algOf).map((clientId) => ({
  client_id: clientId,
  client_secret: secret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'api:read',
}));

const provider = new Provider(issuer, {
  clients,
  scopes: ['openid', 'api:read'],
  jwks: { keys },
  ttl: { ClientCredentials: 300 },
  cookies: { keys: ['vestibule-bench-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator, client) => {
        if (indicator !== resource) throw new Error('unknown resource');
        return {
          scope: 'api:read',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: algOf[client.clientId] } },
        };
      },
    },
  },
});

// Errors go to stderr only when asked for, so a run is not slowed by logging.
if (process.env.BENCH_VERBOSE) {
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  provider.on('grant.error', (_ctx, err) => console.error('grant.error', err));
}

provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
