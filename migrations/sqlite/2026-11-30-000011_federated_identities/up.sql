-- A user's links to identities at external identity providers (Keycloak's federated
-- identities): which IdP, and who the user is there. Written when a person first signs in
-- through an IdP; shown on the account page.
CREATE TABLE federated_identities (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    -- The identity provider's alias in the realm.
    identity_provider TEXT NOT NULL,
    -- The user's subject at the IdP (OIDC `sub`, SAML NameID).
    subject TEXT NOT NULL,
    -- The user's name at the IdP, for people to read.
    username TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, identity_provider)
);
-- One person at an IdP is one user in the realm.
CREATE UNIQUE INDEX federated_identities_subject
    ON federated_identities (realm_id, identity_provider, subject);
