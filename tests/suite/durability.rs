//! kill -9 with writes in flight: 64 SCIM clients POST /Users back to back against the real
//! binary, the process is SIGKILLed while their requests are open, and a new daemon on the same
//! database has every user it answered 201 for, with the userName and emails it was created
//! with. A write that was open at the kill may or may not have happened; one that was answered
//! must have. On PostgreSQL the server's `fsync` must be on, or the test says so and fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::daemon::off_the_runtime;
use crate::common::{entra_user, Backend, TestDb};
use crate::daemon::{scim_base, start_daemon, write_config};

const TOKEN: &str = "durability-token";
/// SCIM clients writing at once, each with one request open at a time.
const WRITERS: usize = 64;
/// The kill comes once this many creates have been answered 201.
const ANSWERED_BEFORE_KILL: usize = 640;

/// A user the daemon answered 201 for, as the client sent it.
struct Created {
    id: String,
    user_name: String,
    emails: Value,
}

/// What a writer tells the test after each request.
enum Outcome {
    Created(Created),
    /// Any answer other than 201 while the daemon lived: a failure of its own.
    Refused(u16, String),
    /// The request got no answer (the daemon is gone): the writer stops.
    Unanswered(String),
}

fn user(user_name: &str) -> Value {
    let mut body = entra_user(user_name);
    body["emails"] = json!([
        {"primary": true, "type": "work", "value": user_name},
        {"type": "home", "value": format!("home-{user_name}")},
    ]);
    body
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Writer `writer`'s loop: creates until a request goes unanswered, counting open requests in
/// `open`.
fn write_until_killed(
    writer: usize,
    url: String,
    open: Arc<AtomicUsize>,
    tx: mpsc::Sender<Outcome>,
) {
    let http = http();
    for n in 0.. {
        let user_name = format!("w{writer}-{n}@acme.test");
        let body = user(&user_name);
        open.fetch_add(1, Ordering::SeqCst);
        let answer = http
            .post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .and_then(|r| Ok((r.status().as_u16(), r.text()?)));
        open.fetch_sub(1, Ordering::SeqCst);
        let outcome = match answer {
            Ok((201, text)) => {
                let created: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match (created["id"].as_str(), created["userName"].as_str()) {
                    (Some(id), Some(name)) if name == user_name => Outcome::Created(Created {
                        id: id.to_string(),
                        user_name,
                        emails: body["emails"].clone(),
                    }),
                    _ => Outcome::Refused(201, text),
                }
            }
            Ok((status, text)) => Outcome::Refused(status, text),
            Err(error) => Outcome::Unanswered(error.to_string()),
        };
        let last = matches!(outcome, Outcome::Unanswered(_));
        if tx.send(outcome).is_err() || last {
            return;
        }
    }
}

/// The server's `SHOW fsync`: a PostgreSQL without it could lose what it called committed.
fn assert_postgres_fsync_is_on(url: &str) {
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Fsync {
        #[diesel(sql_type = diesel::sql_types::Text)]
        fsync: String,
    }
    let mut conn = diesel::PgConnection::establish(url).expect("connect to PostgreSQL");
    let setting: Fsync = diesel::sql_query("SHOW fsync")
        .get_result(&mut conn)
        .expect("SHOW fsync");
    assert_eq!(
        setting.fsync, "on",
        "PostgreSQL at {url} runs with fsync = {}: durability cannot be tested against it. \
         Set `fsync = on` in postgresql.conf and restart it.",
        setting.fsync
    );
}

fn kill_9_with_writes_in_flight(backend: Backend) {
    let db = TestDb::new(backend);
    if backend == Backend::Postgres {
        assert_postgres_fsync_is_on(&db.url);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let daemon = start_daemon(&config, &db.url, TOKEN, &[]);
    let url = format!("{}/Users", scim_base(&daemon));

    let open = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (url, open, tx) = (url.clone(), open.clone(), tx.clone());
            std::thread::spawn(move || write_until_killed(writer, url, open, tx))
        })
        .collect();
    drop(tx);

    let (mut created, mut refused, mut unanswered) = (Vec::new(), Vec::new(), Vec::new());
    let mut outcomes = rx.iter();
    while created.len() < ANSWERED_BEFORE_KILL {
        match outcomes
            .next()
            .expect("the writers stopped before the kill")
        {
            Outcome::Created(user) => created.push(user),
            Outcome::Refused(status, body) => refused.push(format!("{status} {body}")),
            Outcome::Unanswered(error) => {
                panic!(
                    "a create went unanswered before the kill: {error}\n{}",
                    daemon.log()
                )
            }
        }
    }
    let open_at_kill = open.load(Ordering::SeqCst);
    daemon.kill9();
    // Every writer's last request goes unanswered, and then it stops.
    for outcome in outcomes {
        match outcome {
            Outcome::Created(user) => created.push(user),
            Outcome::Refused(status, body) => refused.push(format!("{status} {body}")),
            Outcome::Unanswered(error) => unanswered.push(error),
        }
    }
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(
        refused.is_empty(),
        "creates answered other than 201: {refused:#?}"
    );
    assert!(open_at_kill > 0, "the kill came while no request was open");
    assert_eq!(unanswered.len(), WRITERS, "{unanswered:#?}");

    let daemon = start_daemon(&config, &db.url, TOKEN, &[]);
    let url = format!("{}/Users", scim_base(&daemon));
    let http = http();
    for user in &created {
        let reply = http
            .get(format!("{url}/{}", user.id))
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        let status = reply.status().as_u16();
        let body: Value = reply.json().unwrap_or(Value::Null);
        assert_eq!(
            status, 200,
            "{} was answered 201 before kill -9 and is gone: {body}",
            user.user_name
        );
        assert_eq!(body["userName"], user.user_name.as_str(), "{body}");
        assert_eq!(body["emails"], user.emails, "{body}");
    }
    // Besides the answered creates, at most the ones open at the kill (one per writer) exist.
    let list: Value = http
        .get(format!("{url}?count=0"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let total = list["totalResults"].as_u64().unwrap() as usize;
    println!(
        "{} creates answered 201, {open_at_kill} open at the kill; {total} users after it",
        created.len()
    );
    assert!(
        (created.len()..=created.len() + WRITERS).contains(&total),
        "{total} users after {} answered creates and {WRITERS} open ones",
        created.len()
    );
}

both_backends!(writes_answered_201_survive_kill_9_mid_flight, |backend| {
    off_the_runtime(move || kill_9_with_writes_in_flight(backend))
});

/// SQLite's WAL is copied into the database file by the checkpointer thread while writes go
/// on, not left to grow until the writer stalls on its own checkpoint: a few hundred small
/// writes, far below the writer's own checkpoint threshold, reach the main file.
#[test]
fn the_checkpointer_copies_committed_writes_into_the_database_file() {
    let db = TestDb::new(Backend::Sqlite);
    let path = db.url.strip_prefix("sqlite://").unwrap().to_string();
    let store = vestibule::db::Db::connect(&db.url, 2).expect("the database");
    store.migrate().expect("migrations");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A moment for the checkpoint after the migrations, then the file's size without the rows.
    std::thread::sleep(Duration::from_millis(500));
    let before = std::fs::metadata(&path).unwrap().len();
    let detail = "x".repeat(2_000);
    runtime.block_on(async {
        for _ in 0..300 {
            let detail = detail.clone();
            store
                .write(move |conn| {
                    use vestibule::db::models::audit::{insert, AuditEvent};
                    insert(
                        conn,
                        &AuditEvent {
                            id: uuid::Uuid::new_v4().to_string(),
                            at: 0,
                            realm_id: "checkpoints".into(),
                            actor_type: "test".into(),
                            actor_id: None,
                            actor_name: None,
                            operation: "write".into(),
                            resource_type: "Test".into(),
                            resource_id: None,
                            outcome: "success".into(),
                            status: 200,
                            detail: Some(detail),
                        },
                    )
                })
                .await
                .expect("a committed write");
        }
    });
    let mut grown = std::fs::metadata(&path).unwrap().len();
    for _ in 0..100 {
        if grown > before + 300 * 2_000 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        grown = std::fs::metadata(&path).unwrap().len();
    }
    assert!(
        grown > before + 300 * 2_000,
        "the database file is {grown} bytes after 300 writes of 2 KB, {before} before: the \
         writes are still only in the WAL"
    );
}
