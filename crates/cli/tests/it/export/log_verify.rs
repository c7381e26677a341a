//! `authtrail checkpoint`, `export --log` and `verify` through the real binary, on each engine:
//! an untouched trail verifies against its signed checkpoint, and an edited, deleted, swapped or
//! truncated one fails naming the first uniqueQualifier at fault. The tampering is done straight
//! in the database, as an attacker with write access to it would.

use super::support::{PgSchema, authtrail, try_authtrail};

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

    /// Runs SQL on the store's tables, as someone with write access to the database would.
    fn tamper(&self, sql: &str) {
        match self {
            Engine::Sqlite(d) => {
                let c = rusqlite::Connection::open(d.path().join("authtrail.db")).unwrap();
                c.execute_batch(sql).unwrap();
            }
            Engine::Pg(s) => {
                s.query_text(sql);
            }
        }
    }
}

fn run(engine: &Engine, args: &[&str]) -> (String, String) {
    let mut all: Vec<&str> = args.to_vec();
    let store = engine.args();
    all.extend(store.iter().map(String::as_str));
    authtrail(&all)
}

/// Six activities of tenant `Cver`, hashed and signed; returns the tenant's verifier key.
fn signed_trail(engine: &Engine, dir: &std::path::Path) -> String {
    let lines: Vec<String> = (0..6)
        .map(|i| {
            serde_json::json!({
                "id": {"applicationName": "login", "time": format!("2026-11-0{}T10:00:00Z", i + 1)},
                "actor": {"email": format!("u{i}@example.com")},
                "ipAddress": format!("203.0.113.{i}"),
                "events": [{"name": "login_success"}]
            })
            .to_string()
        })
        .collect();
    let file = dir.join("in.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap();
    run(
        engine,
        &["ingest", file.to_str().unwrap(), "--tenant", "Cver"],
    );
    let (out, _) = run(engine, &["checkpoint"]);
    let line = out.lines().find(|l| l.starts_with("Cver ")).expect(&out);
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts[1], "6", "{out}");
    parts[2].to_string()
}

/// Exports the trail with its log and verifies it; returns (success, stderr).
fn export_and_verify(engine: &Engine, dir: &std::path::Path, key: &str) -> (bool, String) {
    let (export, log) = (dir.join("trail.ndjson"), dir.join("trail.log"));
    run(
        engine,
        &[
            "export",
            "--out",
            export.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
    );
    let out = try_authtrail(&[
        "verify",
        "--export",
        export.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--key",
        key,
    ]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// (what is done, SQLite statements, PostgreSQL statements, what verify must say).
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "edit",
        // Both engines keep the IP only in its column (PostgreSQL since schema 6); SQLite's row
        // refers to it interned (schema 10), so the row is pointed at another value.
        "INSERT INTO terms (tenant_id, kind, value) SELECT tenant_id, 3, '198.51.100.9' FROM activities WHERE seq = 3; \
         UPDATE activities SET ip_ref = last_insert_rowid() WHERE seq = 3",
        "UPDATE activities SET ip = '198.51.100.9' WHERE seq = 3",
        "the first: uniqueQualifier 3: the content does not match",
    ),
    (
        "delete",
        "DELETE FROM activities WHERE seq = 4",
        "DELETE FROM activities WHERE seq = 4",
        "the first: uniqueQualifier 4: missing (deleted)",
    ),
    (
        "swap",
        // SQLite checks its unique (tenant, seq) index row by row: swap through a free number.
        "UPDATE activities SET seq = -2 WHERE seq = 2; UPDATE activities SET seq = 2 WHERE seq = 5; \
         UPDATE activities SET seq = 5 WHERE seq = -2",
        "UPDATE activities SET seq = CASE seq WHEN 2 THEN 5 ELSE 2 END WHERE seq IN (2, 5)",
        "the first: uniqueQualifier 2: the content does not match",
    ),
    (
        "truncate",
        "DELETE FROM activities WHERE seq > 4",
        "DELETE FROM activities WHERE seq > 4",
        "the first: uniqueQualifier 5: missing, and every later one up to 6 (truncated)",
    ),
];

fn every_case(make: impl Fn() -> Option<Engine>) {
    let Some(engine) = make() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = signed_trail(&engine, tmp.path());
    let (ok, err) = export_and_verify(&engine, tmp.path(), &key);
    assert!(ok, "an untouched trail verifies: {err}");
    assert!(
        err.contains("verified: tenant Cver: uniqueQualifiers 1 to 6"),
        "{err}"
    );
    for (what, sqlite, pg, says) in CASES {
        let Some(engine) = make() else { return };
        let tmp = tempfile::tempdir().unwrap();
        let key = signed_trail(&engine, tmp.path());
        engine.tamper(match engine {
            Engine::Sqlite(_) => sqlite,
            Engine::Pg(_) => pg,
        });
        let (ok, err) = export_and_verify(&engine, tmp.path(), &key);
        assert!(!ok, "{what}: verify must fail: {err}");
        assert!(
            err.contains(says),
            "{what}: verify must say {says:?}: {err}"
        );
    }
}

#[test]
fn verify_names_each_kind_of_tampering_on_sqlite() {
    every_case(|| Some(Engine::Sqlite(tempfile::tempdir().unwrap())));
}

#[test]
fn verify_names_each_kind_of_tampering_on_postgres() {
    every_case(|| PgSchema::create().map(Engine::Pg));
}

#[test]
fn a_prefix_removed_by_retention_is_pruned_not_tampered() {
    let engine = Engine::Sqlite(tempfile::tempdir().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let key = signed_trail(&engine, tmp.path());
    // The activities are dated 2026-11-01..06: what a purge before 2026-11-03 leaves.
    engine.tamper("DELETE FROM activities WHERE time_us < 1793664000000000");
    let (ok, err) = export_and_verify(&engine, tmp.path(), &key);
    assert!(ok, "{err}");
    assert!(
        err.contains("uniqueQualifiers 1 to 2 are not in the export: pruned"),
        "{err}"
    );
    assert!(
        err.contains("verified: tenant Cver: uniqueQualifiers 3 to 6"),
        "{err}"
    );
}

#[test]
fn import_with_the_log_goes_on_past_a_purged_prefix() {
    let src = Engine::Sqlite(tempfile::tempdir().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let key = signed_trail(&src, tmp.path());
    src.tamper("DELETE FROM activities WHERE time_us < 1793664000000000");
    let (export, log) = (tmp.path().join("t.ndjson"), tmp.path().join("t.log"));
    run(
        &src,
        &[
            "export",
            "--out",
            export.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
    );
    let dst = Engine::Sqlite(tempfile::tempdir().unwrap());
    let (_, err) = run(
        &dst,
        &[
            "import",
            export.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("restored the log of tenant Cver: 6 leaves"),
        "{err}"
    );
    let (out, _) = run(&dst, &["checkpoint"]);
    let line = out.lines().find(|l| l.starts_with("Cver ")).expect(&out);
    assert_eq!(line.split(' ').nth(1), Some("6"), "{out}");
    // The source's own checkpoint verifies the moved trail.
    let (export2, log2) = (tmp.path().join("t2.ndjson"), tmp.path().join("t2.log"));
    run(
        &dst,
        &[
            "export",
            "--out",
            export2.to_str().unwrap(),
            "--log",
            log2.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let cp = tmp.path().join("source.cp");
    std::fs::write(&cp, first["checkpoint"].as_str().unwrap()).unwrap();
    let (_, err) = authtrail(&[
        "verify",
        "--export",
        export2.to_str().unwrap(),
        "--log",
        log2.to_str().unwrap(),
        "--checkpoint",
        cp.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert!(
        err.contains("verified: tenant Cver: uniqueQualifiers 3 to 6"),
        "{err}"
    );
}

#[test]
fn a_wrong_key_or_a_forged_checkpoint_is_refused() {
    let engine = Engine::Sqlite(tempfile::tempdir().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let key = signed_trail(&engine, tmp.path());
    let (export, log) = (tmp.path().join("t.ndjson"), tmp.path().join("t.log"));
    run(
        &engine,
        &[
            "export",
            "--out",
            export.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
    );
    // Another data directory's key: the same name, another key ID.
    let other = Engine::Sqlite(tempfile::tempdir().unwrap());
    let other_key = signed_trail(&other, tmp.path());
    assert_ne!(key, other_key);
    let out = try_authtrail(&[
        "verify",
        "--export",
        export.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--key",
        &other_key,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no signature by the verifier key"), "{err}");
    // A checkpoint whose size was edited no longer verifies.
    let text = std::fs::read_to_string(&log).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let forged = first["checkpoint"]
        .as_str()
        .unwrap()
        .replacen("\n6\n", "\n5\n", 1);
    let cp = tmp.path().join("forged.cp");
    std::fs::write(&cp, forged).unwrap();
    let out = try_authtrail(&[
        "verify",
        "--export",
        export.to_str().unwrap(),
        "--checkpoint",
        cp.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not verify"), "{err}");
}

/// Erasure through the binary on each engine: the person is gone from the export, `verify`
/// accepts the erased row as erased by its record, and an edit of another row is still named.
fn erasure_keeps_the_log_verifiable(make: impl Fn() -> Option<Engine>) {
    let Some(engine) = make() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = signed_trail(&engine, tmp.path());
    let (subject, err) = run(
        &engine,
        &[
            "erase",
            "--tenant",
            "Cver",
            "--actor-email",
            "U2@example.com",
        ],
    );
    assert_eq!(subject.trim().len(), 64, "{subject} {err}");
    assert!(
        err.contains("erased the personal fields of 1 activities"),
        "{err}"
    );
    assert!(err.contains("uniqueQualifier 7"), "{err}");
    let (ok, err) = export_and_verify(&engine, tmp.path(), &key);
    assert!(ok, "{err}");
    assert!(err.contains("uniqueQualifier 3: erased by 7"), "{err}");
    assert!(
        err.contains("verified: tenant Cver: uniqueQualifiers 1 to 7"),
        "{err}"
    );
    // The erased trail moves with its log: the erased row stands on its record there too.
    let dst = Engine::Sqlite(tempfile::tempdir().unwrap());
    let (export, log) = (
        tmp.path().join("trail.ndjson"),
        tmp.path().join("trail.log"),
    );
    let (_, err) = run(
        &dst,
        &[
            "import",
            export.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("restored the log of tenant Cver: 7 leaves"),
        "{err}"
    );
    let export = std::fs::read_to_string(tmp.path().join("trail.ndjson")).unwrap();
    assert!(!export.contains("u2@example.com"), "{export}");
    assert!(!export.contains("203.0.113.2"), "{export}");
    assert!(export.contains("u3@example.com"));

    // On both engines the address has its own column (PostgreSQL's compact rows keep it only
    // there), so that is where a tamperer edits it.
    engine.tamper(match engine {
        Engine::Sqlite(_) => {
            "INSERT INTO terms (tenant_id, kind, value) SELECT tenant_id, 3, '198.51.100.9' FROM activities WHERE seq = 5; \
             UPDATE activities SET ip_ref = last_insert_rowid() WHERE seq = 5"
        }
        Engine::Pg(_) => "UPDATE activities SET ip = '198.51.100.9' WHERE seq = 5",
    });
    let (ok, err) = export_and_verify(&engine, tmp.path(), &key);
    assert!(!ok, "{err}");
    assert!(
        err.contains("the first: uniqueQualifier 5: the content does not match"),
        "{err}"
    );
    assert!(err.contains("uniqueQualifier 3: erased by 7"), "{err}");

    // An erasure refused under legal hold changes nothing and is recorded.
    run(
        &engine,
        &[
            "legal-hold",
            "set",
            "--tenant",
            "Cver",
            "--reason",
            "case 5",
        ],
    );
    let mut args = vec![
        "erase",
        "--tenant",
        "Cver",
        "--actor-email",
        "u4@example.com",
    ];
    let store = engine.args();
    args.extend(store.iter().map(String::as_str));
    let out = try_authtrail(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("legal hold (case 5)"), "{err}");
}

#[test]
fn erasure_keeps_the_log_verifiable_on_sqlite() {
    erasure_keeps_the_log_verifiable(|| Some(Engine::Sqlite(tempfile::tempdir().unwrap())));
}

#[test]
fn erasure_keeps_the_log_verifiable_on_postgres() {
    erasure_keeps_the_log_verifiable(|| PgSchema::create().map(Engine::Pg));
}
