-- The IDs of SAML assertions a connection accepted, kept until their NotOnOrAfter (plus the
-- clock skew) so that a response replayed to any instance, or after a restart, is refused.
CREATE TABLE saml_assertions (
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    identity_provider TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (realm_id, identity_provider, assertion_id)
);
CREATE INDEX saml_assertions_expiry ON saml_assertions (expires_at);
