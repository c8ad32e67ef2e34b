// Signing keys as Entra publishes them: RS256 key sets that roll over (a new kid signs from now
// on, the old ones stay published), JWKS documents whose keys carry Entra's non-standard `issuer`
// member, and an optional unparseable extra key.
//
// oidc-provider reads its `jwks` once, when a Provider is built, and offers no way to add a key
// later. It does accept `ExternalSigningKey`s (features.externalSigningSupport), whose kid and
// signature are ours to compute, so each Provider gets a fixed row of `SigningSlot`s over a
// mutable `KeySet`: slot 0 is always the current key (oidc-provider signs with the first key that
// fits), slots 1.. are the most recent retired keys, so an `id_token_hint` signed before a
// rotation still verifies. What is published is not oidc-provider's JWKS at all: the peer answers
// the jwks_uri itself from `jwksDocument` (see server.js).

import * as crypto from 'node:crypto';

import { ExternalSigningKey } from 'oidc-provider';

/** How many keys one Provider can verify its own tokens with: the current one and 7 retired. */
const SLOTS = 8;

function newKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { n, e } = publicKey.export({ format: 'jwk' });
  // Entra's kids are 27 base64url characters (a SHA-1 certificate thumbprint).
  return { kid: crypto.randomBytes(20).toString('base64url'), privateKey, publicKey, n, e };
}

/** The keys of one signing identity: the shared one, or a tenant with keys of its own. */
export class KeySet {
  constructor(name) {
    this.name = name;
    this.keys = [newKey()];
  }

  get current() {
    return this.keys[this.keys.length - 1];
  }

  /** The `index`-th most recent retired key, if there is one. */
  retired(index) {
    return this.keys[this.keys.length - 2 - index];
  }

  /** A new key signs from now on; every earlier one stays published. */
  rotate() {
    const previous = this.current.kid;
    this.keys.push(newKey());
    return { kid: this.current.kid, previous, published: this.keys.map((k) => k.kid) };
  }

  /** The public JWKs, each with Entra's `issuer` member set to `issuer`. */
  published(issuer) {
    return this.keys.map(({ kid, n, e }) => ({ kty: 'RSA', use: 'sig', kid, n, e, issuer }));
  }
}

/** One entry of a Provider's keystore, standing for whichever key of `set` is at `index`. */
class SigningSlot extends ExternalSigningKey {
  #set;

  #index;

  constructor(set, index) {
    super();
    this.#set = set;
    this.#index = index;
  }

  #key() {
    return this.#index === 0 ? this.#set.current : this.#set.retired(this.#index - 1);
  }

  get kid() {
    return this.#key()?.kid ?? `${this.#set.name}-unused-slot-${this.#index}`;
  }

  get alg() {
    return 'RS256';
  }

  get kty() {
    return 'RSA';
  }

  get n() {
    return (this.#key() ?? this.#set.current).n;
  }

  get e() {
    return (this.#key() ?? this.#set.current).e;
  }

  keyObject() {
    return (this.#key() ?? this.#set.current).publicKey;
  }

  async sign(data) {
    // RS256: RSASSA-PKCS1-v1_5 with SHA-256, node's default padding for RSA keys.
    return crypto.sign('sha256', data, this.#key().privateKey);
  }
}

/** The `jwks` configuration of a Provider that signs with `set`. */
export function providerJwks(set) {
  return { keys: Array.from({ length: SLOTS }, (_, i) => new SigningSlot(set, i)) };
}

/** The extra key published while the bad-key switch is on: a key type nobody can parse. */
export function unparseableKey(issuer) {
  return { kty: 'XYZ', use: 'sig', kid: 'unparseable-key', issuer, x: 'not-a-key' };
}
