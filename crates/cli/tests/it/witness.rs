//! `authtrail verify --witness`: a verifier that trusts witnesses accepts a checkpoint only with
//! valid cosignatures of its quorum of them, online (`--url`) and offline (`--export`). The
//! witness is played by the integrity crate's cosigner; the cosignature reaches the server
//! through `POST /v1/log/cosignature`, as a real witness's would.

use std::time::Duration;

use authtrail_integrity::Cosigner;
use serde_json::json;

use super::support::{Server, authtrail, http, token, try_authtrail};

/// The served checkpoint once it covers `size` activities.
#[allow(
    clippy::disallowed_methods,
    reason = "polls another process, which runs on real time"
)]
fn checkpoint_of(server: &Server, tok: &str, size: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let note = http()
            .get(format!("{}/v1/log/checkpoint", server.url))
            .bearer_auth(tok)
            .send()
            .unwrap()
            .text()
            .unwrap();
        if note.lines().nth(1).and_then(|n| n.parse::<u64>().ok()) >= Some(size) {
            return note;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of {size}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn verify_requires_the_trusted_witnesses_cosignatures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (w1, w2) = (
        Cosigner::new("witness.example/w1", &[7; 32]).unwrap(),
        Cosigner::new("witness.example/w2", &[8; 32]).unwrap(),
    );
    let (v1, v2) = (w1.verifier().vkey(), w2.verifier().vkey());
    let tok = token(&["--data", data], "Cwit", "ingest,read");
    for v in [&v1, &v2] {
        authtrail(&[
            "log", "witness", "add", v, "--tenant", "Cwit", "--data", data,
        ]);
    }
    let (key, _) = authtrail(&["log", "keys", "--tenant", "Cwit", "--data", data]);
    let key = key
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_string();
    let server = Server::start(&["--data", data]);
    let batch: Vec<_> = (0..5)
        .map(|i| json!({"id": {"applicationName": "login"}, "actor": {"email": format!("u{i}@example.com")}, "events": [{"name": "login_success"}]}))
        .collect();
    let receipts: serde_json::Value = http()
        .post(format!("{}/v1/activities", server.url))
        .bearer_auth(&tok)
        .json(&batch)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let last: u64 = receipts["receipts"][4]["uniqueQualifier"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let note = checkpoint_of(&server, &tok, last);
    let text = format!("{}\n", note.split_once("\n\n").unwrap().0);
    let cosigned = format!("{note}{}\n", w1.cosign(&text, 1_780_000_000));
    let posted = http()
        .post(format!("{}/v1/log/cosignature", server.url))
        .bearer_auth(&tok)
        .header("content-type", "text/plain")
        .body(cosigned.clone())
        .send()
        .unwrap();
    assert_eq!(posted.status(), 200, "{}", posted.text().unwrap());

    let online = |witness_args: &[&str]| {
        let mut args = vec![
            "verify",
            "--url",
            &server.url,
            "--token",
            &tok,
            "--key",
            &key,
        ];
        args.extend_from_slice(witness_args);
        let out = try_authtrail(&args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, err) = online(&["--witness", &v1]);
    assert!(ok, "{err}");
    assert!(
        err.contains("witness witness.example/w1: cosigned at 2026-05-28T"),
        "{err}"
    );
    // Both trusted, only one cosigned: refused by default, accepted with a quorum of one.
    let (ok, err) = online(&["--witness", &v1, "--witness", &v2]);
    assert!(!ok);
    assert!(
        err.contains("witness witness.example/w2: no cosignature"),
        "{err}"
    );
    assert!(
        err.contains("cosigned by 1 of the trusted witnesses, 2 required"),
        "{err}"
    );
    let (ok, err) = online(&["--witness", &v1, "--witness", &v2, "--witness-quorum", "1"]);
    assert!(ok, "{err}");
    let (ok, err) = online(&["--witness", "not a key"]);
    assert!(!ok);
    assert!(
        err.contains("--witness not a key: not a cosigner verifier key"),
        "{err}"
    );
    let (ok, err) = online(&["--witness", &v1, "--witness-quorum", "2"]);
    assert!(!ok);
    assert!(
        err.contains("--witness-quorum 2 is more than the 1 witness keys given"),
        "{err}"
    );

    // Offline: the saved, cosigned checkpoint and an export. A cosignature of another
    // checkpoint pasted under this one is named invalid.
    let (cp, export) = (dir.path().join("cp.txt"), dir.path().join("trail.ndjson"));
    std::fs::write(&cp, &cosigned).unwrap();
    let export = export.to_str().unwrap();
    authtrail(&[
        "export", "--tenant", "Cwit", "--data", data, "--out", export,
    ]);
    let offline = |checkpoint: &std::path::Path| {
        let out = try_authtrail(&[
            "verify",
            "--export",
            export,
            "--key",
            &key,
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--witness",
            &v1,
        ]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, err) = offline(&cp);
    assert!(ok, "{err}");
    assert!(
        err.contains("witness witness.example/w1: cosigned at"),
        "{err}"
    );
    let other = text.replacen(&format!("\n{last}\n"), "\n1\n", 1);
    let forged = format!("{note}{}\n", w1.cosign(&other, 1_780_000_000));
    std::fs::write(&cp, forged).unwrap();
    let (ok, err) = offline(&cp);
    assert!(!ok);
    assert!(
        err.contains("witness witness.example/w1: its cosignature is invalid"),
        "{err}"
    );
}
