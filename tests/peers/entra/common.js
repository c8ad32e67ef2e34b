// The tenant-independent endpoints, `/common/...` and `/organizations/...`: a discovery document
// whose issuer is the template `{base}/{tenantid}/v2.0`, a JWKS with every key any tenant signs
// with, and endpoints that work for a user of any tenant. oidc-provider serves one issuer per
// Provider, so these are the peer's own: the authorization endpoint asks for the account name
// first (as Entra does) and sends the browser on to that tenant's Provider; token and userinfo
// requests go to the tenant that issued the code or token they carry.

import { issuedBy } from './store.js';
import { readBody, readForm, redirect, sendHtml, sendJson } from './http.js';
import * as pages from './pages.js';

const COMMON_PATHS = new Set(['common', 'organizations']);
const NOT_FOUND = 'We couldn\'t find an account with that username.';

export function isCommon(segment) {
  return COMMON_PATHS.has(segment);
}

export class Common {
  /** `peer`: the server (tenants, clients, base URL, JWKS documents). */
  constructor(peer) {
    this.peer = peer;
    this.discovery = undefined;
  }

  /** `/{kind}{rest}`, kind being `common` or `organizations`. */
  async handle(req, res, kind, rest, url) {
    if (req.method === 'GET' && rest === '/v2.0/.well-known/openid-configuration') {
      return sendJson(res, 200, await this.#discoveryDocument(kind));
    }
    if (req.method === 'GET' && rest === '/discovery/v2.0/keys') {
      return sendJson(res, 200, this.peer.commonJwks(), 'application/jwk-set+json; charset=utf-8');
    }
    if (rest === '/oauth2/v2.0/authorize') return this.#authorize(req, res, url);
    if (req.method === 'POST' && rest === '/oauth2/v2.0/token') {
      const body = await readBody(req);
      const params = new URLSearchParams(body);
      const artifact = params.get('code') ?? params.get('refresh_token');
      return this.#forward(req, res, issuedBy.get(artifact), '/oauth2/v2.0/token', body);
    }
    if (rest === '/oidc/userinfo') {
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      return this.#forward(req, res, issuedBy.get(bearer(req)), '/oidc/userinfo', body);
    }
    if (req.method === 'GET' && rest === '/oauth2/v2.0/logout') {
      const tid = tenantOfIdToken(url.searchParams.get('id_token_hint'));
      if (!this.peer.tenants.has(tid)) {
        return sendHtml(res, 400, pages.errorPage({ error: 'invalid_request', error_description: 'id_token_hint from a tenant of this peer is required here' }));
      }
      return redirect(res, `/${tid}/oauth2/v2.0/logout${url.search}`);
    }
    return sendJson(res, 404, { error: 'not_found' });
  }

  /** Entra's own document for one tenant, with the tenant made a template and paths made `kind`'s. */
  async #discoveryDocument(kind) {
    if (!this.discovery) {
      const [first] = this.peer.tenants.values();
      const answer = await fetch(`${first.issuer}/.well-known/openid-configuration`);
      this.discovery = await answer.json();
      this.discoveryTid = first.tid;
    }
    const tenantPrefix = `${this.peer.base}/${this.discoveryTid}/`;
    const document = Object.fromEntries(Object.entries(this.discovery).map(([name, value]) => [
      name,
      typeof value === 'string' && value.startsWith(tenantPrefix)
        ? `${this.peer.base}/${kind}/${value.slice(tenantPrefix.length)}`
        : value,
    ]));
    document.issuer = `${this.peer.base}/{tenantid}/v2.0`;
    return document;
  }

  /**
   * GET with a `login_hint` of a known user goes straight to the user's tenant; `prompt=none`
   * goes to the one tenant the browser has a session at, or back with `login_required`; else the
   * account-name form, whose POST goes on to the tenant of that name.
   */
  async #authorize(req, res, url) {
    const params = req.method === 'POST' ? await readForm(req) : Object.fromEntries(url.searchParams);
    const client = this.peer.clients.find((c) => c.client_id === params.client_id);
    if (!client || !client.redirect_uris.includes(params.redirect_uri)) {
      return sendHtml(res, 400, pages.errorPage({ error: 'invalid_request', error_description: 'unknown client_id or redirect_uri' }));
    }
    const { username, ...forwarded } = params;
    const onward = (tenant, hint) => {
      const query = new URLSearchParams({ ...forwarded, ...(hint ? { login_hint: hint } : {}) });
      return redirect(res, `/${tenant.tid}/oauth2/v2.0/authorize?${query}`);
    };
    if (req.method === 'POST') {
      const tenant = this.peer.tenantOfUpn(username);
      if (tenant) return onward(tenant, username);
      return sendHtml(res, 200, pages.accountPage({ action: url.pathname, fields: forwarded, username, error: NOT_FOUND }));
    }
    const hinted = this.peer.tenantOfUpn(params.login_hint);
    if (hinted) return onward(hinted);
    if (String(params.prompt ?? '').split(' ').includes('none')) {
      const signedIn = [...this.peer.tenants.values()]
        .filter((t) => String(req.headers.cookie ?? '').includes(`session-${t.tid}=`));
      if (signedIn.length === 1) return onward(signedIn[0]);
      const back = new URL(params.redirect_uri);
      back.searchParams.set('error', 'login_required');
      back.searchParams.set('error_description', 'no single signed-in account to choose without prompting');
      if (params.state !== undefined) back.searchParams.set('state', params.state);
      return redirect(res, back.href);
    }
    return sendHtml(res, 200, pages.accountPage({ action: url.pathname, fields: forwarded, username: params.login_hint ?? '' }));
  }

  /** Replays a back-channel request at the tenant that issued what it carries. */
  async #forward(req, res, tid, path, body) {
    if (!this.peer.tenants.has(tid)) {
      return sendJson(res, 400, { error: 'invalid_grant', error_description: 'no tenant of this peer issued that code or token' });
    }
    const headers = {};
    for (const name of ['authorization', 'content-type', 'accept']) {
      if (req.headers[name]) headers[name] = req.headers[name];
    }
    const answer = await fetch(`${this.peer.base}/${tid}${path}`, { method: req.method, headers, body, redirect: 'manual' });
    const text = Buffer.from(await answer.arrayBuffer());
    const out = { 'content-length': text.length };
    for (const name of ['content-type', 'cache-control', 'pragma', 'www-authenticate']) {
      if (answer.headers.has(name)) out[name] = answer.headers.get(name);
    }
    res.writeHead(answer.status, out);
    res.end(text);
  }

  /**
   * A stand-in for Graph's `getMemberObjects`, where an overage's `_claim_sources` points:
   * `POST /graph/getMemberObjects` with a Bearer access token of any tenant answers the user's
   * groups as Graph does, `{"value": [...]}`.
   */
  async memberObjects(req, res) {
    const token = bearer(req);
    const tenant = this.peer.tenants.get(issuedBy.get(token));
    const accessToken = tenant ? await tenant.provider.AccessToken.find(token) : undefined;
    const user = accessToken ? tenant.userByOid(accessToken.accountId) : undefined;
    if (!user) {
      return sendJson(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty or invalid.' } });
    }
    return sendJson(res, 200, { value: user.groups ?? [] });
  }
}

function bearer(req) {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** The tenant of an ID token, unverified: only to choose where to send the browser. */
function tenantOfIdToken(jwt) {
  try {
    const claims = JSON.parse(Buffer.from(String(jwt).split('.')[1], 'base64url').toString('utf8'));
    return claims.tid ?? new URL(claims.iss).pathname.split('/')[1];
  } catch {
    return undefined;
  }
}
