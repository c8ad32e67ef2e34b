-- Timestamps are microseconds since the Unix epoch (BIGINT): portable, exact, index-friendly.
-- Booleans are BOOLEAN (0/1 in SQLite), ids are UUIDs as text. "" stands for "none" in columns that take part in
-- unique keys, because NULLs never collide in a unique index on either backend.

CREATE TABLE realms (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL,
    redirect_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (realm_id, alias)
);

CREATE TABLE organization_domains (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    realm_id TEXT NOT NULL,
    name TEXT NOT NULL,
    verified BOOLEAN NOT NULL,
    PRIMARY KEY (organization_id, name),
    UNIQUE (realm_id, name)
);

CREATE TABLE organization_attributes (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (organization_id, name, value)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    -- The organization whose directory owns this user; "" for realm-level users.
    organization_id TEXT NOT NULL,
    directory_id TEXT,
    username TEXT NOT NULL,
    username_lower TEXT NOT NULL,
    email TEXT,
    email_verified BOOLEAN NOT NULL,
    first_name TEXT,
    last_name TEXT,
    display_name TEXT,
    display_name_lower TEXT,
    external_id TEXT,
    enabled BOOLEAN NOT NULL,
    -- The SCIM representation exactly as the directory wrote it (without id, meta, groups).
    scim_json TEXT,
    -- Set when a directory deleted the user under the "disable" policy: the row stays, the SCIM
    -- resource is gone.
    deprovisioned_at BIGINT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Lookups are always within one organization, so the organization leads every index.
CREATE UNIQUE INDEX users_unique_username ON users (organization_id, username_lower, realm_id)
    WHERE deprovisioned_at IS NULL;
CREATE INDEX users_org_created ON users (organization_id, created_at, id);
CREATE INDEX users_org_external_id ON users (organization_id, external_id);
CREATE INDEX users_org_display_name ON users (organization_id, display_name_lower);
CREATE INDEX users_org_updated ON users (organization_id, updated_at);
CREATE INDEX users_org_enabled ON users (organization_id, enabled);

-- Every email value a user carries, lower-cased, for `emails.value eq` lookups.
CREATE TABLE user_emails (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    value_lower TEXT NOT NULL,
    PRIMARY KEY (user_id, value_lower)
);
CREATE INDEX user_emails_org_value ON user_emails (organization_id, value_lower);

CREATE TABLE user_attributes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, name, value)
);

CREATE TABLE groups (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    -- The owning organization ("" for realm groups) and the directory that pushed it.
    organization_id TEXT NOT NULL,
    directory_id TEXT,
    parent_id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    path TEXT NOT NULL,
    external_id TEXT,
    scim_json TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (realm_id, organization_id, parent_id, name_lower)
);
CREATE INDEX groups_org_created ON groups (organization_id, created_at, id);
CREATE INDEX groups_org_name ON groups (organization_id, name_lower);
CREATE INDEX groups_org_external_id ON groups (organization_id, external_id);
CREATE INDEX groups_org_updated ON groups (organization_id, updated_at);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The member's `display` as the directory sent it; NULL shows the user's own name.
    display TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- scim | idp | domain | admin | invitation
    source TEXT NOT NULL,
    -- The directory id or IdP alias behind the source.
    source_ref TEXT,
    managed BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE directories (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    deprovisioning TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (realm_id, name)
);

CREATE TABLE directory_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    directory_id TEXT NOT NULL REFERENCES directories(id) ON DELETE CASCADE,
    -- SHA-256 (hex) of a 256-bit random token: the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    -- config | cli
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX directory_tokens_directory ON directory_tokens (directory_id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    realm_id TEXT NOT NULL,
    -- directory | admin | system
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    operation TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    -- success | failure
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL,
    detail TEXT
);
CREATE INDEX audit_events_realm_at ON audit_events (realm_id, at);
CREATE INDEX audit_events_actor_at ON audit_events (actor_id, at);
