//! `authtrail export`, `import` and `verify-export` through the real binary: SQLite → PostgreSQL →
//! SQLite keeps every activity with identical content and sequence, and verification catches any
//! difference.

use crate::support;

mod log_verify;
mod pg_upgrade;
mod sqlite_upgrade;

use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};
use support::{PgSchema, authtrail, try_authtrail};

/// Fills a data directory with two tenants: generated traffic plus activities whose JSON payload
/// keys are out of order (PostgreSQL's jsonb reorders them) and whose eventIds must survive.
fn fill(dir: &str) {
    for (tenant, seed, events) in [("Cone", "1", "1500"), ("Ctwo", "2", "700")] {
        authtrail(&[
            "demo", "--data", dir, "--tenant", tenant, "--seed", seed, "--events", events,
            "--days", "40",
        ]);
    }
    let extra: Vec<String> = (0..5)
        .map(|i| {
            json!({"eventId": format!("keep-{i}"), "id": {"applicationName": "logto"},
                   "actor": {"profileId": format!("u{i}")},
                   "events": [{"name": "Interaction.Create", "parameters": [
                       {"name": "payload", "jsonValue": {"zeta": i, "alpha": {"y": [1, {"b": 2, "a": 1}], "x": "é"}}}
                   ]}]})
            .to_string()
        })
        .collect();
    let file = Path::new(dir).join("extra.ndjson");
    std::fs::write(&file, extra.join("\n")).unwrap();
    authtrail(&[
        "ingest",
        file.to_str().unwrap(),
        "--data",
        dir,
        "--tenant",
        "Cone",
    ]);
}

fn decompress(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let mut out = Vec::new();
        zstd::Decoder::new(&raw[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

#[test]
fn export_and_import_between_data_directories_verifies_and_catches_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    fill(a);
    let file = tmp.path().join("trail.ndjson.zst");
    let f = file.to_str().unwrap();
    let (_, err) = authtrail(&["export", "--data", a, "--out", f]);
    assert!(
        err.contains("exported tenant Cone: 1505 activities (#1..#1505)"),
        "{err}"
    );
    assert!(
        err.contains("exported tenant Ctwo: 700 activities (#1..#700)"),
        "{err}"
    );
    assert!(!tmp.path().join("trail.ndjson.zst.partial").exists());

    let (_, err) = authtrail(&["import", f, "--data", b, "--verify"]);
    assert!(
        err.contains("verified: 2205 activities in 2 tenants"),
        "{err}"
    );
    let (_, err) = authtrail(&["verify-export", f, "--data", b]);
    assert!(err.contains("ok   tenant Ctwo"), "{err}");

    // The imported store keeps idempotency on the restored eventIds, and its sequence continues.
    let extra = tmp.path().join("again.ndjson");
    let again = json!({"eventId": "keep-3", "id": {"applicationName": "login"},
                       "events": [{"name": "logout"}]});
    std::fs::write(&extra, again.to_string()).unwrap();
    let (_, err) = authtrail(&[
        "ingest",
        extra.to_str().unwrap(),
        "--data",
        b,
        "--tenant",
        "Cone",
    ]);
    assert!(
        err.contains("0 activities stored, 1 already present"),
        "{err}"
    );

    // Importing the same file again is refused (the qualifiers are taken), naming the lines.
    let out = try_authtrail(&["import", f, "--data", b]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lines 1..1000 (tenant Cone) were refused"),
        "{err}"
    );

    // One changed character in one row: the digest of that tenant differs.
    let plain = tmp.path().join("plain.ndjson");
    let text = String::from_utf8(decompress(&file)).unwrap();
    let tampered = text.replacen("\"u3\"", "\"u4\"", 1);
    assert_ne!(text, tampered);
    std::fs::write(&plain, tampered).unwrap();
    let out = try_authtrail(&["verify-export", plain.to_str().unwrap(), "--data", b]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DIFF tenant Cone"), "{err}");
    assert!(err.contains("ok   tenant Ctwo"), "{err}");
    assert!(err.contains("1 of 2 tenants differ"), "{err}");

    // A row out of sequence order, and a line that is not a row, are refused with their line.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&plain, format!("{}\n{}\n", lines[1], lines[0])).unwrap();
    let out = try_authtrail(&["verify-export", plain.to_str().unwrap(), "--data", b]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("line 2"), "{err}");
    std::fs::write(&plain, "{\"tenant\": \"Cone\"}\n").unwrap();
    let c = tmp.path().join("c");
    let out = try_authtrail(&[
        "import",
        plain.to_str().unwrap(),
        "--data",
        c.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("line 1 is not an export row"),
        "{err}"
    );
}

#[test]
fn a_trail_moves_from_sqlite_to_postgresql_and_back_unchanged() {
    let Some(pg) = PgSchema::create() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    fill(a);
    let first = tmp.path().join("from-sqlite.ndjson.zst");
    let second = tmp.path().join("from-postgres.ndjson");
    let (f1, f2) = (first.to_str().unwrap(), second.to_str().unwrap());

    authtrail(&["export", "--data", a, "--out", f1]);
    let (_, err) = authtrail(&["import", f1, "--store", &pg.url, "--verify"]);
    assert!(
        err.contains("verified: 2205 activities in 2 tenants"),
        "{err}"
    );

    // Back out of PostgreSQL: byte for byte the same rows as the SQLite export.
    authtrail(&["export", "--store", &pg.url, "--out", f2]);
    assert!(
        decompress(&first) == decompress(&second),
        "the PostgreSQL export equals the SQLite export byte for byte"
    );
    let (_, err) = authtrail(&["import", f2, "--data", b, "--verify"]);
    assert!(
        err.contains("verified: 2205 activities in 2 tenants"),
        "{err}"
    );
    authtrail(&["verify-export", f1, "--data", b]);

    // One tenant only.
    let one = tmp.path().join("one.ndjson");
    let (_, err) = authtrail(&[
        "export",
        "--store",
        &pg.url,
        "--tenant",
        "Ctwo",
        "--out",
        one.to_str().unwrap(),
    ]);
    assert!(err.contains("wrote 700 activities of 1 tenants"), "{err}");
    let c = tmp.path().join("c");
    let (_, err) = authtrail(&[
        "import",
        one.to_str().unwrap(),
        "--data",
        c.to_str().unwrap(),
    ]);
    assert!(
        err.contains("restored 700 activities of 1 tenants"),
        "{err}"
    );
    let (_, err) = authtrail(&["verify-export", one.to_str().unwrap(), "--store", &pg.url]);
    assert!(
        err.contains("the store also holds tenants that are not in the export: Cone"),
        "{err}"
    );

    // The jsonValue payload came back with the same content (jsonb reordered its keys inside
    // PostgreSQL; the canonical rows sort them).
    let (stdout, _) = authtrail(&[
        "query",
        "--store",
        &pg.url,
        "--tenant",
        "Cone",
        "--application",
        "logto",
        "--limit",
        "1",
    ]);
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    let payload = &v["events"][0]["parameters"][0]["jsonValue"];
    assert_eq!(payload["alpha"]["y"][1]["b"], 2, "{v}");
    assert_eq!(v["id"]["uniqueQualifier"], "1505");

    // A change in PostgreSQL after the import shows up in verification.
    let more = tmp.path().join("more.ndjson");
    std::fs::write(
        &more,
        json!({"id": {"applicationName": "login"}, "events": [{"name": "logout"}]}).to_string(),
    )
    .unwrap();
    authtrail(&[
        "ingest",
        more.to_str().unwrap(),
        "--store",
        &pg.url,
        "--tenant",
        "Ctwo",
    ]);
    let out = try_authtrail(&["verify-export", f1, "--store", &pg.url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("store 701 activities (#1..#701)"), "{err}");
}
