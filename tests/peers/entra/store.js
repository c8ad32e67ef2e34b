// One tenant's oidc-provider storage: an adapter (oidc-provider's documented adapter interface)
// over a Map of its own. oidc-provider's bundled memory adapter keeps every Provider of a process
// in one module-level store, so a code issued by tenant A could be redeemed at tenant B's token
// endpoint and come back signed as B; a store per tenant keeps them apart, as Entra's tenants are.
// It also answers what the admin endpoints and the tenant-independent endpoints ask: which
// sessions exist, and which tenant issued a code, a refresh token or an access token.

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/** Which tenant issued each code and token, across all tenants: `id -> tid`. */
export const issuedBy = new Map();
const ROUTED = new Set(['AuthorizationCode', 'RefreshToken', 'AccessToken']);

export class TenantStore {
  constructor(tid) {
    this.tid = tid;
    this.entries = new Map(); // `${model}:${id}` -> { payload, expiresAt }
    this.grants = new Map(); // grantId -> Set of entry keys
    this.sessionUids = new Map(); // session uid -> session id
  }

  get(key) {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  /** The stored sessions: `[id, payload]` pairs. */
  sessions() {
    return [...this.entries.keys()]
      .filter((key) => key.startsWith('Session:'))
      .map((key) => [key.slice('Session:'.length), this.get(key)])
      .filter(([, payload]) => payload);
  }

  /** Deletes a session: its cookie then finds nothing, and the next authorization asks to sign in. */
  endSession(id) {
    const payload = this.get(`Session:${id}`);
    this.entries.delete(`Session:${id}`);
    if (payload) this.sessionUids.delete(payload.uid);
  }

  /** Deletes every code and token of a grant, and the grant. */
  revokeGrant(grantId) {
    for (const key of this.grants.get(grantId) ?? []) this.entries.delete(key);
    this.grants.delete(grantId);
    this.entries.delete(`Grant:${grantId}`);
  }

  /** The `adapter` configuration of this tenant's Provider. */
  adapter() {
    const store = this;
    return class Adapter {
      constructor(model) {
        this.model = model;
      }

      key(id) {
        return `${this.model}:${id}`;
      }

      async upsert(id, payload, expiresIn) {
        const key = this.key(id);
        const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
        store.entries.set(key, { payload, expiresAt });
        if (this.model === 'Session') store.sessionUids.set(payload.uid, id);
        if (GRANTABLE.has(this.model) && payload.grantId) {
          if (!store.grants.has(payload.grantId)) store.grants.set(payload.grantId, new Set());
          store.grants.get(payload.grantId).add(key);
        }
        if (ROUTED.has(this.model)) issuedBy.set(id, store.tid);
      }

      async find(id) {
        return store.get(this.key(id));
      }

      async findByUid(uid) {
        const id = store.sessionUids.get(uid);
        return id === undefined ? undefined : this.find(id);
      }

      async findByUserCode() {
        return undefined; // no device flow
      }

      async consume(id) {
        const payload = store.get(this.key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      }

      async destroy(id) {
        if (this.model === 'Session') store.endSession(id);
        else store.entries.delete(this.key(id));
      }

      async revokeByGrantId(grantId) {
        store.revokeGrant(grantId);
      }
    };
  }
}
