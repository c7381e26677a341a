//! The HTTP sinks: Standard Webhooks batches, and Google watch-channel notifications.

use authtrail_service::subscriptions::definition::Channel;
use authtrail_service::subscriptions::signing::signature_header;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::payload::Coverage;

/// Most of a response body read (only its status matters; reading a little lets the
/// connection be reused, and a hostile receiver cannot make us buffer more).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Sends `body` to `url` and reads at most [`MAX_RESPONSE_BYTES`] of the answer. Success is a
/// 2xx status; anything else (a redirect included: they are not followed) is a failure whose
/// message names the status.
async fn post(request: reqwest::RequestBuilder) -> Result<(), String> {
    let resp = request.send().await.map_err(describe)?;
    let status = resp.status();
    let mut resp = resp;
    let mut read = 0;
    while let Ok(Some(chunk)) = resp.chunk().await {
        read += chunk.len();
        if read >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    if status.is_success() {
        Ok(())
    } else if status.is_redirection() {
        Err(format!("answered {status}; redirects are not followed"))
    } else {
        Err(format!("answered {status}"))
    }
}

/// An error as an operator should read it: what failed, without the URL's query (which may
/// carry a receiver's own token).
fn describe(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    if cause.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {cause}")
    }
}

/// One signed webhook delivery, signed at `ts` (Unix seconds). Its `webhook-id` is the same on
/// every retry of the same range (receivers de-duplicate on it).
pub async fn webhook(
    client: &reqwest::Client,
    url: &str,
    subscription: &str,
    keys: &[Vec<u8>],
    coverage: Coverage,
    body: Vec<u8>,
    ts: i64,
) -> Result<(), String> {
    let id = format!("msg_{subscription}_{}_{}", coverage.previous, coverage.last);
    let signature = signature_header(keys, &id, ts, &body);
    post(
        client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .header("authtrail-sequence-previous", coverage.previous.to_string())
            .header("authtrail-sequence-last", coverage.last.to_string())
            .body(body),
    )
    .await
}

/// One notification of a Google watch channel (`google-reports-api.md` §3.2). `item` is `None`
/// for the `sync` message.
pub async fn channel(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    ch: &Channel,
    item: Option<(&str, Coverage, &[u8])>,
) -> Result<(), String> {
    let (state, number) = match item {
        None => ("sync".to_string(), 1),
        // Increasing and never 1 again; sequence + 1 keeps it tied to the activity.
        Some((event, cov, _)) => (event.to_string(), cov.last + 1),
    };
    let expiration = OffsetDateTime::from_unix_timestamp(ch.expiration_ms / 1000)
        .ok()
        .and_then(|t| t.format(&Rfc2822).ok())
        .map(|s| s.replace("+0000", "GMT"));
    let mut req = client
        .post(url)
        .header("User-Agent", "APIs-Google (authtrail)")
        .header("X-Goog-Channel-ID", id)
        .header("X-Goog-Message-Number", number.to_string())
        .header("X-Goog-Resource-ID", &ch.resource_id)
        .header("X-Goog-Resource-State", state)
        .header("X-Goog-Resource-URI", &ch.resource_uri);
    if let Some(e) = expiration {
        req = req.header("X-Goog-Channel-Expiration", e);
    }
    if let Some(t) = &ch.token
        && let Ok(v) = HeaderValue::from_str(t)
    {
        req = req.header("X-Goog-Channel-Token", v);
    }
    match item {
        None => req = req.header(reqwest::header::CONTENT_LENGTH, "0"),
        Some((_, cov, activity)) => {
            req = req
                .header(CONTENT_TYPE, "application/json; charset=UTF-8")
                .header("X-Authtrail-Sequence-Previous", cov.previous.to_string())
                .body(activity.to_vec());
        }
    }
    post(req).await
}
