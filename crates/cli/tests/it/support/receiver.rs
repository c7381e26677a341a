//! A webhook receiver for the delivery tests: a real HTTP server on loopback that checks each
//! Standard Webhooks signature itself (HMAC-SHA256 over `id.timestamp.body`, not authtrail's
//! code), records what it accepted, and can be told to fail: answer 500, or hang past the
//! sender's timeout. Failures follow a fixed pattern, not dice, so that a test asserting "some
//! deliveries failed" cannot pass or fail by chance.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One accepted delivery.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub headers: HeaderMap,
    pub body: Value,
}

/// How the receiver answers, counting requests from 0: every `fail_every`-th one (the first
/// included) is answered 500, and every `hang_every`-th one is left hanging for 8 s (longer than
/// authtrail's 5 s timeout). 0 turns either off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flaky {
    pub fail_every: usize,
    pub hang_every: usize,
}

#[derive(Default)]
struct Shared {
    accepted: Vec<Accepted>,
    refused: usize,
    requests: usize,
    bad_signatures: usize,
    secret: Option<Vec<u8>>,
    flaky: Flaky,
}

/// A running receiver (stops with the test process).
#[derive(Clone)]
pub struct Receiver {
    shared: Arc<Mutex<Shared>>,
    pub url: String,
}

fn verify(key: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let signed = format!("{}.{}.", get("webhook-id"), get("webhook-timestamp"));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(signed.as_bytes());
    mac.update(body);
    let want = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    get("webhook-signature").split(' ').any(|s| s == want)
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let (flaky, secret, n) = {
        let mut s = r.shared.lock().unwrap();
        s.requests += 1;
        (s.flaky, s.secret.clone(), s.requests - 1)
    };
    let every = |k: usize, offset: usize| k > 0 && n % k == offset % k;
    if every(flaky.hang_every, flaky.hang_every.saturating_sub(1)) {
        tokio::time::sleep(Duration::from_secs(8)).await;
        r.shared.lock().unwrap().refused += 1;
        return StatusCode::OK; // too late: the sender gave up
    }
    if every(flaky.fail_every, 0) {
        r.shared.lock().unwrap().refused += 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let mut s = r.shared.lock().unwrap();
    if let Some(key) = &secret
        && !verify(key, &headers, &body)
    {
        s.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).expect("deliveries are JSON")
    };
    s.accepted.push(Accepted { headers, body });
    StatusCode::OK
}

impl Receiver {
    pub fn start() -> Receiver {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sh = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}/hook", listener.local_addr().unwrap());
                let r = Receiver { shared: sh, url };
                tx.send(r.clone()).unwrap();
                let app = axum::Router::new()
                    .route("/hook", axum::routing::post(hook))
                    .with_state(r);
                axum::serve(listener, app).await.unwrap();
            });
        });
        rx.recv().unwrap()
    }

    /// Checks every signature against `secret` (`whsec_…`) from now on.
    pub fn expect_secret(&self, secret: &str) {
        let key = B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        self.shared.lock().unwrap().secret = Some(key);
    }

    pub fn set_flaky(&self, flaky: Flaky) {
        self.shared.lock().unwrap().flaky = flaky;
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.shared.lock().unwrap().accepted.clone()
    }

    /// (requests failed on purpose, signatures that did not verify).
    pub fn failures(&self) -> (usize, usize) {
        let s = self.shared.lock().unwrap();
        (s.refused, s.bad_signatures)
    }
}
