//! Alerts to chat rooms through incoming webhooks: Slack's JSON (`text` and a `mrkdwn`
//! section; Mattermost and Rocket.Chat read it too) and Google Chat's (`text`). Both are sent
//! through the node's guarded HTTP client, so a rule's webhook is held to the destination
//! policy at every connection, not only when the rule was written.

use authtrail_service::alerts::ChatFormat;
use serde_json::{Value, json};

/// Slack refuses a section longer than this.
const MAX_SECTION: usize = 3000;

pub fn body(format: ChatFormat, chat: &str) -> Value {
    match format {
        ChatFormat::Slack => {
            let section: String = chat.chars().take(MAX_SECTION).collect();
            json!({"text": chat, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": section}}]})
        }
        ChatFormat::Googlechat => json!({"text": chat}),
    }
}

/// Posts the message; `Ok` on a 2xx answer. The error never holds the URL (its path is the
/// chat's secret).
pub async fn send(
    http: &reqwest::Client,
    url: &str,
    format: ChatFormat,
    chat: &str,
) -> Result<(), String> {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let resp = http
        .post(url)
        .json(&body(format, chat))
        .send()
        .await
        .map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            format!("chat webhook at {host}: {what}")
        })?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("chat webhook at {host} answered {status}"))
    }
}
