-- Client scopes declared by the operator: named sets of protocol mappers that clients list in
-- their default and optional scopes. Built-in scopes (profile, email, roles, organization, ...)
-- have no row unless declared; a row of the same name adds to, or for organization replaces,
-- their mappers.
CREATE TABLE client_scopes (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    -- The protocol mappers as a JSON array, in the shape of a client's settings.mappers.
    mappers TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (realm_id, name)
);
