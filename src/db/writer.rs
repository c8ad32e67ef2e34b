//! SQLite's group commit. SQLite has one writer at a time and each commit costs an fsync, so
//! instead of letting request threads race for the file lock (a loser sleeps in SQLite's busy
//! handler for up to 100 ms), one thread takes every queued write, runs each in a savepoint of
//! one transaction, commits once, and only then answers each caller. A write that fails rolls
//! back to its savepoint and changes nothing; a failed commit fails the whole group.
//!
//! Checkpoints (copying the WAL back into the database file, then an fsync of that file) run on
//! a thread of their own: left to SQLite's automatic checkpoint, every thousandth page stalled
//! the writer, and every write queued behind it, for a copy and an fsync that need not block a
//! commit. A passive checkpoint never takes the write lock, so commits go on beside it. The
//! writer checkpoints itself only once the WAL is long (see [`Writer::start`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, Connection, SimpleConnection, TransactionManager,
};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl, SqliteConnection};

use super::{DbConnection, DbError};

/// The most writes one commit carries.
const MAX_GROUP: usize = 256;

/// How often, at most, the checkpointer copies the WAL into the database while writes go on:
/// at the SCIM bench's rates, a few hundred pages each time, as SQLite's own default of 1,000.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The WAL's length, in pages, at which the writer checkpoints itself (40 MB of 4 KiB pages).
const WAL_LIMIT_PAGES: u32 = 10_000;

type Manager = <DbConnection as Connection>::TransactionManager;

/// Tells a caller its outcome, given the group's commit failure if any.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// One queued write, type-erased so different callers share one queue.
trait Job: Send {
    /// Runs the write in a savepoint; returns what to tell the caller once the group's commit
    /// outcome is known (`None` = committed). A failed write that could not be taken back to its
    /// savepoint clears `intact`: the group must not commit.
    fn run(self: Box<Self>, conn: &mut DbConnection, intact: &mut bool) -> Answer;
    /// The group could not even begin: tell the caller.
    fn fail(self: Box<Self>, reason: &str);
}

struct Typed<T, E, F> {
    f: F,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Job for Typed<T, E, F>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut DbConnection, intact: &mut bool) -> Answer {
        let Typed { f, reply } = *self;
        let mut undo = |conn: &mut DbConnection| *intact &= undo_job(conn);
        let outcome = match job_statement(conn, BeginJob) {
            Err(e) => Err(E::from(e)),
            Ok(()) => match catch_unwind(AssertUnwindSafe(|| f(conn))) {
                Ok(Ok(value)) => match job_statement(conn, EndJob) {
                    Ok(()) => Ok(value),
                    Err(e) => {
                        undo(conn);
                        Err(E::from(e))
                    }
                },
                Ok(Err(err)) => {
                    undo(conn);
                    Err(err)
                }
                Err(_) => {
                    undo(conn);
                    Err(E::from(DbError::Commit("the write panicked".into())))
                }
            },
        };
        Box::new(move |commit_error: Option<&str>| {
            let answer = match (outcome, commit_error) {
                (Ok(_), Some(reason)) => Err(E::from(DbError::Commit(reason.to_string()))),
                (outcome, _) => outcome,
            };
            let _ = reply.send(answer);
        })
    }

    fn fail(self: Box<Self>, reason: &str) {
        let _ = self
            .reply
            .send(Err(E::from(DbError::Commit(reason.to_string()))));
    }
}

/// `SAVEPOINT job`, around each write of a group. The writer's own statements rather than
/// diesel's nested transactions: diesel sends those as text that SQLite parses again for every
/// write, while a statement with a type of its own is prepared once and found by that type (the
/// profile of a SCIM create put 7% of the server's time in that parsing). A write that opens a
/// transaction of its own still gets diesel's savepoints, inside this one.
#[derive(QueryId)]
struct BeginJob;

/// `RELEASE job`: the write is kept, to be committed with its group.
#[derive(QueryId)]
struct EndJob;

impl QueryFragment<Sqlite> for BeginJob {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("SAVEPOINT job");
        Ok(())
    }
}

impl QueryFragment<Sqlite> for EndJob {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("RELEASE job");
        Ok(())
    }
}

impl<C> RunQueryDsl<C> for BeginJob {}
impl<C> RunQueryDsl<C> for EndJob {}

fn job_statement<Q>(conn: &mut DbConnection, statement: Q) -> Result<(), DbError>
where
    Q: QueryFragment<Sqlite> + QueryId + RunQueryDsl<SqliteConnection>,
{
    match conn {
        DbConnection::Sqlite(sqlite) => {
            statement.execute(sqlite)?;
            Ok(())
        }
        DbConnection::Postgres(_) => Err(DbError::Pool("the writer runs on SQLite only".into())),
    }
}

/// Takes a failed write back to its savepoint, then drops the savepoint: the rest of the group
/// goes on as if the write had never run. A rare path, so plain text. False when SQLite could
/// not: what the write did may still be in the transaction.
fn undo_job(conn: &mut DbConnection) -> bool {
    conn.batch_execute("ROLLBACK TO job; RELEASE job").is_ok()
}

/// The handle requests submit writes through. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread on its own connection, and the checkpointer on another.
    pub fn start(mut conn: DbConnection, checkpoints: DbConnection) -> Result<Writer, DbError> {
        // The writer still checkpoints itself once the WAL holds WAL_LIMIT_PAGES: SQLite rewinds
        // the WAL only when a write begins after a checkpoint that took everything, which a
        // checkpointer racing a steady stream of commits may never see, and the file would grow
        // without end. By then the checkpointer has copied nearly all of it, so the writer's
        // checkpoint is short.
        conn.batch_execute(&format!("PRAGMA wal_autocheckpoint = {WAL_LIMIT_PAGES}"))?;
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        // A bounded queue of one: commits that come while a checkpoint is due add nothing.
        let (checkpoint_due, commits) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint(checkpoints, commits))
            .map_err(|e| DbError::Pool(format!("cannot start the SQLite checkpointer: {e}")))?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, jobs, checkpoint_due))
            .map_err(|e| DbError::Pool(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer { queue })
    }

    pub async fn submit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self.queue.send(Box::new(Typed { f, reply })).is_err() {
            return Err(E::from(DbError::Pool(
                "the SQLite writer has stopped".into(),
            )));
        }
        answer.await.unwrap_or_else(|_| {
            Err(E::from(DbError::Pool(
                "the SQLite writer dropped a write".into(),
            )))
        })
    }
}

fn run(
    mut conn: DbConnection,
    jobs: mpsc::Receiver<Box<dyn Job>>,
    checkpoint_due: mpsc::SyncSender<()>,
) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let DbConnection::Sqlite(sqlite) = &mut conn else {
            unreachable!("the writer runs on SQLite only");
        };
        if let Err(e) = AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
            let reason = e.to_string();
            for job in group {
                job.fail(&reason);
            }
            continue;
        }
        let mut intact = true;
        let answers: Vec<_> = group
            .into_iter()
            .map(|job| job.run(&mut conn, &mut intact))
            .collect();
        let reason = if intact {
            Manager::commit_transaction(&mut conn)
                .err()
                .map(|e| e.to_string())
        } else {
            Some("a refused write could not be undone, so its group was rolled back".to_string())
        };
        if reason.is_some() {
            let _ = Manager::rollback_transaction(&mut conn);
        }
        for answer in answers {
            answer(reason.as_deref());
        }
        if reason.is_none() {
            // Full means a checkpoint is already due; the checkpointer gone means shutdown.
            let _ = checkpoint_due.try_send(());
        }
    }
}

/// Copies committed WAL frames into the database after commits, at most every
/// [`CHECKPOINT_EVERY`], until the writer stops. A checkpoint that cannot finish (a reader still
/// on an old snapshot) copies what it can; the next one takes the rest, and SQLite restarts the
/// WAL from its start once a checkpoint has taken everything.
fn checkpoint(mut conn: DbConnection, commits: mpsc::Receiver<()>) {
    while commits.recv().is_ok() {
        if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %e, "the SQLite checkpoint failed; the next commit retries it");
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
    // The writer has stopped: leave the database file whole for the next start.
    let _ = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)");
}
