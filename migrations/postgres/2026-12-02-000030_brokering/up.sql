-- An authorization request Vestibule sent to an upstream IdP, for its callback to find again:
-- the login transaction it serves, the browser it belongs to, and the nonce and PKCE verifier
-- the answer is checked against. Single use: the callback deletes it.
CREATE TABLE broker_requests (
    -- SHA-256 of the `state` sent upstream.
    state_hash TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    auth_request_id TEXT NOT NULL REFERENCES auth_requests(id) ON DELETE CASCADE,
    identity_provider TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The upstream side of an SSO session that a brokered login opened: who the person is at the
-- IdP and the IdP's session id, for back-channel logout, and the ID token for upstream logout.
CREATE TABLE broker_sessions (
    session_id TEXT PRIMARY KEY NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    identity_provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    upstream_sid TEXT,
    id_token TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX broker_sessions_subject ON broker_sessions (realm_id, identity_provider, subject);
CREATE INDEX broker_sessions_sid ON broker_sessions (realm_id, identity_provider, upstream_sid);

-- Roles and groups an identity provider's mappers granted, each with the mapper that granted
-- it, so that a later login takes back exactly its own grants (sync mode force) and never a
-- manual one or another mapper's. They add to `user_roles` and `group_members`, never replace.
CREATE TABLE mapper_grants (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    identity_provider TEXT NOT NULL,
    mapper TEXT NOT NULL,
    -- role | group
    kind TEXT NOT NULL,
    -- roles.id or groups.id
    target_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, identity_provider, mapper, kind, target_id)
);
CREATE INDEX mapper_grants_user ON mapper_grants (user_id, kind);
