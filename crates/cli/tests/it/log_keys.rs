//! `authtrail log rotate-key` and sealed secrets through the real binary, on each engine: a
//! verifier that knows only the old key keeps verifying exports through the overlap (with the
//! existing `verify`), the new key verifies from the start of it, and after `--finish` only the
//! new one does. Secrets are sealed at rest; clear ones an older version left are sealed in place
//! and keep their value; a node with another key, or none, refuses to start.

use super::support::{BIN, PgSchema, authtrail, try_authtrail};

enum Engine {
    Sqlite(tempfile::TempDir),
    Pg(PgSchema),
}

impl Engine {
    fn args(&self) -> Vec<String> {
        match self {
            Engine::Sqlite(d) => vec!["--data".into(), d.path().display().to_string()],
            Engine::Pg(s) => vec!["--store".into(), s.url.clone()],
        }
    }

    fn run(&self, args: &[&str]) -> (String, String) {
        let mut all: Vec<&str> = args.to_vec();
        let store = self.args();
        all.extend(store.iter().map(String::as_str));
        authtrail(&all)
    }
}

fn ingest(engine: &Engine, dir: &std::path::Path, from: usize, n: usize) {
    let lines: Vec<String> = (from..from + n)
        .map(|i| {
            serde_json::json!({
                "id": {"applicationName": "login", "time": "2026-11-01T10:00:00Z"},
                "actor": {"email": format!("u{i}@example.com")},
                "events": [{"name": "login_success"}]
            })
            .to_string()
        })
        .collect();
    let file = dir.join(format!("in-{from}.ndjson"));
    std::fs::write(&file, lines.join("\n")).unwrap();
    engine.run(&["ingest", file.to_str().unwrap(), "--tenant", "Crot"]);
    engine.run(&["checkpoint"]);
}

/// Exports the trail with its log; says whether `verify --key key` accepts it.
fn verifies(engine: &Engine, dir: &std::path::Path, key: &str) -> bool {
    let (export, log) = (dir.join("trail.ndjson"), dir.join("trail.log"));
    engine.run(&[
        "export",
        "--tenant",
        "Crot",
        "--out",
        export.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
    ]);
    let e = export.to_str().unwrap();
    let l = log.to_str().unwrap();
    try_authtrail(&["verify", "--export", e, "--log", l, "--key", key])
        .status
        .success()
}

fn rotation(engine: Engine) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ingest(&engine, dir, 0, 3);
    let (keys, _) = engine.run(&["log", "keys", "--tenant", "Crot"]);
    let old = keys.strip_prefix("active ").unwrap().trim().to_string();
    assert!(verifies(&engine, dir, &old));

    let (new, _) = engine.run(&["log", "rotate-key", "--tenant", "Crot"]);
    let new = new.trim().to_string();
    assert_ne!(new, old);
    assert_eq!(
        new.split('+').next(),
        old.split('+').next(),
        "the key name stays the origin"
    );
    let (keys, _) = engine.run(&["log", "keys", "--tenant", "Crot"]);
    assert_eq!(keys, format!("active {old}\nnext {new}\n"));
    // Through the overlap, old and new keys verify, before and after new activities.
    assert!(verifies(&engine, dir, &old), "old key, overlap");
    assert!(verifies(&engine, dir, &new), "new key, overlap");
    ingest(&engine, dir, 3, 2);
    assert!(
        verifies(&engine, dir, &old),
        "old key, overlap, more activities"
    );
    assert!(
        verifies(&engine, dir, &new),
        "new key, overlap, more activities"
    );
    // A key file holding both keys (GET /v1/log/key during the overlap) reads as the active one.
    let both = dir.join("both.vkey");
    std::fs::write(&both, format!("{old}\n{new}\n")).unwrap();
    assert!(verifies(&engine, dir, both.to_str().unwrap()));
    let mut args: Vec<String> = ["log", "rotate-key", "--tenant", "Crot"]
        .map(String::from)
        .to_vec();
    args.extend(engine.args());
    let again = try_authtrail(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!again.status.success(), "one rotation at a time");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already under way"));

    let (active, _) = engine.run(&["log", "rotate-key", "--finish", "--tenant", "Crot"]);
    assert_eq!(active.trim(), new);
    ingest(&engine, dir, 5, 1);
    assert!(
        !verifies(&engine, dir, &old),
        "the retired key signs no more"
    );
    assert!(verifies(&engine, dir, &new));
    let (keys, _) = engine.run(&["log", "keys", "--tenant", "Crot"]);
    assert_eq!(keys, format!("active {new}\nretired {old}\n"));
    // Each step is in the tenant's trail.
    let (out, _) = engine.run(&["query", "--tenant", "Crot", "--application", "admin"]);
    assert!(out.contains("log_key.rotation_start"), "{out}");
    assert!(out.contains("log_key.rotation_finish"), "{out}");
}

#[test]
fn a_rotation_keeps_old_key_verifiers_verifying_until_it_finishes_sqlite() {
    rotation(Engine::Sqlite(tempfile::tempdir().unwrap()));
}

#[test]
fn a_rotation_keeps_old_key_verifiers_verifying_until_it_finishes_postgres() {
    if let Some(s) = PgSchema::create() {
        rotation(Engine::Pg(s));
    }
}

/// Secrets are sealed at rest; clear secrets of an older version are sealed in place at the
/// next start and keep their value (the log's verifier key does not change); another sealing
/// key is refused, naming the setting.
#[test]
fn secrets_are_sealed_at_rest_and_clear_ones_are_sealed_in_place() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    authtrail(&["token", "create", "--data", d, "--scopes", "read"]);
    let db = data.path().join("authtrail.db");
    let secrets = || -> Vec<(String, Vec<u8>)> {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut s = c.prepare("SELECT name, value FROM secrets").unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(!secrets().is_empty());
    for (name, value) in secrets() {
        assert!(value.starts_with(b"sealed.v1."), "{name} is sealed");
    }
    // What an older version left: the cursor and log keys in clear.
    let seed = [7u8; 32];
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute("DELETE FROM secrets", []).unwrap();
        c.execute(
            "INSERT INTO secrets (name, value) VALUES ('cursor-signing', ?1), ('log-signing-key', ?2)",
            rusqlite::params![&[9u8; 32][..], &seed[..]],
        )
        .unwrap();
    }
    let (keys, _) = authtrail(&["log", "keys", "--data", d, "--tenant", "Cx"]);
    let want = authtrail_integrity::NoteSigner::new("authtrail.invalid/Cx", &seed)
        .unwrap()
        .verifier()
        .vkey();
    assert_eq!(
        keys.trim(),
        format!("active {want}"),
        "the clear key is kept"
    );
    for (name, value) in secrets() {
        assert!(
            value.starts_with(b"sealed.v1."),
            "{name} was sealed in place"
        );
    }
    // Another key file: refused, naming the setting.
    let other = data.path().join("other.key");
    std::fs::write(&other, format!("{}\n", "ab".repeat(32))).unwrap();
    let out = try_authtrail(&[
        "log",
        "keys",
        "--data",
        d,
        "--sealing-key-file",
        other.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sealing_key_file"), "{err}");
}

/// A PostgreSQL node without a sealing key file refuses to start, and says what to set.
#[test]
fn a_postgres_node_without_a_sealing_key_refuses_to_start() {
    let Some(schema) = PgSchema::create() else {
        return;
    };
    let out = std::process::Command::new(BIN)
        .args(["serve", "--store", &schema.url, "--listen", "127.0.0.1:0"])
        .env("NO_COLOR", "1")
        .env_remove("AUTHTRAIL_SEALING_KEY_FILE")
        .env_remove("AUTHTRAIL_STORE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sealing_key_file"), "{err}");
}
