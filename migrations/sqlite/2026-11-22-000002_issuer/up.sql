-- Vestibule's own OpenID Provider: keys, clients, roles, credentials, sessions, codes, tokens.

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    -- RS256 | ES256 | EdDSA
    algorithm TEXT NOT NULL,
    -- PKCS#8 PEM. Never logged; readable by whoever reads the database.
    private_pem TEXT NOT NULL,
    -- The public JWK as served by the certs endpoint.
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Set when a newer key of the same algorithm took over; the key stays in the JWKS until
    -- every token it signed has expired (retired_at + the longest token lifetime).
    retired_at BIGINT,
    expires_at BIGINT
);
CREATE INDEX signing_keys_realm ON signing_keys (realm_id, algorithm, created_at);

CREATE TABLE clients (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    confidential BOOLEAN NOT NULL,
    -- argon2id PHC string; NULL for public clients.
    secret_hash TEXT,
    -- Redirect URIs, grant types, scopes, lifetimes...: the client's settings as JSON.
    settings TEXT NOT NULL,
    -- The user that client_credentials tokens are issued for.
    service_account_user_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (realm_id, client_id)
);

CREATE TABLE roles (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    -- "" for a realm role, else the client_id the role belongs to.
    client_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    UNIQUE (realm_id, client_id, name)
);

CREATE TABLE role_composites (
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    child_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, child_id)
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE group_roles (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
);

-- Roles for the members of directory-pushed groups, matched by the group's displayName or
-- externalId: no manual step after provisioning.
CREATE TABLE group_role_rules (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- displayName (matched case-insensitively, stored lower-cased) | externalId
    match_kind TEXT NOT NULL,
    match_value TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    UNIQUE (organization_id, match_kind, match_value, role_id)
);

-- The roles a client may put in tokens when full-scope-allowed is off.
CREATE TABLE client_scope_roles (
    client_pk TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (client_pk, role_id)
);

CREATE TABLE user_credentials (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The organization chosen or resolved at login.
    organization_id TEXT,
    -- SHA-256 of the cookie value.
    cookie_hash TEXT NOT NULL UNIQUE,
    auth_time BIGINT NOT NULL,
    -- Session notes as JSON: org_id, identity_provider, identity_provider_identity.
    notes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- An authorization request between /auth and the login form's POST.
CREATE TABLE auth_requests (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_pk TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    -- The validated request parameters as JSON.
    params TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    organization_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_pk TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The validated request (redirect_uri, scope, nonce, PKCE challenge...) as JSON.
    params TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    -- Every token rotated from one grant shares a family; reuse revokes the family.
    family_id TEXT NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    client_pk TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT,
    -- The code the family was issued for (to revoke on code reuse), if any.
    code_hash TEXT,
    scope TEXT NOT NULL,
    organization_id TEXT,
    offline BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_code ON refresh_tokens (code_hash);

-- Access tokens revoked before they expire (RFC 7009); pruned once expired.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Brute-force protection: failures per user and per client address.
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
