//! SQLite's group commit. SQLite has one writer at a time and each commit costs an fsync, so
//! instead of letting request threads race for the file lock (a loser sleeps in SQLite's busy
//! handler for up to 100 ms), one thread takes every queued write, runs each in a savepoint of
//! one transaction, commits once, and only then answers each caller. A write that fails rolls
//! back to its savepoint and changes nothing; a failed commit fails the whole group.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};

use super::{DbConnection, DbError};

/// The most writes one commit carries.
const MAX_GROUP: usize = 256;

type Manager = <DbConnection as Connection>::TransactionManager;

/// Tells a caller its outcome, given the group's commit failure if any.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// One queued write, type-erased so different callers share one queue.
trait Job: Send {
    /// Runs the write in a savepoint; returns what to tell the caller once the group's commit
    /// outcome is known (`None` = committed).
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Answer;
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
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Answer {
        let Typed { f, reply } = *self;
        let outcome = match Manager::begin_transaction(conn) {
            Err(e) => Err(E::from(DbError::from(e))),
            Ok(()) => match catch_unwind(AssertUnwindSafe(|| f(conn))) {
                Ok(Ok(value)) => match Manager::commit_transaction(conn) {
                    Ok(()) => Ok(value),
                    Err(e) => Err(E::from(DbError::from(e))),
                },
                Ok(Err(err)) => {
                    let _ = Manager::rollback_transaction(conn);
                    Err(err)
                }
                Err(_) => {
                    let _ = Manager::rollback_transaction(conn);
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

/// The handle requests submit writes through. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread on its own connection.
    pub fn start(conn: DbConnection) -> Result<Writer, DbError> {
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, jobs))
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

fn run(mut conn: DbConnection, jobs: mpsc::Receiver<Box<dyn Job>>) {
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
        let answers: Vec<_> = group.into_iter().map(|job| job.run(&mut conn)).collect();
        let committed = Manager::commit_transaction(&mut conn);
        let reason = committed.as_ref().err().map(|e| e.to_string());
        if reason.is_some() {
            let _ = Manager::rollback_transaction(&mut conn);
        }
        for answer in answers {
            answer(reason.as_deref());
        }
    }
}
