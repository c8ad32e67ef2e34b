// One Entra tenant: an oidc-provider Provider whose issuer is `{base}/{tid}/v2.0`, mounted at
// `/{tid}` with Entra's endpoint paths, its users, the claims Entra puts in ID tokens, the login
// page, and back-channel logout on an admin's word.

import * as crypto from 'node:crypto';

import Provider from 'oidc-provider';

import { readForm, sendHtml } from './http.js';
import { providerJwks } from './keys.js';
import * as pages from './pages.js';
import { TenantStore } from './store.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Entra's paths below `https://login.microsoftonline.com/{tid}` (userinfo is Graph's there). */
export const ROUTES = {
  authorization: '/oauth2/v2.0/authorize',
  token: '/oauth2/v2.0/token',
  jwks: '/discovery/v2.0/keys',
  userinfo: '/oidc/userinfo',
  end_session: '/oauth2/v2.0/logout',
};

// Which scope lets each claim through oidc-provider's filter. `Tenant#claims` then decides per
// use, as Entra does: ver, upn, xms_edov, groups and roles are optional claims an Entra app
// configures into every ID token; oid, tid, name and preferred_username need `profile`.
const CLAIMS = {
  openid: ['sub', 'ver', 'upn', 'xms_edov', 'groups', 'roles'],
  profile: ['oid', 'tid', 'name', 'preferred_username', 'given_name', 'family_name'],
  email: ['email'],
};

const INCORRECT = 'Your account or password is incorrect.';

export class Tenant {
  /**
   * `settings`: one entry of the config's `tenants`; `keySet` signs its tokens; `clients` are
   * the config's clients registered here; `overage` the oids whose groups are an overage.
   */
  constructor(settings, { base, keySet, clients, overage, cookieKeys }) {
    this.tid = settings.tid;
    this.name = settings.name ?? settings.tid;
    this.base = base;
    this.issuer = `${base}/${this.tid}/v2.0`;
    this.keySet = keySet;
    this.overage = overage;
    this.users = settings.users ?? [];
    this.store = new TenantStore(this.tid);
    this.provider = new Provider(this.issuer, this.#configuration(clients, cookieKeys));
    this.provider.on('server_error', (_ctx, error) => console.error(`${this.tid} server_error`, error));
    this.provider.on('backchannel.error', (_ctx, error, client) => {
      console.error(`${this.tid} back-channel logout to ${client.clientId} failed:`, error.message);
    });
    /** The Provider as a node:http handler. */
    this.callback = this.provider.callback();
  }

  userByUpn(upn) {
    const wanted = String(upn ?? '').toLowerCase();
    return this.users.find((u) => u.upn.toLowerCase() === wanted);
  }

  userByOid(oid) {
    return this.users.find((u) => u.oid === oid);
  }

  /** Entra's `sub`: pairwise per application and tenant, 43 base64url characters. */
  pairwiseSub(clientId, oid) {
    return crypto.createHash('sha256').update(`${this.tid}\n${clientId}\n${oid}`).digest('base64url');
  }

  /** What `findAccount` answers for `use` ('id_token' or 'userinfo') and the granted `scope`. */
  claims(user, use, scope) {
    const scopes = new Set(String(scope ?? '').split(' '));
    const idToken = use === 'id_token';
    const claims = { sub: user.oid };
    if (idToken) {
      claims.ver = '2.0';
      claims.upn = user.upn;
      claims.xms_edov = Boolean(user.xms_edov);
      if (user.roles?.length) claims.roles = user.roles;
      if (this.overage.has(user.oid)) {
        // Entra's groups overage: the groups claim is left out and points at Graph instead.
        claims._claim_names = { groups: 'src1' };
        claims._claim_sources = { src1: { endpoint: `${this.base}/graph/getMemberObjects` } };
      } else if (user.groups?.length) {
        claims.groups = user.groups;
      }
    }
    if (scopes.has('profile')) {
      claims.name = user.name;
      if (idToken) {
        claims.oid = user.oid;
        claims.tid = this.tid;
        claims.preferred_username = user.preferred_username ?? user.upn;
      } else {
        claims.given_name = user.given_name;
        claims.family_name = user.family_name;
      }
    }
    if (scopes.has('email') && user.email) claims.email = user.email;
    return claims;
  }

  #configuration(clients, cookieKeys) {
    const tid = this.tid;
    return {
      adapter: this.store.adapter(),
      clients: clients.map((c) => ({
        client_id: c.client_id,
        client_secret: c.client_secret,
        redirect_uris: c.redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
        ...(c.backchannel_logout_uri
          ? { backchannel_logout_uri: c.backchannel_logout_uri, backchannel_logout_session_required: true }
          : {}),
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        // oidc-provider accepts client_secret_post as well for a client registered with basic.
        token_endpoint_auth_method: 'client_secret_basic',
        subject_type: 'pairwise',
      })),
      jwks: providerJwks(this.keySet),
      subjectTypes: ['pairwise'],
      pairwiseIdentifier: (_ctx, accountId, client) => this.pairwiseSub(client.clientId, accountId),
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      claims: CLAIMS,
      // Entra puts the claims of the granted scopes in the ID token, not only in userinfo.
      conformIdTokenClaims: false,
      findAccount: (_ctx, oid) => {
        const user = this.userByOid(oid);
        if (!user) return undefined;
        return { accountId: oid, claims: (use, scope) => this.claims(user, use, scope) };
      },
      // Consent is granted without asking: an admin consented for the whole tenant.
      loadExistingGrant: grantRequestedScopes,
      interactions: { url: (_ctx, interaction) => `/${tid}/login/${interaction.uid}` },
      // One browser may hold sessions at several tenants of the same host.
      cookies: {
        keys: cookieKeys,
        names: { session: `session-${tid}`, interaction: `interaction-${tid}`, resume: `resume-${tid}` },
      },
      pkce: { required: () => false },
      clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
      routes: ROUTES,
      ttl: {
        AccessToken: 3600, AuthorizationCode: 600, IdToken: 3600, Interaction: 3600,
        RefreshToken: 86400, Session: 86400, Grant: 86400,
      },
      clientBasedCORS: () => true,
      features: {
        devInteractions: { enabled: false },
        dPoP: { enabled: false },
        pushedAuthorizationRequests: { enabled: false },
        backchannelLogout: { enabled: true },
        externalSigningSupport: { enabled: true, ack: 'experimental-01' },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: async (ctx, form) => { ctx.type = 'html'; ctx.body = pages.logoutPage(form); },
          postLogoutSuccessSource: async (ctx) => { ctx.type = 'html'; ctx.body = pages.signedOutPage(); },
        },
      },
      renderError: async (ctx, out) => { ctx.type = 'html'; ctx.body = pages.errorPage(out); },
      // oidc-provider refuses outgoing requests to special-use addresses (SSRF protection) by
      // passing its own dispatcher; every relying party of this peer is on 127.0.0.1.
      fetch: (url, { dispatcher: _ssrfGuard, ...options }) => globalThis.fetch(url, options),
    };
  }

  /** GET renders the login form, POST checks the password and finishes the interaction. */
  async login(req, res, uid) {
    const { provider } = this;
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (error) {
      return sendHtml(res, 400, pages.errorPage({ error: 'invalid_request', error_description: error.message }));
    }
    if (details.uid !== uid) {
      return sendHtml(res, 400, pages.errorPage({ error: 'invalid_request', error_description: 'interaction mismatch' }));
    }
    if (details.prompt.name !== 'login') {
      // Only consent can be left; it is granted as the tenant's admin would have.
      const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope ?? 'openid');
      return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } });
    }
    const action = `/${this.tid}/login/${uid}`;
    if (req.method !== 'POST') {
      const username = details.params.login_hint ?? '';
      return sendHtml(res, 200, pages.loginPage({ action, tenantName: this.name, username }));
    }
    const form = await readForm(req);
    const user = this.userByUpn(form.username);
    if (!user || user.password !== form.password) {
      const page = pages.loginPage({ action, tenantName: this.name, username: form.username, error: INCORRECT });
      return sendHtml(res, 200, page);
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.oid } }, {
      mergeWithLastSubmission: false,
    });
  }

  /** This tenant's sessions, for the admin listing: who, and the sid each client was given. */
  sessions() {
    return this.store.sessions()
      .filter(([, session]) => session.accountId)
      .map(([, session]) => ({
        tid: this.tid,
        oid: session.accountId,
        upn: this.userByOid(session.accountId)?.upn,
        clients: Object.entries(session.authorizations ?? {}).map(([clientId, { sid }]) => ({
          client_id: clientId,
          sid,
          sub: this.pairwiseSub(clientId, session.accountId),
        })),
      }));
  }

  /**
   * Ends `user`'s sessions (all, or the one that gave some client `sid`) as a sign-out at Entra
   * would, revokes their grants, and POSTs a logout token (OpenID Connect Back-Channel Logout 1.0
   * §2.4) to each of their clients that has a `backchannel_logout_uri`. Answers one delivery per
   * POST: client, sid, sub, uri, and the HTTP status it got back (0 if none).
   */
  async backchannelLogout(user, sid) {
    const deliveries = [];
    for (const [id, session] of this.store.sessions()) {
      const authorizations = Object.entries(session.authorizations ?? {});
      if (session.accountId !== user.oid) continue;
      if (sid && !authorizations.some(([, a]) => a.sid === sid)) continue;
      for (const [clientId, authorization] of authorizations) {
        const client = await this.provider.Client.find(clientId);
        if (client?.backchannelLogoutUri) deliveries.push(await this.#sendLogoutToken(client, user, authorization.sid));
        if (authorization.grantId) this.store.revokeGrant(authorization.grantId);
      }
      this.store.endSession(id);
    }
    return deliveries;
  }

  async #sendLogoutToken(client, user, sid) {
    // oidc-provider's own Client#backchannelLogout builds the same token but does not say what
    // status came back; the token is built and signed the same way, by the Provider.
    const token = new this.provider.IdToken({ sub: user.oid }, { client });
    token.mask = { sub: null };
    token.set('events', { [BACKCHANNEL_LOGOUT_EVENT]: {} });
    token.set('jti', crypto.randomUUID());
    token.set('sid', sid);
    const logoutToken = await token.issue({ use: 'logout' });
    const uri = client.backchannelLogoutUri;
    const delivery = { client_id: client.clientId, sid, sub: this.pairwiseSub(client.clientId, user.oid), uri };
    try {
      const response = await fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: logoutToken }),
        redirect: 'manual',
        signal: AbortSignal.timeout(5000),
      });
      await response.arrayBuffer();
      delivery.status = response.status;
    } catch (error) {
      delivery.status = 0;
      delivery.error = String(error.cause?.message ?? error.message);
    }
    return delivery;
  }
}

/** Grants every requested OpenID scope, adding to the session's grant for the client if any. */
async function grantRequestedScopes(ctx) {
  const { oidc } = ctx;
  const { clientId } = oidc.client;
  const { accountId } = oidc.session;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== accountId) grant = new oidc.provider.Grant({ clientId, accountId });
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  await grant.save();
  return grant;
}
