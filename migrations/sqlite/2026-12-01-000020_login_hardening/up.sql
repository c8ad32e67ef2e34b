-- A login transaction belongs to one browser: the SHA-256 of the login cookie the
-- authorization endpoint set (Keycloak's AUTH_SESSION_ID). Transactions from before this
-- column have none and can no longer be completed.
ALTER TABLE auth_requests ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';

-- Local login looks people up by user name or email within the realm, case-insensitively.
CREATE INDEX users_realm_username ON users (realm_id, username_lower);
CREATE INDEX users_realm_email ON users (realm_id, lower(email));
