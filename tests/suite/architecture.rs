//! The floors of the code (STYLE.md, "which floor may import which"), kept by reading every
//! `crate::` path in `src/`: a module names only modules on floors below its own (or, for the
//! features, beside it), HTTP names no database model (only the pool type), and no feature
//! reaches the application state, HTTP, pages or the CLI.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Floors from the top; a module may import only floors with a higher number, and the front
/// ends (HTTP renders pages) and the features (admin manages the issuer's clients) may also
/// import their neighbours.
fn floor(module: &str) -> Option<u8> {
    Some(match module {
        "main" | "lib" => 0,
        "http" | "web" | "cli" | "jobs" => 1,
        "state" => 2,
        "provisioning" | "issuer" | "federation" | "admin" | "declarations" | "directories" => 3,
        "users" | "membership" | "audit" => 4,
        "db" | "config" => 5,
        "clock" | "ids" | "secrets" => 6,
        _ => return None,
    })
}

const FRONT_ENDS: u8 = 1;
const FEATURES: u8 = 3;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a line of code names with `crate::`, and the rest of each path.
fn named(line: &str) -> Vec<(String, String)> {
    let code = line.split("//").next().unwrap_or_default();
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(after.len());
        let path = &after[..end];
        let module = path.split("::").next().unwrap_or_default();
        found.push((module.to_string(), path.to_string()));
        rest = &after[end..];
    }
    found
}

/// Every rule a file's `crate::` paths break.
fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut broken = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(root.join("src")).expect("under src");
        let own = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs").to_string())
            .expect("a module");
        if own.starts_with("bench") {
            continue;
        }
        let own_floor = floor(&own).unwrap_or_else(|| {
            panic!(
                "src/{} is on no floor: add it to tests/suite/architecture.rs",
                relative.display()
            )
        });
        let text = std::fs::read_to_string(&file).expect("read");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if own_floor > FRONT_ENDS && code.contains("actix") {
                broken.insert(format!(
                    "src/{}:{}: only the front ends may use actix",
                    relative.display(),
                    number + 1
                ));
            }
            for (module, path) in named(line) {
                if module == own {
                    continue;
                }
                let where_ = format!("src/{}:{}", relative.display(), number + 1);
                let Some(theirs) = floor(&module) else {
                    broken.insert(format!("{where_}: crate::{module} is on no floor"));
                    continue;
                };
                let sideways = own_floor == theirs && [FRONT_ENDS, FEATURES].contains(&own_floor);
                if theirs <= own_floor && !sideways {
                    broken.insert(format!("{where_}: {own} may not import crate::{path}"));
                }
                if own == "http" && module == "db" && path != "db::Db" {
                    broken.insert(format!(
                        "{where_}: HTTP names crate::{path}; only the pool type crate::db::Db"
                    ));
                }
            }
        }
    }
    broken.into_iter().collect()
}

#[test]
fn every_module_imports_only_floors_below_its_own() {
    let broken = violations(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_scan_catches_forbidden_imports() {
    // The rules themselves, on lines as they would appear in a module.
    assert_eq!(
        named("use crate::db::models::user::{self, User}; // crate::http"),
        vec![("db".to_string(), "db::models::user::".to_string())]
    );
    assert!(floor("issuer") > floor("state"));
    assert!(floor("db") > floor("issuer"));
    let dir = std::env::temp_dir().join(format!("vestibule-arch-{}", std::process::id()));
    for (file, line) in [
        ("src/issuer/bad.rs", "use crate::state::AppState;"),
        ("src/http/bad.rs", "use crate::db::models::user::User;"),
        (
            "src/db/bad.rs",
            "let x = crate::issuer::tokens::opaque(\"\");",
        ),
        (
            "src/http/good.rs",
            "use crate::db::Db; use crate::issuer::api;",
        ),
        ("src/provisioning/web.rs", "use actix_web::HttpRequest;"),
    ] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, line).unwrap();
    }
    let broken = violations(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(broken.len(), 4, "{broken:#?}");
    assert!(broken[0].starts_with("src/db/bad.rs:1: db may not import crate::issuer"));
    assert!(broken[1].starts_with("src/http/bad.rs:1: HTTP names crate::db::models"));
    assert!(broken[2].starts_with("src/issuer/bad.rs:1: issuer may not import crate::state"));
    assert!(broken[3].starts_with("src/provisioning/web.rs:1: only the front ends may use actix"));
}

/// The user-row writes of `db::models::user` (and the federated-identity link), which only the
/// one writer of users, `src/users.rs`, may call.
const USER_WRITES: [&str; 8] = [
    "insert",
    "update",
    "delete",
    "deprovision",
    "set_emails",
    "insert_emails",
    "set_attributes",
    "set_email_verified",
];

/// The names a file gives `db::models::user` (and `federated`) in its `use` lines.
fn user_model_aliases(text: &str) -> Vec<String> {
    let mut aliases = vec!["crate::db::models::user".to_string()];
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with("use crate::db::models"))
    {
        for (module, default) in [("user", "user"), ("federated", "federated")] {
            if let Some(rest) = line.split(&format!("models::{module}::{{self as ")).nth(1) {
                aliases.push(
                    rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            } else if let Some(rest) = line.split(&format!("models::{module} as ")).nth(1) {
                aliases.push(
                    rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            } else if line.contains(&format!("models::{module}::{{self"))
                || line.contains(&format!("models::{module};"))
                || (line.contains("models::{")
                    && line.split(['{', ',', '}', ' ']).any(|w| w == module))
            {
                aliases.push(default.to_string());
            }
        }
    }
    aliases
}

/// Calls of user-row writes outside the writer of users.
fn user_writes_outside_the_writer(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(root.join("src")).expect("under src");
        if relative.starts_with("db") || relative == Path::new("users.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        let aliases = user_model_aliases(&text);
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for alias in &aliases {
                let federated_link = alias == "federated" && code.contains("federated::insert(");
                let user_write = alias != "federated"
                    && USER_WRITES
                        .iter()
                        .any(|w| code.contains(&format!("{alias}::{w}(")));
                if federated_link || user_write {
                    found.push(format!(
                        "src/{}:{}: {}",
                        relative.display(),
                        number + 1,
                        code.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn only_the_writer_of_users_writes_user_rows() {
    let found = user_writes_outside_the_writer(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        found.is_empty(),
        "write users through crate::users:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_user_write_scan_sees_through_aliases() {
    let dir = std::env::temp_dir().join(format!("vestibule-writers-{}", std::process::id()));
    for (file, text) in [
        ("src/a.rs", "use crate::db::models::user::{self as user_rows, User};\nuser_rows::update(conn, &id, &c)?;"),
        ("src/b.rs", "use crate::db::models::{membership, user};\nuser::set_emails(conn, a, b, c)?;"),
        ("src/c.rs", "use crate::db::models::federated;\nfederated::insert(conn, &link)?;"),
        ("src/d.rs", "use crate::db::models::user as rows;\nlet u = rows::find(conn, id)?; // rows::insert( in a comment"),
        ("src/users.rs", "use crate::db::models::user as rows;\nrows::insert(conn, &u)?;"),
    ] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let mut found = user_writes_outside_the_writer(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    found.sort();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("src/a.rs:2"));
    assert!(found[1].starts_with("src/b.rs:2"));
    assert!(found[2].starts_with("src/c.rs:2"));
}

/// Text files a merge may have left markers in: everything the repository holds but what the
/// build and the peers' installs put there.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if !matches!(name, "target" | "node_modules" | ".git") {
                text_files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// The lines of a text that open or close a merge conflict.
fn conflict_markers(text: &str) -> Vec<usize> {
    let open = "<".repeat(7) + " ";
    let close = ">".repeat(7) + " ";
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with(&open) || line.starts_with(&close))
        .map(|(n, _)| n + 1)
        .collect()
}

#[test]
fn no_file_holds_a_merge_conflict() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    text_files(root, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("README.md")),
        "the walk reads the README"
    );
    let found: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            let lines = conflict_markers(&text);
            (!lines.is_empty()).then(|| format!("{}: lines {lines:?}", f.display()))
        })
        .collect();
    assert!(
        found.is_empty(),
        "merge conflict markers left in: {found:#?}"
    );
}

#[test]
fn the_conflict_scan_sees_both_markers() {
    let text = format!(
        "a\n{} HEAD\nours\n=======\ntheirs\n{} oidc\n",
        "<".repeat(7),
        ">".repeat(7)
    );
    assert_eq!(conflict_markers(&text), vec![2, 6]);
    assert!(conflict_markers("a <<<<<<< b\n").is_empty());
}
