//! Issue #16: request heads that hyper itself would refuse (with an empty body, before authtrail
//! sees them) get a JSON answer in the envelope of the API they name, on a real socket, and every
//! request of a keep-alive connection is checked, not only the first.

use serde_json::{Value, json};

use crate::security::{live, raw};
use crate::support::{Harness, activity};

/// Splits what a server sent on one connection into (status, JSON body) per answer.
fn answers(stream: &str) -> Vec<(u16, Value)> {
    let mut out = Vec::new();
    let mut rest = stream;
    while let Some(head_end) = rest.find("\r\n\r\n") {
        let head = &rest[..head_end];
        let status: u16 = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .expect("every answer here has a length");
        let body = &rest[head_end + 4..head_end + 4 + length];
        out.push((status, serde_json::from_str(body).unwrap_or(Value::Null)));
        rest = &rest[head_end + 4 + length..];
    }
    out
}

/// One request on its own connection: the status, the JSON body, and whether the server said it
/// closes the connection.
async fn one(addr: std::net::SocketAddr, bytes: &[u8]) -> (u16, Value, bool) {
    let answer = raw(addr, bytes).await;
    let closes = answer.to_ascii_lowercase().contains("connection: close");
    let mut all = answers(&answer);
    assert_eq!(all.len(), 1, "{answer}");
    let (status, body) = all.remove(0);
    (status, body, closes)
}

#[tokio::test]
async fn heads_hyper_cannot_parse_get_json_in_the_envelope_of_their_api() {
    let h = Harness::new().await;
    let server = live(&h).await;
    let addr = server.addr;
    let google = "/admin/reports/v1/activity/users/all/applications/login";

    // A raw 0xFF byte in the path, on Google's endpoint: Google's envelope.
    let req = [
        b"GET ".as_slice(),
        google.as_bytes(),
        b"\xff HTTP/1.1\r\nhost: x\r\n\r\n",
    ]
    .concat();
    let (status, body, closes) = one(addr, &req).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT", "{body}");
    assert_eq!(body["error"]["errors"][0]["location"], "path", "{body}");
    assert!(closes);

    // A NUL in a header value, on Logto's endpoint: Logto's envelope.
    let (status, body, _) = one(
        addr,
        b"GET /api/logs HTTP/1.1\r\nhost: x\r\nx-a: a\0b\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "guard.invalid_input", "{body}");
    assert_eq!(body["details"][0]["field"], "headers", "{body}");

    // A doubled Content-Length with two values, and a bad one: the native envelope.
    for cl in [
        "content-length: 2\r\ncontent-length: 3",
        "content-length: 2x",
    ] {
        let req = format!("POST /v1/activities HTTP/1.1\r\nhost: x\r\n{cl}\r\n\r\n[]");
        let (status, body, _) = one(addr, req.as_bytes()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        assert_eq!(body["error"]["details"][0]["field"], "content-length");
    }

    // Both framings at once (a request-smuggling vector) is refused too.
    let req = b"POST /v1/activities HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n";
    let (status, body, _) = one(addr, req).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "content-length");

    // More than 1,024 headers: 431.
    let mut req = String::from("GET /v1/activities HTTP/1.1\r\nhost: x\r\n");
    for i in 0..1100 {
        req.push_str(&format!("x-{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let (status, body, _) = one(addr, req.as_bytes()).await;
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["error"]["code"], "headers_too_large", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the limit is 128"),
        "{body}"
    );

    // A 70 KiB path: 414, in Logto's envelope since it names Logto's API.
    let req = format!(
        "GET /api/logs/{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let (status, body, _) = one(addr, req.as_bytes()).await;
    assert_eq!(status, 414, "{body}");
    assert_eq!(body["code"], "guard.uri_too_long", "{body}");

    // A garbled request line, and an HTTP version that is not 1.x.
    for line in ["HELLO\r\n\r\n", "GET /v1/activities HTTP/9.9\r\n\r\n"] {
        let (status, body, _) = one(addr, line.as_bytes()).await;
        assert_eq!(status, 400, "{line}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    }
}

#[tokio::test]
async fn every_request_of_a_keep_alive_connection_is_checked() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let server = live(&h).await;
    let sized = json!([activity("a@x.io", "login_success")]).to_string();
    let chunked = json!([activity("b@x.io", "login_success")]).to_string();
    // Pipelined on one connection: a probe, a sized ingest, a chunked ingest whose body holds
    // text that looks like a head, then a head hyper cannot parse, then one that is never read.
    let stream = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n\
POST /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tok}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{sized}\
POST /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tok}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n\
{:x}\r\n{chunked}\r\n0\r\n\r\n",
        sized.len(),
        chunked.len(),
    );
    let stream = [
        stream.as_bytes(),
        b"GET /v1/activities/\xff HTTP/1.1\r\nhost: x\r\n\r\nGET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
    ]
    .concat();
    let answer = raw(server.addr, &stream).await;
    let got = answers(&answer);
    let statuses: Vec<u16> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200, 200, 400], "{answer}");
    assert_eq!(got[3].1["error"]["details"][0]["field"], "path", "{answer}");
    assert_eq!(h.count(&tok).await, 2, "both batches stored");
}
