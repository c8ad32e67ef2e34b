DROP INDEX users_realm_email;
DROP INDEX users_realm_username;
ALTER TABLE auth_requests DROP COLUMN browser_hash;
