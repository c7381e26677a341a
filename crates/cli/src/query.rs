//! `authtrail query`: prints matching activities as NDJSON, newest first. Over HTTP (`--url`) it
//! pages through `GET /v1/activities`; on a store it builds the [`ActivityQuery`] and pages
//! through the service. `--format` picks the form of each line: the native API's (default),
//! Google's, or OCSF records (one line per event, for a SIEM or `tests/ocsf/run.sh`).

use anyhow::anyhow;
use authtrail_catalog::Catalog;
use authtrail_formats::google::{Precision, ToWire};
use authtrail_model::wire_time::parse_rfc3339;
use authtrail_model::{Activity, ActivityQuery, ActorFilter, Outcome};
use authtrail_service::query::{application, parse_filters, resolve_events};
use authtrail_service::{Service, ServiceError};

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
    /// The form of each line: native (the native API's JSON, times in microseconds), google
    /// (Google's Reports API activity, times in milliseconds) or ocsf (OCSF 1.8.0 records, one
    /// line per event; see docs/ocsf.md). google and ocsf read a store, not --url.
    #[arg(long, value_enum, default_value_t = Format::Native)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Native,
    Google,
    Ocsf,
}

/// The lines one activity prints as.
fn lines(a: &Activity, format: Format, catalog: &Catalog) -> anyhow::Result<Vec<String>> {
    Ok(match format {
        Format::Native => vec![serde_json::to_string(&a.to_wire(Precision::Micros))?],
        Format::Google => vec![serde_json::to_string(&a.to_wire(Precision::Millis))?],
        Format::Ocsf => authtrail_formats::ocsf::to_ocsf(a, catalog)
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<_, _>>()?,
    })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.target.open().await? {
        Target::Remote { http, url, token } => remote(&args, &http, &url, &token).await,
        Target::Local { service, tenant } => {
            let mut q = query_from(&service, &args).map_err(|e| anyhow!(e.explain()))?;
            let mut printed = 0;
            while printed < args.limit {
                q.limit = (args.limit - printed).min(authtrail_model::query::MAX_PAGE);
                let page = service.list(&tenant, &q).await?;
                for a in &page.items {
                    for line in lines(a, args.format, service.catalog())? {
                        println!("{line}");
                    }
                    printed += 1;
                }
                // A page may be short (even empty) when parameter filters hit the scan budget;
                // the position still moves forward, so following it always ends.
                match page.next {
                    Some(p) => q.after = Some(p),
                    None => break,
                }
            }
            Ok(())
        }
    }
}

/// The query the flags describe, each problem naming its flag.
fn query_from(service: &Service, args: &Args) -> Result<ActivityQuery, ServiceError> {
    let catalog = service.catalog();
    let app = args
        .application
        .as_deref()
        .map(|a| application(catalog, a, "--application"))
        .transpose()?;
    let events = match &args.event {
        Some(e) => resolve_events(catalog, app.as_deref(), e, "--event")?,
        None => Default::default(),
    };
    let event_names = events.names;
    let mut filters = events.filters;
    if let Some(f) = &args.filters {
        filters.extend(parse_filters(
            catalog,
            app.as_deref(),
            &event_names,
            f,
            "--filters",
        )?);
    }
    let time = |v: &Option<String>, flag: &str| {
        v.as_deref()
            .map(|t| parse_rfc3339(t).map_err(|m| ServiceError::field(flag, m)))
            .transpose()
    };
    let (start_us, end_us) = (time(&args.start, "--start")?, time(&args.end, "--end")?);
    if let (Some(s), Some(e)) = (start_us, end_us)
        && s >= e
    {
        return Err(ServiceError::field("--start", "must be before --end"));
    }
    Ok(ActivityQuery {
        application: app,
        event_names,
        actor: args.actor.as_deref().map(ActorFilter::from_key),
        ip: args
            .ip
            .as_deref()
            .map(|ip| {
                ip.parse().map_err(|_| {
                    ServiceError::field("--ip", format!("{ip:?} is not an IPv4 or IPv6 address"))
                })
            })
            .transpose()?,
        result: args
            .result
            .as_deref()
            .map(|r| {
                Outcome::parse(r).ok_or_else(|| {
                    ServiceError::field("--result", format!("{r:?} must be success or failure"))
                })
            })
            .transpose()?,
        session_id: args.session_id.clone(),
        start_us,
        end_us,
        filters,
        ..ActivityQuery::default()
    })
}

/// Pages through `GET /v1/activities` of a server.
async fn remote(args: &Args, http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<()> {
    // The server answers in the native form only; rebuilding activities from it would be a
    // second, lossy parser. The other forms are made from the store's own activities.
    if args.format != Format::Native {
        return Err(anyhow!(
            "--format: google and ocsf read a store (--data or --store); over --url use native"
        ));
    }
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
        let resp = http
            .get(format!("{url}/v1/activities?{}", q.finish()))
            .bearer_auth(token)
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(explain(resp).await);
        }
        let body: serde_json::Value = resp.json().await?;
        for item in body["items"].as_array().into_iter().flatten() {
            println!("{}", serde_json::to_string(item)?);
            printed += 1;
        }
        match body["nextCursor"].as_str() {
            // A page may be short (even empty) when parameter filters hit the scan budget; the
            // cursor still moves forward, so following it always ends.
            Some(c) => cursor = Some(c.to_string()),
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
