-- The LogoutRequests Vestibule sent to a SAML IdP (SP-initiated single logout), by the hash of
-- their ID: the IdP's LogoutResponse names one in InResponseTo, which is taken once, and the
-- browser goes on to where the person's logout was to end (the client's post-logout URI).
CREATE TABLE saml_logout_requests (
    request_hash TEXT PRIMARY KEY NOT NULL,
    realm_id TEXT NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    identity_provider TEXT NOT NULL,
    return_to TEXT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX saml_logout_requests_expiry ON saml_logout_requests (expires_at);
