-- Vestibule's own keys at a SAML IdP, per connection: the private key assertions are encrypted
-- to and AuthnRequests are signed with, and its self-signed certificate, which the SP
-- metadata publishes. Every key not retired is published (two during a rotation); the newest
-- signs.
CREATE TABLE saml_sp_keys (
    id TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    identity_provider TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    certificate_der BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX saml_sp_keys_connection ON saml_sp_keys (realm_id, identity_provider);
