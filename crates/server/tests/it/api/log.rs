//! The transparency log's read API (`/v1/log/...`): the checkpoint and key as text, proofs that
//! verify against them, every bad parameter a 400 naming it, and another tenant's token seeing
//! only its own log. The checkpoint job is the CLI's; here `Service::log_sync` stands in for it.

use authtrail_integrity::proof::{verify_consistency, verify_inclusion};
use authtrail_integrity::{Checkpoint, NoteVerifier};
use authtrail_model::Tenant;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::*;

fn hashes(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| B64.decode(h.as_str().unwrap()).unwrap())
        .collect()
}

async fn ingest(h: &Harness, tok: &str, from: usize, n: usize) {
    let items: Vec<Value> = (from..from + n)
        .map(|i| {
            let mut a = activity(&format!("u{i}@example.com"), "login_success");
            a["eventId"] = json!(format!("ev-{i}"));
            a
        })
        .collect();
    let (s, body) = h.post_json(tok, Value::Array(items)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn checkpoint_key_and_proofs_verify() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let tenant = Tenant::new("Ctest").unwrap();

    let (s, key) = h.get(&tok, "/v1/log/key").await;
    assert_eq!(s, StatusCode::OK);
    let v = NoteVerifier::parse(key.as_str().unwrap()).unwrap();
    assert_eq!(v.name(), "authtrail.invalid/Ctest");
    let (s, empty) = h.get(&tok, "/v1/log/checkpoint").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        Checkpoint::open(empty.as_str().unwrap(), &v).unwrap().size,
        0
    );

    ingest(&h, &tok, 0, 3).await;
    h.state.service.log_sync(&tenant).await.unwrap();
    let (_, old) = h.get(&tok, "/v1/log/checkpoint").await;
    let old = Checkpoint::open(old.as_str().unwrap(), &v).unwrap();
    assert_eq!(old.size, 3);
    ingest(&h, &tok, 3, 4).await;
    h.state.service.log_sync(&tenant).await.unwrap();
    let (_, note) = h.get(&tok, "/v1/log/checkpoint").await;
    let cp = Checkpoint::open(note.as_str().unwrap(), &v).unwrap();
    assert_eq!(cp.size, 7);

    let (s, p) = h.get(&tok, "/v1/log/proof/inclusion?index=4").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (p["index"].as_u64(), p["uniqueQualifier"].as_u64()),
        (Some(4), Some(5))
    );
    assert_eq!(p["checkpoint"], note, "the proof names its checkpoint");
    let leaf = B64.decode(p["leafHash"].as_str().unwrap()).unwrap();
    verify_inclusion(&leaf, 4, 7, &hashes(&p["hashes"]), &cp.root).unwrap();

    let (s, p) = h
        .get(&tok, "/v1/log/proof/inclusion?eventId=ev-1&size=3")
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["index"], 1);
    assert_eq!(
        p["checkpoint"],
        Value::Null,
        "size 3 is not the latest checkpoint"
    );
    let leaf = B64.decode(p["leafHash"].as_str().unwrap()).unwrap();
    verify_inclusion(&leaf, 1, 3, &hashes(&p["hashes"]), &old.root).unwrap();

    let (s, c) = h.get(&tok, "/v1/log/proof/consistency?old=3").await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["old"].as_u64(), c["size"].as_u64()), (Some(3), Some(7)));
    verify_consistency(3, 7, &hashes(&c["hashes"]), &old.root, &cp.root).unwrap();

    // Another tenant's token sees its own (empty) log under its own key.
    let other = h.token_for("Cother", &["read"]).await;
    let (_, k) = h.get(&other, "/v1/log/key").await;
    assert!(k.as_str().unwrap().starts_with("authtrail.invalid/Cother+"));
    let (s, e) = h.get(&other, "/v1/log/proof/inclusion?eventId=ev-1").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
}

#[tokio::test]
async fn tiles_rebuild_the_checkpoint() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    ingest(&h, &tok, 0, 6).await;
    let tenant = Tenant::new("Ctest").unwrap();
    h.state.service.log_sync(&tenant).await.unwrap();
    let (_, key) = h.get(&tok, "/v1/log/key").await;
    let v = NoteVerifier::parse(key.as_str().unwrap()).unwrap();
    let (_, note) = h.get(&tok, "/v1/log/checkpoint").await;
    let cp = Checkpoint::open(note.as_str().unwrap(), &v).unwrap();
    assert_eq!(cp.size, 6);
    let (s, tile, headers) = h
        .request("GET", "/v1/log/tile/0/000.p/6", Some(&tok), None, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{tile}");
    assert_eq!(headers["content-type"], "application/octet-stream");
    let bytes = hex::decode(tile.as_str().unwrap()).unwrap();
    let mut f = authtrail_integrity::Frontier::new();
    for h in bytes.chunks(32) {
        f.push(h.try_into().unwrap());
    }
    assert_eq!(f.root(), cp.root);
    let (s, entries) = h.get(&tok, "/v1/log/tile/entries/000.p/6").await;
    assert_eq!(s, StatusCode::OK);
    let entries = hex::decode(entries.as_str().unwrap()).unwrap();
    let n = u16::from_be_bytes([entries[0], entries[1]]) as usize;
    assert_eq!(
        authtrail_integrity::leaf_hash(&entries[2..2 + n])[..],
        bytes[..32]
    );
    for (path, status) in [
        ("/v1/log/tile/0/000", StatusCode::NOT_FOUND),
        ("/v1/log/tile/0/000.p/7", StatusCode::NOT_FOUND),
        ("/v1/log/tile/0/0", StatusCode::BAD_REQUEST),
        ("/v1/log/tile/0/000.p/0", StatusCode::BAD_REQUEST),
        ("/v1/log/tile/x/000", StatusCode::BAD_REQUEST),
    ] {
        let (s, body) = h.get(&tok, path).await;
        assert_eq!(s, status, "{path}: {body}");
        if status == StatusCode::BAD_REQUEST {
            assert!(body.to_string().contains("\"path\""), "{path}: {body}");
        }
    }
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_the_field() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    ingest(&h, &tok, 0, 3).await;
    h.state
        .service
        .log_sync(&Tenant::new("Ctest").unwrap())
        .await
        .unwrap();
    for (path, field) in [
        ("/v1/log/proof/inclusion", "index"),
        ("/v1/log/proof/inclusion?index=1&eventId=ev-1", "index"),
        ("/v1/log/proof/inclusion?index=-1", "index"),
        ("/v1/log/proof/inclusion?index=x", "index"),
        ("/v1/log/proof/inclusion?index=3", "index"),
        ("/v1/log/proof/inclusion?index=0&size=0", "size"),
        ("/v1/log/proof/inclusion?index=0&size=4", "size"),
        ("/v1/log/proof/inclusion?index=0&sise=2", "sise"),
        ("/v1/log/proof/consistency", "old"),
        ("/v1/log/proof/consistency?old=0", "old"),
        ("/v1/log/proof/consistency?old=4", "old"),
        ("/v1/log/proof/consistency?old=2&size=99", "size"),
        ("/v1/log/checkpoint?x=1", "x"),
        ("/v1/log/key?x=1", "x"),
    ] {
        let (s, body) = h.get(&tok, path).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {body}");
        let named = body.to_string();
        assert!(
            named.contains(&format!("\"{field}\"")),
            "{path} names {field}: {body}"
        );
    }
    let ingest_only = h.token(&["ingest"]).await;
    let (s, _) = h.get(&ingest_only, "/v1/log/checkpoint").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a read token is needed");
    let (s, _, _) = h.request("GET", "/v1/log/key", None, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// A key rotation as HTTP clients see it: during the overlap `/v1/log/key` lists the active key
/// first and the next one second, and the checkpoint verifies with either; after it, only the
/// new key. The steps are the CLI's (`authtrail log rotate-key`), here called on the service.
#[tokio::test]
async fn a_rotation_is_served_key_by_key() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let tenant = Tenant::new("Ctest").unwrap();
    ingest(&h, &tok, 0, 2).await;
    h.state.service.log_sync(&tenant).await.unwrap();
    let (_, old) = h.get(&tok, "/v1/log/key").await;
    let old = old.as_str().unwrap().to_string();
    assert_eq!(old.lines().count(), 1);
    let actor = authtrail_service::AdminActor::System;
    h.state
        .service
        .start_key_rotation(&tenant, &actor)
        .await
        .unwrap();
    let (s, both) = h.get(&tok, "/v1/log/key").await;
    assert_eq!(s, StatusCode::OK);
    let both: Vec<String> = both.as_str().unwrap().lines().map(String::from).collect();
    assert_eq!(both.len(), 2);
    assert_eq!(both[0], old.trim_end(), "the active key stays first");
    let (_, json) = h.get(&tok, "/v1/log/key?format=json").await;
    let states: Vec<&str> = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "next"]);
    assert_eq!(json["keys"][1]["vkey"], both[1].as_str());
    assert_eq!(json["keys"][1]["keyId"].as_str().unwrap().len(), 8);
    let (_, note) = h.get(&tok, "/v1/log/checkpoint").await;
    for vkey in &both {
        let v = NoteVerifier::parse(vkey).unwrap();
        assert_eq!(
            Checkpoint::open(note.as_str().unwrap(), &v).unwrap().size,
            2
        );
    }
    h.state
        .service
        .finish_key_rotation(&tenant, &actor)
        .await
        .unwrap();
    let (_, now) = h.get(&tok, "/v1/log/key").await;
    assert_eq!(now.as_str().unwrap().trim_end(), both[1]);
    let (_, json) = h.get(&tok, "/v1/log/key?format=json").await;
    assert_eq!(json["keys"][1]["state"], "retired");
    let (s, body) = h.get(&tok, "/v1/log/key?format=xml").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["details"][0]["field"], "format", "{body}");
}

/// A witness (played by the integrity crate's cosigner) submits its cosignature over HTTP; it is
/// served with the checkpoint; bad submissions are 4xx naming the field and store nothing.
#[tokio::test]
async fn witness_cosignatures_are_submitted_and_served() {
    use authtrail_integrity::Cosigner;
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let tenant = Tenant::new("Ctest").unwrap();
    let w = Cosigner::new("witness.example/w1", &[3; 32]).unwrap();
    h.state
        .service
        .add_log_witness(
            &tenant,
            &w.verifier().vkey(),
            &authtrail_service::AdminActor::System,
        )
        .await
        .unwrap();
    ingest(&h, &tok, 0, 2).await;
    h.state.service.log_sync(&tenant).await.unwrap();
    let (_, listed) = h.get(&tok, "/v1/log/witnesses").await;
    assert_eq!(listed["witnesses"][0]["vkey"], w.verifier().vkey().as_str());
    let (_, note) = h.get(&tok, "/v1/log/checkpoint").await;
    let note = note.as_str().unwrap().to_string();
    let text = format!("{}\n", note.split_once("\n\n").unwrap().0);
    let time = (support::NOW / 1_000_000) as u64;
    let cosigned = format!("{note}{}\n", w.cosign(&text, time));
    let post = |body: String| {
        h.request(
            "POST",
            "/v1/log/cosignature",
            Some(&tok),
            Some("text/plain"),
            Some(body.into_bytes()),
        )
    };
    let (s, body, _) = post(cosigned.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body["accepted"][0],
        json!({"witness": "witness.example/w1", "size": 3, "time": time, "stored": true})
    );
    let (_, served) = h.get(&tok, "/v1/log/checkpoint").await;
    assert_eq!(served.as_str().unwrap(), cosigned);

    let stranger = Cosigner::new("witness.example/x", &[4; 32]).unwrap();
    for (body, status, field) in [
        (
            format!("{text}\n{}\n", stranger.cosign(&text, time)),
            StatusCode::BAD_REQUEST,
            "cosignature",
        ),
        (text.clone(), StatusCode::BAD_REQUEST, "checkpoint"),
        ("x".repeat(9000), StatusCode::PAYLOAD_TOO_LARGE, "body"),
    ] {
        let (s, got, _) = post(body).await;
        assert_eq!(s, status, "{got}");
        assert_eq!(got["error"]["details"][0]["field"], field, "{got}");
    }
    let (_, served) = h.get(&tok, "/v1/log/checkpoint").await;
    assert_eq!(
        served.as_str().unwrap(),
        cosigned,
        "nothing else was stored"
    );
}
