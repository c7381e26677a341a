//! `authtrail query`: prints matching activities as NDJSON, newest first.

use anyhow::anyhow;

use crate::client::{Target, TargetArgs, explain};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: TargetArgs,
    /// Application (login, logto, admin, or one of your own).
    #[arg(long)]
    application: Option<String>,
    /// Event name(s), comma-separated; any spelling in the catalogue.
    #[arg(long)]
    event: Option<String>,
    /// Actor e-mail (case-insensitive) or profile id.
    #[arg(long)]
    actor: Option<String>,
    #[arg(long)]
    ip: Option<String>,
    /// success or failure.
    #[arg(long)]
    result: Option<String>,
    #[arg(long)]
    session_id: Option<String>,
    /// RFC 3339 start (inclusive).
    #[arg(long)]
    start: Option<String>,
    /// RFC 3339 end (exclusive).
    #[arg(long)]
    end: Option<String>,
    /// Google `filters` syntax, e.g. is_suspicious==true,login_type<>saml.
    #[arg(long)]
    filters: Option<String>,
    /// How many activities to print at most.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let target = args.target.open().await?;
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("application", &args.application),
        ("eventName", &args.event),
        ("actor", &args.actor),
        ("ip", &args.ip),
        ("result", &args.result),
        ("sessionId", &args.session_id),
        ("startTime", &args.start),
        ("endTime", &args.end),
        ("filters", &args.filters),
    ] {
        if let Some(v) = v {
            pairs.push((k, v.clone()));
        }
    }
    let mut printed = 0;
    let mut cursor: Option<String> = None;
    while printed < args.limit {
        let mut q = form_query(&pairs);
        q.append_pair("limit", &(args.limit - printed).min(1000).to_string());
        if let Some(c) = &cursor {
            q.append_pair("cursor", c);
        }
        let raw = q.finish();
        let (items, next) = match &target {
            Target::Remote { http, url, token } => {
                let resp = http
                    .get(format!("{url}/v1/activities?{raw}"))
                    .bearer_auth(token)
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    return Err(explain(resp).await);
                }
                let body: serde_json::Value = resp.json().await?;
                (
                    body["items"].as_array().cloned().unwrap_or_default(),
                    body["nextCursor"].as_str().map(String::from),
                )
            }
            Target::Local { state, tenant } => {
                let page = authtrail_server::native::list(state, tenant, Some(&raw))
                    .await
                    .map_err(|e| anyhow!("{}", e.message()))?;
                (page.items, page.next_cursor)
            }
        };
        for item in &items {
            println!("{}", serde_json::to_string(item)?);
            printed += 1;
        }
        match next {
            // A page may be short (even empty) when parameter filters hit the scan budget; the
            // cursor still moves forward, so following it always ends.
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(())
}

fn form_query(pairs: &[(&str, String)]) -> form_urlencoded::Serializer<'static, String> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s
}
