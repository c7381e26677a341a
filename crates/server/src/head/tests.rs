use super::*;

use axum::http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn refused(head: &[u8]) -> (StatusCode, String) {
    match check(head) {
        Err(r) => {
            let field = r
                .error
                .details()
                .first()
                .map(|d| d.field.clone())
                .unwrap_or_default();
            (r.error.status(), field)
        }
        Ok(phase) => panic!("accepted: {phase:?}"),
    }
}

#[test]
fn what_hyper_refuses_is_refused_here_naming_the_field() {
    let cases: &[(&[u8], StatusCode, &str)] = &[
        (
            b"GET /v1/\xffx HTTP/1.1\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "path",
        ),
        (
            b"GET /v1/a b HTTP/1.1\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (b"G(T / HTTP/1.1\r\n\r\n", StatusCode::BAD_REQUEST, "method"),
        (
            b"GET / HTTP/2.0\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            b"GET / HTTP/1.1\r\nx: a\x00b\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "headers",
        ),
        (
            b"GET / HTTP/1.1\r\nx y: a\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "headers",
        ),
        (
            b"POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "content-length",
        ),
        (
            b"POST / HTTP/1.1\r\ncontent-length: +5\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "content-length",
        ),
        (
            b"POST / HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "content-length",
        ),
        (
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "content-length",
        ),
        (
            b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "transfer-encoding",
        ),
        (
            b"POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
            StatusCode::BAD_REQUEST,
            "transfer-encoding",
        ),
    ];
    for (head, status, field) in cases {
        let got = refused(head);
        assert_eq!(
            got,
            (*status, field.to_string()),
            "{}",
            String::from_utf8_lossy(head)
        );
    }
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..=MAX_PARSED_HEADERS {
        many.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(
        refused(&many),
        (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers".into()
        )
    );
}

#[test]
fn what_hyper_takes_passes_with_its_framing() {
    let ok = |head: &[u8]| check(head).unwrap_or_else(|r| panic!("{r:?}"));
    assert!(matches!(ok(b"GET / HTTP/1.1\r\n\r\n"), Phase::Head));
    assert!(matches!(
        ok(b"\r\nPOST /v1/activities HTTP/1.1\nContent-Length: 12\n\n"),
        Phase::Sized(12)
    ));
    // The same length twice is one length (RFC 9110 §8.6), as hyper reads it.
    assert!(matches!(
        ok(b"POST / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\n"),
        Phase::Sized(3)
    ));
    assert!(matches!(
        ok(b"POST / HTTP/1.1\r\ntransfer-encoding: gzip, Chunked\r\n\r\n"),
        Phase::Chunked(_)
    ));
    // UTF-8 is not allowed raw in a path, but escaped it is.
    assert!(matches!(
        ok(b"GET /api/logs?q=%E7%99%BB HTTP/1.0\r\n\r\n"),
        Phase::Head
    ));
}

#[test]
fn the_end_of_a_head_is_found_however_it_is_split() {
    let head = b"\r\nGET /x HTTP/1.1\r\nhost: a\r\n\r\nNEXT";
    let end = head.len() - 4;
    for split in 0..head.len() {
        let mut searched = 0;
        let first = find_head(&head[..split], &mut searched, 1024);
        if split >= end {
            assert!(matches!(first, Found::Head(n) if n == end), "split {split}");
            continue;
        }
        assert!(matches!(first, Found::Incomplete), "split {split}");
        let whole = find_head(head, &mut searched, 1024);
        assert!(matches!(whole, Found::Head(n) if n == end), "split {split}");
    }
    let lf_only = b"GET / HTTP/1.1\nhost: a\n\nrest";
    assert!(matches!(find_head(lf_only, &mut 0, 1024), Found::Head(24)));
}

#[test]
fn an_overlong_request_line_is_414_and_overlong_headers_431() {
    let line = [b"GET /api/logs/".as_slice(), &[b'a'; 2000]].concat();
    let Found::Refused(r) = find_head(&line, &mut 0, 1024) else {
        panic!("not refused")
    };
    assert_eq!(r.error.status(), StatusCode::URI_TOO_LONG);
    assert!(r.path.starts_with("/api/logs/"), "{}", r.path);
    let headers = [b"GET / HTTP/1.1\r\nx: ".as_slice(), &[b'a'; 2000]].concat();
    let Found::Refused(r) = find_head(&headers, &mut 0, 1024) else {
        panic!("not refused")
    };
    assert_eq!(
        r.error.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
}

#[test]
fn a_chunked_body_is_followed_to_its_end_in_any_split() {
    let body = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\ntrailer: x\r\n\r\n";
    for split in 0..body.len() {
        let mut c = Chunked::default();
        let first = match c.advance(&body[..split]) {
            Chunks::More(n) => n,
            Chunks::Done(_) | Chunks::Lost => panic!("split {split}"),
        };
        assert_eq!(first, split);
        match c.advance(&[&body[split..], b"GET".as_slice()].concat()) {
            Chunks::Done(n) => assert_eq!(split + n, body.len(), "split {split}"),
            _ => panic!("split {split}"),
        }
    }
    assert!(matches!(
        Chunked::default().advance(b"zz\r\n"),
        Chunks::Lost
    ));
}

/// Drives a `CheckedIo` over an in-memory pipe: writes `input` and closes, returns what the
/// wrapper lets through and the refusal it recorded.
async fn through(input: &[u8]) -> (Vec<u8>, Option<Refusal>) {
    let (mut client, server) = tokio::io::duplex(1 << 20);
    client.write_all(input).await.unwrap();
    client.shutdown().await.unwrap();
    let refusals = Refusals::default();
    let mut io = CheckedIo::new(server, 4096, refusals.clone());
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    // After a refusal the wrapper stays pending for good (hyper answers and closes), so the
    // stand-in request is the end; the timeout only guards against a broken build.
    while !out.ends_with(REFUSED_HEAD) {
        match tokio::time::timeout(std::time::Duration::from_secs(30), io.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => panic!("the wrapper hung"),
        }
    }
    let refusal = refusals.take(REFUSED_PATH);
    (out, refusal)
}

#[tokio::test]
async fn good_requests_pass_unchanged_and_a_bad_one_is_replaced() {
    let good = b"POST /v1/activities HTTP/1.1\r\ncontent-length: 10\r\n\r\n0123456789\
GET /healthz HTTP/1.1\r\n\r\n\
POST /api/logs HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n4\r\nGET \r\n0\r\n\r\n";
    let (out, refusal) = through(good).await;
    assert_eq!(out, good.to_vec());
    assert!(refusal.is_none());

    // A body that looks like a bad head is a body; the bad head after it is refused.
    let bad = [
        good.as_slice(),
        b"GET /admin/reports/v1/\xff HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    ]
    .concat();
    let (out, refusal) = through(&bad).await;
    assert_eq!(out, [good.as_slice(), REFUSED_HEAD].concat());
    let refusal = refusal.expect("refused");
    assert_eq!(refusal.error.status(), StatusCode::BAD_REQUEST);
    assert!(refusal.path.starts_with("/admin/reports/v1/"));
}

#[tokio::test]
async fn a_partial_head_at_eof_is_passed_on_for_hyper_to_drop() {
    let (out, refusal) = through(b"GET /healthz HTTP/1.1\r\nhost").await;
    assert_eq!(out, b"GET /healthz HTTP/1.1\r\nhost".to_vec());
    assert!(refusal.is_none());
}
