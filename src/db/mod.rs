//! The database: one `DbConnection` over SQLite or PostgreSQL, its pool, embedded migrations, and
//! the two ways feature modules reach it (`Db::run` for reads, `write_transaction` for writes).
//! This is the only module that knows which backend it talks to.

pub mod models;
pub mod schema;
mod writer;

use std::path::Path;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend the URL named.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// The backend type diesel derives for [`DbConnection`]; boxed queries are built for it.
pub type DbBackend = <DbConnection as Connection>::Backend;

/// Runs a statement on the backend's own connection inside `DbConnection`: `on_backend!(conn,
/// |c| query.execute(c))`. Through `DbConnection` diesel renders every statement's SQL again to
/// tell whether its prepared statement may be reused and to find it; the backend's own
/// connection finds it by type. For the statements every SCIM request runs (the profile of a
/// SCIM create put a tenth of the writer's time in that rendering). The query must not be boxed
/// for `DbBackend`.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Loads `query` narrowed to rows whose `column` is one of `ids` (a slice): one id, the common
/// case, as `=` on the backend's own connection, prepared once (see `on_backend`); more as
/// `IN (...)`, which diesel never caches and prepares anew on every call. `query` is written out
/// in each arm, so an `as_select` in it is typed by the backend it runs on.
macro_rules! load_by_ids {
    ($query:expr, $column:expr, $ids:expr, $conn:expr) => {
        match $ids {
            [id] => $crate::db::on_backend!($conn, |c| $query.filter($column.eq(id)).load(c)),
            ids => $query.filter($column.eq_any(ids.to_vec())).load($conn),
        }
    };
}
pub(crate) use load_by_ids;

/// Storage failures. Constraint violations are kept apart so callers can answer 409.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
    #[error("database unavailable: {0}")]
    Pool(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("invalid database url: {0}")]
    Url(String),
    #[error("the transaction could not commit: {0}")]
    Commit(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::UniqueViolation(info.message().to_string())
            }
            other => DbError::Query(other),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the database is, parsed from `database.url`.
#[derive(Debug, Clone)]
pub enum DbUrl {
    Sqlite(String),
    Postgres(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(without_gss_negotiation(url)))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(DbUrl::Sqlite(path.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            Ok(DbUrl::Sqlite(path.to_string()))
        } else if !url.contains("://") && !url.is_empty() {
            Ok(DbUrl::Sqlite(url.to_string()))
        } else {
            Err(DbError::Url(
                "expected sqlite://path, a file path, or postgres://...".into(),
            ))
        }
    }

    fn backend(&self) -> Backend {
        match self {
            DbUrl::Sqlite(_) => Backend::Sqlite,
            DbUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// A SQLite file that does not exist yet, which connecting would create (empty). A server
    /// database, `:memory:` or a `file:` URI is never known missing before connecting.
    pub fn is_missing_file(&self) -> bool {
        match self {
            DbUrl::Sqlite(path) => {
                path != ":memory:" && !path.starts_with("file:") && !Path::new(path).exists()
            }
            DbUrl::Postgres(_) => false,
        }
    }
}

/// libpq negotiates GSSAPI encryption by default, which loads Kerberos; a process exiting while
/// a pool thread is inside Kerberos then crashes (`k5_mutex_lock` assertion, seen in the CLI).
/// Nobody here uses Kerberos, so the negotiation is off unless the URL asks for it.
fn without_gss_negotiation(url: &str) -> String {
    let mut params = Vec::new();
    if !url.contains("gssencmode=") {
        params.push("gssencmode=disable");
    }
    // On loopback, TLS (libpq's default `prefer`) protects nothing and costs every query a
    // record layer; a URL that names sslmode keeps it.
    if !url.contains("sslmode=") && is_loopback(url) {
        params.push("sslmode=disable");
    }
    if params.is_empty() {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", params.join("&"))
}

fn is_loopback(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]" || h == "::1")
}

/// Opens connections by URL scheme, keeping the real connect error (r2d2's stock manager for a
/// MultiConnection hides it), and sets SQLite's per-connection pragmas.
pub struct Manager {
    url: DbUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match &self.url {
            DbUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // busy_timeout must come before journal_mode: the other order makes every new
                // connection wait on the WAL switch. FULL makes a commit survive power loss too.
                // An 8 MiB page cache per connection (the writer and each reader has its own);
                // the OS page cache holds the rest. 64 MiB each held 172 MB of RSS at 100,000
                // users for no rate the SCIM bench could tell apart (62 MB at 8 MiB). (mmap was
                // tried: remapping as the file grew cost more than it saved.)
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -8192; \
                     PRAGMA temp_store = MEMORY;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DbUrl::Postgres(url) => Ok(DbConnection::Postgres(PgConnection::establish(url)?)),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), diesel::ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// The pool plus what we know about the backend. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// SQLite's writes go through one writer thread (see `writer.rs`); None on PostgreSQL.
    sqlite_writer: Option<writer::Writer>,
}

impl Db {
    /// Connects and checks one connection out, so a wrong URL fails here with its real cause.
    pub fn connect(url: &str, pool_size: u32) -> Result<Db, DbError> {
        let url = DbUrl::parse(url)?;
        let backend = url.backend();
        let manager = Manager { url };
        // Fail fast on the first connection, with the backend's own message. On SQLite that
        // connection becomes the writer's.
        let probe =
            r2d2::ManageConnection::connect(&manager).map_err(|e| DbError::Pool(e.to_string()))?;
        let sqlite_writer = match backend {
            Backend::Sqlite => {
                let checkpoints = r2d2::ManageConnection::connect(&manager)
                    .map_err(|e| DbError::Pool(e.to_string()))?;
                Some(writer::Writer::start(probe, checkpoints)?)
            }
            Backend::Postgres => None,
        };
        // No idle minimum: r2d2 would keep opening connections on its own threads, and a
        // process exiting while one is inside libpq crashes in libpq's and OpenSSL's exit
        // handlers (seen as segfaults of short CLI runs). Connections open on demand instead.
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| DbError::Pool(e.to_string()))?;
        Ok(Db {
            pool,
            backend,
            sqlite_writer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for synchronous callers (CLI, start-up, tests).
    pub fn get(&self) -> Result<PooledConnection, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Runs blocking diesel work on the blocking thread pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| E::from(DbError::Pool(e.to_string())))?;
            f(&mut conn)
        })
        .await
        .unwrap_or_else(|join| Err(E::from(DbError::Pool(format!("worker failed: {join}")))))
    }

    /// Runs `f` in a write transaction and answers once it is committed. On SQLite, writes queue
    /// for the one writer thread, which commits them in groups; on PostgreSQL each runs in its
    /// own transaction on the blocking pool.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        match &self.sqlite_writer {
            Some(writer) => writer.submit(f).await,
            None => {
                let pool = self.pool.clone();
                tokio::task::spawn_blocking(move || {
                    let mut conn = pool
                        .get()
                        .map_err(|e| E::from(DbError::Pool(e.to_string())))?;
                    write_transaction(&mut conn, f)
                })
                .await
                .unwrap_or_else(|join| {
                    Err(E::from(DbError::Pool(format!("worker failed: {join}"))))
                })
            }
        }
    }

    /// Applies pending migrations; returns the names applied.
    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        let mut conn = self.get()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    }

    /// Ready means reachable and fully migrated.
    pub fn is_ready(&self) -> Result<(), DbError> {
        if !self.pending_migrations()?.is_empty() {
            return Err(DbError::Migration("migrations pending".into()));
        }
        Ok(())
    }

    /// The embedded migrations not yet applied, found without writing anything: diesel's own
    /// `has_pending_migration` first creates its bookkeeping table, and a read-only command (or
    /// a readiness probe) must leave an unmigrated database exactly as it found it.
    pub fn pending_migrations(&self) -> Result<Vec<String>, DbError> {
        const TABLE: &str = "__diesel_schema_migrations";
        let mut conn = self.get()?;
        let (known, exists) = match &*conn {
            DbConnection::Sqlite(_) => (
                migration_versions::<diesel::sqlite::Sqlite>(&SQLITE_MIGRATIONS)?,
                format!("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{TABLE}'"),
            ),
            DbConnection::Postgres(_) => (
                migration_versions::<diesel::pg::Pg>(&POSTGRES_MIGRATIONS)?,
                format!(
                    "SELECT table_name::text AS name FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '{TABLE}'"
                ),
            ),
        };
        let applied = if names(&mut conn, &exists)?.is_empty() {
            Vec::new()
        } else {
            names(&mut conn, &format!("SELECT version AS name FROM {TABLE}"))?
        };
        Ok(known.into_iter().filter(|v| !applied.contains(v)).collect())
    }
}

/// The versions of the embedded migrations for backend `DB`, as diesel records them.
fn migration_versions<DB: diesel::backend::Backend>(
    source: &EmbeddedMigrations,
) -> Result<Vec<String>, DbError> {
    let migrations = diesel::migration::MigrationSource::<DB>::migrations(source)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

/// One text column `name` of every row `sql` returns.
fn names(conn: &mut DbConnection, sql: &str) -> Result<Vec<String>, DbError> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let rows: Vec<Name> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).load(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(sql).load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Runs `f` in a write transaction, committed when it returns `Ok`.
///
/// SQLite transactions that read then write must take the write lock up front
/// (`BEGIN IMMEDIATE`): with a deferred `BEGIN`, concurrent writers fail with "database is
/// locked" instead of waiting their turn.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<DbError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    let begun = match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
    };
    begun.map_err(|e| E::from(DbError::from(e)))?;
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
                .map_err(|e| E::from(DbError::from(e)))?;
            Ok(value)
        }
        Err(err) => {
            // The error that made us roll back is the one worth reporting.
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(err)
        }
    }
}

pub use crate::clock::Micros;

/// A new row id: a UUIDv7, so rows created together sit together in the primary-key index
/// (random v4 keys scatter every insert over the whole B-tree and multiply the pages a commit
/// writes).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
