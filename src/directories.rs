//! SCIM directories' bearer tokens: minted, hashed, checked, revoked. A token is 256 random
//! bits, so a single SHA-256 is the right hash: there is nothing to brute-force.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Deprovisioning;
use crate::db::models::directory::{self as rows, Directory, DirectoryToken};
use crate::db::models::{organization, realm};
use crate::db::{DbConnection, DbError, Micros};

pub const TOKEN_PREFIX: &str = "vst_";

/// The directory a request authenticated as, with what scopes it.
#[derive(Debug, Clone)]
pub struct AuthenticatedDirectory {
    pub directory: Directory,
    pub deprovisioning: Deprovisioning,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("realm {0:?} does not exist")]
    UnknownRealm(String),
    #[error("directory {0:?} does not exist in this realm")]
    UnknownDirectory(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token to hand to a directory once.
pub fn mint_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// Finds the directory whose active token this is, in the realm named by the URL.
pub fn authenticate(
    conn: &mut DbConnection,
    realm_name: &str,
    presented: &str,
) -> Result<Option<AuthenticatedDirectory>, DbError> {
    let hash = hash_token(presented);
    let Some((directory, stored_hash)) = rows::find_by_token_hash(conn, realm_name, &hash)? else {
        return Ok(None);
    };
    // The lookup was by hash; compare again in constant time so that no timing of the index
    // comparison decides acceptance.
    if !bool::from(stored_hash.as_bytes().ct_eq(hash.as_bytes())) {
        return Ok(None);
    }
    Ok(Some(AuthenticatedDirectory::new(directory)))
}

/// The directory `name` of the realm named by the URL, for a credential that names its
/// directory once checked (Entra's JWT, a bound client's access token).
pub fn authenticate_by_name(
    conn: &mut DbConnection,
    realm_name: &str,
    name: &str,
) -> Result<Option<AuthenticatedDirectory>, DbError> {
    let Some(realm) = realm::find_by_name(conn, realm_name)? else {
        return Ok(None);
    };
    Ok(rows::find_by_name(conn, &realm.id, name)?.map(AuthenticatedDirectory::new))
}

impl AuthenticatedDirectory {
    fn new(directory: Directory) -> Self {
        let deprovisioning =
            Deprovisioning::parse(&directory.deprovisioning).unwrap_or(Deprovisioning::Disable);
        AuthenticatedDirectory {
            directory,
            deprovisioning,
        }
    }
}

/// Resolves `realm` and `directory` names to the directory row.
pub fn find(
    conn: &mut DbConnection,
    realm_name: &str,
    directory_name: &str,
) -> Result<Directory, DirectoryError> {
    let realm = realm::find_by_name(conn, realm_name)?
        .ok_or_else(|| DirectoryError::UnknownRealm(realm_name.to_string()))?;
    rows::find_by_name(conn, &realm.id, directory_name)?
        .ok_or_else(|| DirectoryError::UnknownDirectory(directory_name.to_string()))
}

/// Stores the hash of a token for the directory; returns the stored row.
pub fn add_token(
    conn: &mut DbConnection,
    directory_id: &str,
    token: &str,
    label: &str,
    source: &str,
    now: Micros,
) -> Result<DirectoryToken, DbError> {
    let row = DirectoryToken {
        id: crate::db::new_id(),
        directory_id: directory_id.to_string(),
        token_hash: hash_token(token),
        label: label.to_string(),
        source: source.to_string(),
        created_at: now,
        revoked_at: None,
    };
    rows::insert_token(conn, &row)?;
    Ok(row)
}

/// Makes `token` the directory's config-declared token: earlier config tokens are revoked, tokens
/// minted by the CLI stay. A config token an operator revoked stays revoked (returns false).
pub fn set_config_token(
    conn: &mut DbConnection,
    directory_id: &str,
    token: &str,
    now: Micros,
) -> Result<bool, DbError> {
    let hash = hash_token(token);
    let tokens = rows::tokens(conn, directory_id)?;
    if let Some(same) = tokens.iter().find(|t| t.token_hash == hash) {
        return Ok(same.revoked_at.is_none());
    }
    for old in tokens
        .iter()
        .filter(|t| t.source == "config" && t.revoked_at.is_none())
    {
        rows::revoke_token(conn, directory_id, &old.id, now)?;
    }
    add_token(conn, directory_id, token, "config", "config", now)?;
    Ok(true)
}

/// The organization alias a directory belongs to, for display.
pub fn organization_alias(conn: &mut DbConnection, dir: &Directory) -> Result<String, DbError> {
    Ok(organization::find(conn, &dir.organization_id)?
        .map(|o| o.alias)
        .unwrap_or_default())
}
