// An Entra ID-like upstream OpenID Connect provider for the tests: node `oidc-provider`, one
// Provider per tenant, on 127.0.0.1 only.
//
//   node server.js --port 8090 --config entra.json
//
// prints `ready http://127.0.0.1:8090` on stdout once it answers. The Rust harness is
// tests/suite/common/entra_peer.rs; its tests are tests/suite/entra_peer.rs.
//
// Config (JSON):
//   { "tenants": [ { "tid": GUID, "name": "Contoso", "own_keys": false,
//                    "users": [ { "oid": GUID, "upn", "password", "email"?, "xms_edov"?: bool,
//                                 "name", "given_name", "family_name", "preferred_username"?,
//                                 "groups"?: [GUID], "roles"?: [string] } ] } ],
//     "clients": [ { "client_id", "client_secret", "redirect_uris": [..],
//                    "post_logout_redirect_uris"?: [..], "backchannel_logout_uri"?,
//                    "tenants"?: [GUID] } ] }
// A client without `tenants` is a multi-tenant app, registered in every tenant. oids and upns
// are unique across tenants. Tenants sign with one shared key set (as Entra's do) unless
// `own_keys` gives them one of their own (as Entra's apps with claims-mapping policies have).
//
// Per tenant, below http://127.0.0.1:{port}/{tid} (Entra's paths at login.microsoftonline.com):
//   issuer                  /{tid}/v2.0
//   discovery               /{tid}/v2.0/.well-known/openid-configuration
//   authorization, token    /{tid}/oauth2/v2.0/authorize, /{tid}/oauth2/v2.0/token
//   jwks_uri                /{tid}/discovery/v2.0/keys (every key with `issuer`: the tenant's)
//   userinfo, end session   /{tid}/oidc/userinfo, /{tid}/oauth2/v2.0/logout
//   login page              /{tid}/login/{interaction}  (#username, #password, #sign-in)
// Tenant-independent (see common.js), `organizations` alike:
//   /common/v2.0/.well-known/openid-configuration   issuer `http://127.0.0.1:{port}/{tenantid}/v2.0`
//   /common/discovery/v2.0/keys   shared keys with the template issuer, own keys with their tenant's
//   /common/oauth2/v2.0/authorize|token, /common/oidc/userinfo, /common/oauth2/v2.0/logout
//   /graph/getMemberObjects       where a groups overage points (Bearer access token -> groups)
//
// ID token claims (Entra's v2 shapes): sub (pairwise: base64url SHA-256 of tid, client_id and
// oid, 43 characters), ver "2.0", upn, xms_edov, groups (or, with overage on, `_claim_names` and
// `_claim_sources` instead), roles, sid (clients with a backchannel_logout_uri); with `profile`:
// oid, tid, name, preferred_username; with `email`: email. Userinfo: sub, and with `profile`
// name, given_name, family_name, with `email` email. Consent is never asked for.
//
// Admin endpoints (loopback callers only; JSON bodies and answers):
//   POST /admin/keys/rotate {"tid"?}      a new key signs for the set that signs for `tid` (the
//        shared set if omitted or not own_keys); the old stay published.
//        -> {"set", "kid", "previous", "published": [kid..]}
//   POST /admin/keys/bad {"enabled": bool}  publish (or stop) an extra key `kty: "XYZ"`, kid
//        `unparseable-key`, in every JWKS. -> {"enabled"}
//   POST /admin/users/overage {"oid", "enabled": bool}  groups overage for one user's next ID
//        tokens. -> {"oid", "enabled"}
//   POST /admin/backchannel-logout {"upn", "sid"?}  ends the user's sessions (or the one that
//        gave some client `sid`), revokes their grants, and POSTs a signed logout_token to each
//        of their clients with a backchannel_logout_uri.
//        -> {"deliveries": [{"client_id", "sid", "sub", "uri", "status", "error"?}]}
//   GET  /admin/sessions[?upn=]           -> {"sessions": [{"tid", "oid", "upn",
//        "clients": [{"client_id", "sid", "sub"}]}]}

import * as crypto from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { Common, isCommon } from './common.js';
import { readJson, sendJson } from './http.js';
import { KeySet, unparseableKey } from './keys.js';
import { Tenant } from './tenant.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fail(message) {
  console.error(`entra peer: ${message}`);
  process.exit(2);
}

/** Refuses a config the peer could not serve as Entra would, naming what is wrong. */
function checkConfig(config) {
  if (!Array.isArray(config.tenants) || config.tenants.length === 0) fail('config needs "tenants"');
  if (!Array.isArray(config.clients)) fail('config needs "clients"');
  const oids = new Set();
  const upns = new Set();
  for (const tenant of config.tenants) {
    if (!GUID.test(tenant.tid ?? '')) fail(`tenant tid ${tenant.tid} is not a GUID`);
    for (const user of tenant.users ?? []) {
      if (!GUID.test(user.oid ?? '')) fail(`user ${user.upn} oid ${user.oid} is not a GUID`);
      if (!user.upn || !user.password) fail(`user ${user.oid} needs "upn" and "password"`);
      for (const group of user.groups ?? []) if (!GUID.test(group)) fail(`group ${group} of ${user.upn} is not a GUID`);
      if (oids.has(user.oid)) fail(`oid ${user.oid} appears twice`);
      if (upns.has(user.upn.toLowerCase())) fail(`upn ${user.upn} appears twice`);
      oids.add(user.oid);
      upns.add(user.upn.toLowerCase());
    }
  }
  for (const client of config.clients) {
    if (!client.client_id || !client.client_secret || !Array.isArray(client.redirect_uris)) {
      fail(`client ${client.client_id} needs "client_id", "client_secret" and "redirect_uris"`);
    }
  }
}

class Peer {
  constructor(config, port) {
    this.base = `http://127.0.0.1:${port}`;
    this.clients = config.clients;
    this.badKey = false;
    this.overage = new Set();
    this.sharedKeys = new KeySet('shared');
    this.tenants = new Map();
    const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
    for (const settings of config.tenants) {
      const clients = config.clients.filter((c) => !c.tenants || c.tenants.includes(settings.tid));
      const keySet = settings.own_keys ? new KeySet(settings.tid) : this.sharedKeys;
      const tenant = new Tenant(settings, { base: this.base, keySet, clients, overage: this.overage, cookieKeys });
      this.tenants.set(settings.tid, tenant);
    }
    this.common = new Common(this);
  }

  tenantOfUpn(upn) {
    return [...this.tenants.values()].find((t) => t.userByUpn(upn));
  }

  userByOid(oid) {
    return [...this.tenants.values()].map((t) => t.userByOid(oid)).find(Boolean);
  }

  #withBadKey(keys, issuer) {
    return { keys: this.badKey ? [...keys, unparseableKey(issuer)] : keys };
  }

  /** A tenant's jwks_uri: the keys it signs with, each naming the tenant's issuer. */
  tenantJwks(tenant) {
    return this.#withBadKey(tenant.keySet.published(tenant.issuer), tenant.issuer);
  }

  /** The common jwks_uri: shared keys under the template issuer, own keys under their tenant's. */
  commonJwks() {
    const template = `${this.base}/{tenantid}/v2.0`;
    const own = [...this.tenants.values()]
      .filter((t) => t.keySet !== this.sharedKeys)
      .flatMap((t) => t.keySet.published(t.issuer));
    return this.#withBadKey([...this.sharedKeys.published(template), ...own], template);
  }

  async handle(req, res) {
    const url = new URL(req.url, this.base);
    const [, first, ...more] = url.pathname.split('/');
    const rest = `/${more.join('/')}`;
    if (first === 'admin') return this.#admin(req, res, rest, url);
    if (isCommon(first)) return this.common.handle(req, res, first, rest, url);
    if (first === 'graph' && rest === '/getMemberObjects' && req.method === 'POST') {
      return this.common.memberObjects(req, res);
    }
    const tenant = this.tenants.get(first);
    if (!tenant) {
      return sendJson(res, 400, {
        error: 'invalid_tenant',
        error_description: `AADSTS90002: Tenant '${first}' not found.`,
      });
    }
    if (req.method === 'GET' && rest === '/discovery/v2.0/keys') {
      return sendJson(res, 200, this.tenantJwks(tenant), 'application/jwk-set+json; charset=utf-8');
    }
    const login = /^\/login\/([^/]+)$/.exec(rest);
    if (login) return tenant.login(req, res, login[1]);
    // oidc-provider takes its mount path from `req.baseUrl` (as under Express) and serves its
    // discovery document at the mount path, which is the tenant here, not the issuer's /v2.0.
    req.baseUrl = `/${tenant.tid}`;
    req.url = rest === '/v2.0/.well-known/openid-configuration'
      ? `/.well-known/openid-configuration${url.search}`
      : `${rest}${url.search}`;
    return tenant.callback(req, res);
  }

  async #admin(req, res, rest, url) {
    const address = req.socket.remoteAddress ?? '';
    if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(address)) {
      return sendJson(res, 403, { error: 'admin endpoints answer loopback callers only' });
    }
    const body = req.method === 'POST' ? await readJson(req) : {};
    const route = `${req.method} ${rest}`;
    switch (route) {
      case 'POST /keys/rotate': {
        const tenant = body.tid === undefined ? undefined : this.tenants.get(body.tid);
        if (body.tid !== undefined && !tenant) return sendJson(res, 404, { error: `no tenant ${body.tid}` });
        const set = tenant?.keySet ?? this.sharedKeys;
        return sendJson(res, 200, { set: set.name, ...set.rotate() });
      }
      case 'POST /keys/bad':
        this.badKey = Boolean(body.enabled);
        return sendJson(res, 200, { enabled: this.badKey });
      case 'POST /users/overage': {
        if (!this.userByOid(body.oid)) return sendJson(res, 404, { error: `no user with oid ${body.oid}` });
        if (body.enabled) this.overage.add(body.oid);
        else this.overage.delete(body.oid);
        return sendJson(res, 200, { oid: body.oid, enabled: this.overage.has(body.oid) });
      }
      case 'POST /backchannel-logout': {
        const tenant = this.tenantOfUpn(body.upn);
        if (!tenant) return sendJson(res, 404, { error: `no user with upn ${body.upn}` });
        const deliveries = await tenant.backchannelLogout(tenant.userByUpn(body.upn), body.sid);
        return sendJson(res, 200, { deliveries });
      }
      case 'GET /sessions': {
        const upn = url.searchParams.get('upn')?.toLowerCase();
        const sessions = [...this.tenants.values()]
          .flatMap((t) => t.sessions())
          .filter((s) => !upn || s.upn?.toLowerCase() === upn);
        return sendJson(res, 200, { sessions });
      }
      default:
        return sendJson(res, 404, { error: `no admin endpoint ${route}` });
    }
  }
}

const { values: args } = parseArgs({ options: { port: { type: 'string' }, config: { type: 'string' } } });
if (!args.port || !args.config) fail('usage: node server.js --port PORT --config FILE');
const port = Number(args.port);
let config;
try {
  config = JSON.parse(readFileSync(args.config, 'utf8'));
} catch (error) {
  fail(`cannot read ${args.config}: ${error.message}`);
}
checkConfig(config);
const peer = new Peer(config, port);

createServer((req, res) => {
  peer.handle(req, res).catch((error) => {
    console.error('entra peer: request failed', req.method, req.url, error);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: error.message });
    else res.destroy();
  });
}).listen(port, '127.0.0.1', () => {
  console.log(`ready ${peer.base}`);
});
