-- What the declarations looked like when they were last applied, as argon2id hashes, so a start
-- with unchanged declarations need not check every declared secret against its stored hash
-- (one argon2 run instead of one per secret).
CREATE TABLE declaration_fingerprints (
    -- What the fingerprint covers, e.g. `issuer-secrets`.
    name TEXT PRIMARY KEY NOT NULL,
    -- argon2id PHC string of the declared secrets with the hashes stored for them.
    fingerprint TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
