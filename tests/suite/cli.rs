//! Which commands write, through the real binary. The read-only ones (`audit list`, `keys list`,
//! `client list`, `role list`, `directory token list`, `check-config`) never migrate, never
//! apply declarations and need no secret: against a fresh database they answer with the
//! not-migrated error and leave it without a single table; against a migrated one they answer
//! with the config's secrets unset and leave every row as it was. The admin commands that write
//! apply no declarations either; `serve`, `migrate` and `apply` resolve the secrets first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::common::daemon::BIN;
use crate::common::{Backend, TestDb};

const CONFIG: &str = r#"
[[realm]]
name = "cli"

[[organization]]
realm = "cli"
alias = "acme"
name = "Acme"

[[directory]]
realm = "cli"
organization = "acme"
name = "entra"
token = { env = "CLI_SCIM_TOKEN" }

[[client]]
realm = "cli"
client_id = "web"
secret = { env = "CLI_WEB_SECRET" }
redirect_uris = ["http://127.0.0.1:9/callback"]

[[role]]
realm = "cli"
name = "declared-role"

[[user]]
realm = "cli"
username = "alice"
password = { env = "CLI_ALICE_PASSWORD" }
organizations = ["acme"]
"#;

/// The environment variables CONFIG's secrets are read from.
const SECRET_VARS: [&str; 3] = ["CLI_SCIM_TOKEN", "CLI_WEB_SECRET", "CLI_ALICE_PASSWORD"];

const SECRETS: [(&str, &str); 3] = [
    ("CLI_SCIM_TOKEN", "cli-scim-token-value"),
    ("CLI_WEB_SECRET", "cli-web-secret-value"),
    ("CLI_ALICE_PASSWORD", "cli-alice-password-value"),
];

const READ_ONLY: [&[&str]; 6] = [
    &["audit", "list"],
    &[
        "audit",
        "list",
        "--realm",
        "cli",
        "--directory",
        "entra",
        "--json",
    ],
    &["keys", "list", "--realm", "cli"],
    &["client", "list", "--realm", "cli"],
    &["role", "list", "--realm", "cli"],
    &[
        "directory",
        "token",
        "list",
        "--realm",
        "cli",
        "--directory",
        "entra",
    ],
];

const ADMIN_WRITES: [&[&str]; 4] = [
    &[
        "directory",
        "token",
        "create",
        "--realm",
        "cli",
        "--directory",
        "entra",
    ],
    &["keys", "rotate", "--realm", "cli", "--algorithm", "ES256"],
    &["client", "create", "--realm", "cli", "--client-id", "ops"],
    &["role", "create", "--realm", "cli", "ops-role"],
];

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("vestibule.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `vestibule --config <config> <args>` on `db_url` with `env` set and CONFIG's secret
/// variables unset unless `env` sets them: (succeeded, stdout, stderr).
pub fn vestibule(
    config: &Path,
    db_url: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (bool, String, String) {
    let mut command = Command::new(BIN);
    command.arg("--config").arg(config).args(args);
    for var in SECRET_VARS {
        command.env_remove(var);
    }
    let out = command
        .envs(env.iter().copied())
        .env("VESTIBULE_DATABASE__URL", db_url)
        .output()
        .expect("run vestibule");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    text: String,
}

fn texts<C: Connection>(conn: &mut C, sql: &str) -> Vec<String>
where
    diesel::query_builder::SqlQuery: for<'a> diesel::query_dsl::LoadQuery<'a, C, Text>,
{
    diesel::sql_query(sql)
        .load::<Text>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|t| t.text)
        .collect()
}

fn sqlite_path(db: &TestDb) -> Option<&str> {
    db.url.strip_prefix("sqlite://")
}

/// Every table of the database with all of its rows, as text: what must not change. Opening a
/// SQLite file that is not there would create it, so a missing file is reported as `None`.
fn snapshot(db: &TestDb) -> Option<BTreeMap<String, String>> {
    if let Some(path) = sqlite_path(db) {
        if !Path::new(path).exists() {
            return None;
        }
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        let tables = texts(
            &mut conn,
            "SELECT name AS text FROM sqlite_master WHERE type = 'table' ORDER BY name",
        );
        let all = tables.into_iter().map(|table| {
            let columns = texts(
                &mut conn,
                &format!("SELECT name AS text FROM pragma_table_info('{table}')"),
            );
            let row = columns
                .iter()
                .map(|c| format!("quote(\"{c}\")"))
                .collect::<Vec<_>>()
                .join(" || ',' || ");
            let rows = texts(
                &mut conn,
                &format!(
                    "SELECT COALESCE(group_concat(r, char(10)), '') AS text \
                     FROM (SELECT {row} AS r FROM \"{table}\" ORDER BY 1)"
                ),
            );
            (table, rows.concat())
        });
        Some(all.collect())
    } else {
        let mut conn = diesel::PgConnection::establish(&db.url).unwrap();
        let tables = texts(
            &mut conn,
            "SELECT table_name::text AS text FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1",
        );
        let all = tables.into_iter().map(|table| {
            let rows = texts(
                &mut conn,
                &format!(
                    "SELECT COALESCE(string_agg(t::text, E'\\n' ORDER BY t::text), '') AS text \
                     FROM \"{table}\" t"
                ),
            );
            (table, rows.concat())
        });
        Some(all.collect())
    }
}

/// The database has no table at all (on SQLite: no file, or a file without tables).
fn assert_untouched(db: &TestDb, after: &[&str]) {
    let tables = snapshot(db).unwrap_or_default();
    assert!(
        tables.is_empty(),
        "`{}` created tables: {:?}",
        after.join(" "),
        tables.keys().collect::<Vec<_>>()
    );
}

/// Each admin command on a database without a schema: refused with the not-migrated error,
/// nothing created.
fn refused_on_a_fresh_database(config: &Path, db: &TestDb) {
    for args in READ_ONLY.iter().chain(&ADMIN_WRITES) {
        let (ok, out, err) = vestibule(config, &db.url, &[], args);
        assert!(!ok, "{args:?} succeeded on a fresh database: {out}");
        assert!(
            err.contains("not migrated") && err.contains("vestibule migrate"),
            "{args:?}: {err}"
        );
        assert_untouched(db, args);
    }
}

fn read_only_commands_write_nothing(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);

    refused_on_a_fresh_database(&config, &db);
    if let Some(path) = sqlite_path(&db) {
        assert!(!Path::new(path).exists(), "no SQLite file is left behind");
        // An empty file (as `touch` leaves it) gets no tables either.
        std::fs::File::create(path).unwrap();
        refused_on_a_fresh_database(&config, &db);
    }

    // check-config reads no database and needs no secret; it names each one.
    let (ok, out, err) = vestibule(&config, &db.url, &[], &["check-config"]);
    assert!(ok, "{err}");
    for var in SECRET_VARS {
        assert!(
            out.lines()
                .any(|l| l.starts_with("note: ") && l.contains(var) && l.contains("not set")),
            "{var}: {out}"
        );
    }
    let (ok, out, err) = vestibule(&config, &db.url, &SECRETS[..1], &["check-config"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("secret directory \"entra\" token (env CLI_SCIM_TOKEN): resolvable"),
        "{out}"
    );
    assert!(
        !out.contains(SECRETS[0].1) && !err.contains(SECRETS[0].1),
        "a secret value is never printed"
    );
    assert_untouched(&db, &["check-config"]);

    // The writing commands resolve the secrets first, fail naming the missing one, and so
    // touch nothing either.
    for args in [&["apply"][..], &["migrate"], &["serve"]] {
        let (ok, _, err) = vestibule(&config, &db.url, &SECRETS[..1], args);
        assert!(!ok, "{args:?} ran without its secrets");
        assert!(err.contains("CLI_WEB_SECRET"), "{args:?}: {err}");
        assert_untouched(&db, args);
    }

    // `apply` migrates and applies the declarations, then exits.
    let (ok, out, err) = vestibule(&config, &db.url, &SECRETS, &["apply"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("applied ") && !out.starts_with("applied 0 "),
        "{out}"
    );
    assert!(
        out.contains("organizations 1 created") && out.contains("directories 1 created"),
        "{out}"
    );

    // A migrated database: every read-only command answers without the secrets, and no row
    // changes.
    let before = snapshot(&db).expect("the database exists");
    assert!(before.contains_key("__diesel_schema_migrations"));
    let expect = [
        "",
        "",
        "RS256",
        "web",
        "declared-role",
        "directory entra (organization acme",
    ];
    for (args, expected) in READ_ONLY.iter().zip(expect) {
        let (ok, out, err) = vestibule(&config, &db.url, &[], args);
        assert!(ok, "{args:?}: {err}");
        assert!(out.contains(expected), "{args:?}: {out}");
        assert_eq!(
            snapshot(&db).as_ref(),
            Some(&before),
            "{args:?} changed the database"
        );
    }

    // The admin commands that write do what they are told, without the secrets, and apply no
    // declaration: a role declared since `apply` stays absent.
    let later = format!("{CONFIG}\n[[role]]\nrealm = \"cli\"\nname = \"declared-later\"\n");
    let config = write_config(dir.path(), &later);
    for args in ADMIN_WRITES {
        let (ok, _, err) = vestibule(&config, &db.url, &[], args);
        assert!(ok, "{args:?}: {err}");
    }
    let (ok, roles, err) = vestibule(&config, &db.url, &[], &["role", "list", "--realm", "cli"]);
    assert!(ok, "{err}");
    assert!(roles.contains("ops-role"), "{roles}");
    assert!(!roles.contains("declared-later"), "{roles}");
}

#[test]
fn read_only_commands_write_nothing_sqlite() {
    read_only_commands_write_nothing(Backend::Sqlite);
}

#[test]
fn read_only_commands_write_nothing_postgres() {
    read_only_commands_write_nothing(Backend::Postgres);
}
