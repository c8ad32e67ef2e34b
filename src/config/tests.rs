//! Loading the config: files, environment overrides, secrets, and what is refused.

use super::*;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.toml");
    std::fs::write(&path, text).unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load_with_env(Some(&path), &env)
}

const QUICK: &str = r#"
[server]
listen = "127.0.0.1:8080"

[[realm]]
name = "quickstart"

[[organization]]
realm = "quickstart"
alias = "acme"
name = "Acme"
domains = ["acme.test", { name = "acme.example", verified = false }]
attributes = { tier = ["gold"] }

[[directory]]
realm = "quickstart"
organization = "acme"
name = "entra"
token = { env = "SCIM_TOKEN" }
"#;

#[test]
fn loads_declarations_and_resolves_env_secret() {
    let c = load(QUICK, &[("SCIM_TOKEN", "s3cret")]).unwrap();
    assert_eq!(c.organizations[0].domains[0].name(), "acme.test");
    assert!(c.organizations[0].domains[0].verified());
    assert!(!c.organizations[0].domains[1].verified());
    let token = c.directories[0].token.as_ref().unwrap();
    assert_eq!(token.resolved.as_ref().unwrap().expose(), "s3cret");
    assert!(!format!("{token:?}").contains("s3cret"));
    assert_eq!(c.directories[0].deprovisioning, Deprovisioning::Disable);
}

#[test]
fn env_overrides_any_section_key() {
    let c = load(
        QUICK,
        &[
            ("SCIM_TOKEN", "x"),
            ("VESTIBULE_SERVER__LISTEN", "127.0.0.1:9000"),
            ("VESTIBULE_DATABASE__URL", "postgres://localhost/v"),
            ("VESTIBULE_DATABASE__POOL_SIZE", "4"),
            ("VESTIBULE_CONFIG", "ignored.toml"),
        ],
    )
    .unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:9000");
    assert_eq!(c.database.url, "postgres://localhost/v");
    assert_eq!(c.database.pool_size, 4);
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let err = load("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("lisen"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn unknown_env_key_is_named() {
    let err = load(
        QUICK,
        &[("SCIM_TOKEN", "x"), ("VESTIBULE_SERVER__LISTN", "1")],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("VESTIBULE_SERVER__LISTN"), "{err}");
    assert!(err.contains("listn"), "{err}");
}

#[test]
fn missing_secret_and_dangling_references_are_refused() {
    let err = load(QUICK, &[]).unwrap_err().to_string();
    assert!(err.contains("SCIM_TOKEN"), "{err}");
    let err = load(
        &QUICK.replace("organization = \"acme\"", "organization = \"x\""),
        &[("SCIM_TOKEN", "x")],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("\"x\""), "{err}");
}

#[test]
fn a_domain_belongs_to_one_organization() {
    let twice = format!(
        "{QUICK}\n[[organization]]\nrealm = \"quickstart\"\nalias = \"other\"\nname = \"O\"\ndomains = [\"ACME.test\"]\n"
    );
    let err = load(&twice, &[("SCIM_TOKEN", "x")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"acme\"") && err.contains("\"other\""),
        "{err}"
    );
}

#[test]
fn secret_from_file_is_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tok"), "from-file\n").unwrap();
    let path = dir.path().join("v.toml");
    std::fs::write(
        &path,
        QUICK.replace("{ env = \"SCIM_TOKEN\" }", "{ file = \"tok\" }"),
    )
    .unwrap();
    let c = Config::load_with_env(Some(&path), &[]).unwrap();
    let t = c.directories[0]
        .token
        .as_ref()
        .unwrap()
        .resolved
        .as_ref()
        .unwrap();
    assert_eq!(t.expose(), "from-file");
}
