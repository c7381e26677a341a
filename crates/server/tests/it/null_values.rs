//! JSON `null` where a value is open (a `jsonValue` parameter, a field of a Logto payload) is a
//! value: accepted, stored, read back as sent and committed to by the log's leaf, on both
//! engines. Before, ingest accepted `"jsonValue": null` but the stored row read back as "a
//! parameter without a value": from then on every list of the tenant answered 500 and its
//! checkpoint job failed, so one such field from a producer (or a null in a real Logto payload)
//! stopped the tenant's reads and its signed checkpoints.

use axum::http::StatusCode;
use serde_json::{Value, json};

use authtrail_model::ActivityQuery;

use crate::nul::Node;

fn param<'a>(item: &'a Value, name: &str) -> &'a Value {
    item["events"][0]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no parameter {name} in {item}"))
}

#[tokio::test]
async fn null_json_values_are_stored_and_read_back_on_both_engines() {
    for node in Node::both().await {
        let e = node.engine;
        let native = json!({
            "eventId": "null-1",
            "id": {"applicationName": "logto", "time": "2026-11-22T10:00:00Z"},
            "events": [{"name": "RevokeToken", "parameters": [
                {"name": "gone", "jsonValue": null},
                {"name": "inside", "jsonValue": {"a": null, "b": [null]}},
            ]}],
        });
        let (s, b) = node.post("/v1/activities", &json!([native]), None).await;
        assert_eq!(s, StatusCode::OK, "{e}: native: {b}");
        let log = json!({
            "id": "null-2",
            "key": "RevokeToken",
            "createdAt": 1_795_391_000_123_i64,
            "payload": {"key": "RevokeToken", "result": "Success", "userId": null, "params": {"x": null}},
        });
        let (s, b) = node.post("/api/logs", &json!([log]), None).await;
        assert_eq!(s, StatusCode::OK, "{e}: Logto: {b}");

        // The native API gives the parameters back as sent.
        let (s, b) = node.get("/v1/activities?limit=10").await;
        assert_eq!(s, StatusCode::OK, "{e}: the list reads: {b}");
        let item = b["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["eventId"] == "null-1")
            .unwrap_or_else(|| panic!("{e}: null-1 not listed: {b}"));
        assert_eq!(
            param(item, "gone"),
            &json!({"name": "gone", "jsonValue": null}),
            "{e}"
        );
        assert_eq!(
            param(item, "inside")["jsonValue"],
            json!({"a": null, "b": [null]}),
            "{e}"
        );

        // Logto's API gives the payload back with its null fields.
        let (s, b) = node.get("/api/logs?page_size=10").await;
        assert_eq!(s, StatusCode::OK, "{e}: Logto's list reads: {b}");
        let logto = b
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["payload"]["params"].is_object())
            .unwrap_or_else(|| panic!("{e}: the Logto log is not listed: {b}"));
        assert!(logto["payload"]["userId"].is_null(), "{e}: {logto}");
        assert_eq!(logto["payload"]["params"], json!({"x": null}), "{e}");

        // Every stored row decodes and has a leaf (what the checkpoint job computes).
        let rows = node
            .store
            .list(
                &node.tenant,
                &ActivityQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|err| panic!("{e}: the store reads its rows: {err}"));
        assert_eq!(rows.items.len(), 2, "{e}");
        for a in &rows.items {
            assert!(!authtrail_formats::canonical::encode(a).is_empty());
        }
        node.drop_schema().await;
    }
}
