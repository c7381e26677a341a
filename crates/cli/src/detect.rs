//! The detection job (`authtrail serve --detect`): feeds every tenant's commit stream to its
//! detectors (`authtrail_detect`) and stores what they find as `detection` activities
//! (`Service::record_findings`) and every sign-in's score (`Service::record_sign_in_scores`),
//! and `authtrail detect evaluate`, which measures the detectors on labelled traffic
//! (docs/detection.md).
//!
//! State is rebuilt at start by replaying, without reporting, a bounded look-back of each
//! tenant's trail before its cursor (the last sequence number scanned, kept in the store); the
//! rest is judged live. Every node may run the job: findings carry an eventId derived from what
//! they found, so a second node's copy is a duplicate and is stored once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;

use authtrail_detect::{Classifier, DetectConfig, Detector, Geo};
use authtrail_jobs::CancellationToken;
use authtrail_model::store::CommitWatch;
use authtrail_model::{ActivityQuery, Tenant};
use authtrail_service::Service;

/// Activities read per `tail`.
const CHUNK: usize = 1000;

pub mod evaluate;

/// `authtrail detect …`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Replay labelled traffic (ordinary users and attacks of every kind) through a temporary
    /// store and the detectors; print the detection rates, false positives and challenge rates
    /// as Markdown (docs/detection.md).
    Evaluate(evaluate::Args),
    /// Look addresses up in IP databases as the detectors would (to check a --geoip-db file).
    Lookup {
        /// .mmdb files, comma-separated, as for serve --geoip-db.
        #[arg(long, value_delimiter = ',', required = true)]
        geoip_db: Vec<std::path::PathBuf>,
        /// Addresses to look up.
        #[arg(required = true)]
        ips: Vec<std::net::IpAddr>,
    },
}

pub async fn command(c: Command) -> anyhow::Result<()> {
    match c {
        Command::Evaluate(a) => evaluate::run(a).await,
        Command::Lookup { geoip_db, ips } => {
            let geo =
                authtrail_detect::geo::MaxMind::open(&geoip_db).map_err(anyhow::Error::msg)?;
            for ip in ips {
                let p = geo.lookup(ip).unwrap_or_default();
                let line = serde_json::json!({
                    "ip": ip.to_string(),
                    "country": p.country,
                    "asn": p.asn,
                    "location": p.location.map(|(lat, lon)| [lat, lon]),
                });
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// What the detection job needs besides the node's state.
#[derive(Clone)]
pub struct Settings {
    pub config: Arc<DetectConfig>,
    pub geo: Option<Arc<dyn Geo>>,
    /// How many activities before a tenant's cursor are replayed at start to rebuild its
    /// state (and, for a tenant never scanned, how many of its newest are judged).
    pub lookback: i64,
}

/// Activities before a tenant's cursor replayed at start.
pub const LOOKBACK: i64 = 200_000;

impl Settings {
    /// The settings `serve` was given: the thresholds file and the IP database, each read now
    /// so that a mistake in either stops the start with the file named.
    pub fn load(cfg: &authtrail_config::ServerConfig) -> anyhow::Result<Settings> {
        let config = match &cfg.detect_config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read detect_config {}", p.display()))?;
                DetectConfig::parse(&text)
                    .map_err(|e| anyhow::anyhow!("detect_config {}: {e}", p.display()))?
            }
            None => DetectConfig::default(),
        };
        let geo: Option<Arc<dyn Geo>> = if cfg.geoip_db.is_empty() {
            None
        } else {
            Some(Arc::new(
                authtrail_detect::geo::MaxMind::open(&cfg.geoip_db).map_err(anyhow::Error::msg)?,
            ))
        };
        Ok(Settings {
            config: Arc::new(config),
            geo,
            lookback: LOOKBACK,
        })
    }
}

/// One tenant's detectors and how far they have read.
struct Tenant1 {
    detector: Detector,
    scanned: i64,
    watch: CommitWatch,
}

/// The job: runs until `cancel`; a store error fails it, and the host restarts it (rebuilding
/// the state from the store).
pub async fn run(
    service: Service,
    settings: Settings,
    metrics: Arc<authtrail_server::metrics::Metrics>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let store = service.store().clone();
    let mut classifier = Classifier::new(service.catalog().clone());
    // Subscribed before the first look, so that no commit falls between the look and the wait.
    let mut all = store.subscribe_all();
    let mut tenants: HashMap<Tenant, Tenant1> = HashMap::new();
    let mut behind: HashSet<Tenant> = HashSet::new();
    loop {
        for tenant in store.tenants().await? {
            let news = match tenants.get_mut(&tenant) {
                None => {
                    let t = rebuild(&service, &settings, &mut classifier, &tenant).await?;
                    tenants.insert(tenant.clone(), t);
                    true
                }
                Some(t) => {
                    let news = t.watch.has_changed();
                    if news {
                        t.watch.changed().await;
                    }
                    news
                }
            };
            if !news && !behind.contains(&tenant) {
                continue;
            }
            behind.remove(&tenant);
            let t = tenants.get_mut(&tenant).expect("inserted above");
            if scan(&service, &mut classifier, &tenant, t, &metrics).await? {
                behind.insert(tenant);
            }
            if cancel.is_cancelled() {
                return Ok(());
            }
        }
        if !behind.is_empty() {
            continue;
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            woke = all.changed() => if woke.is_none() { return Ok(()) },
        }
    }
}

/// A tenant's detectors, their state rebuilt from the look-back before its cursor.
async fn rebuild(
    service: &Service,
    settings: &Settings,
    classifier: &mut Classifier,
    tenant: &Tenant,
) -> anyhow::Result<Tenant1> {
    let store = service.store();
    let watch = store.subscribe(tenant);
    let thresholds = settings.config.for_tenant(tenant.as_str()).clone();
    let mut detector = Detector::new(thresholds, settings.geo.clone());
    let cursor = service.detection_cursor(tenant).await?;
    let scanned = match cursor {
        Some(c) => {
            // Replayed for state only: what they completed was reported before the cursor
            // was saved.
            let mut at = (c - settings.lookback).max(0);
            while at < c {
                let chunk = store.tail(tenant, at, CHUNK).await?;
                let Some(last) = chunk.last() else { break };
                at = last.unique_qualifier;
                for a in chunk.iter().filter(|a| a.unique_qualifier <= c) {
                    if let Some(s) = classifier.signal(a) {
                        // Its score and findings were stored before the cursor moved.
                        let _ = detector.observe(&s);
                    }
                }
            }
            c
        }
        // Never scanned: judge the newest `lookback` activities (older ones are history the
        // detector was not running for).
        None => {
            let newest = store
                .list(
                    tenant,
                    &ActivityQuery {
                        limit: 1,
                        ..ActivityQuery::default()
                    },
                )
                .await?;
            newest
                .items
                .first()
                .map_or(0, |a| (a.unique_qualifier - settings.lookback).max(0))
        }
    };
    tracing::debug!(%tenant, scanned, "detector state rebuilt");
    Ok(Tenant1 {
        detector,
        scanned,
        watch,
    })
}

/// Judges the tenant's next chunk, stores its sign-ins' scores and its findings, then moves the
/// cursor on. Says whether more is waiting.
async fn scan(
    service: &Service,
    classifier: &mut Classifier,
    tenant: &Tenant,
    t: &mut Tenant1,
    metrics: &authtrail_server::metrics::Metrics,
) -> anyhow::Result<bool> {
    let chunk = service.store().tail(tenant, t.scanned, CHUNK).await?;
    let Some(last) = chunk.last().map(|a| a.unique_qualifier) else {
        return Ok(false);
    };
    let (mut findings, mut scores) = (Vec::new(), Vec::new());
    for a in &chunk {
        if let Some(s) = classifier.signal(a) {
            let o = t.detector.observe(&s);
            findings.extend(o.findings);
            scores.extend(o.score);
        }
    }
    // Scores, then findings, are stored before the cursor moves: a crash in between rescans,
    // and the rescan's scores and findings are duplicates, stored once.
    service.record_sign_in_scores(tenant, &scores).await?;
    let receipts = service.record_findings(tenant, &findings).await?;
    let mut stored = 0;
    for (f, r) in findings.iter().zip(&receipts) {
        if !r.duplicate {
            stored += 1;
            metrics.detection().stored(f.kind.event(), 1);
        }
    }
    if stored > 0 {
        tracing::info!(%tenant, findings = stored, "detection findings stored");
    }
    service.set_detection_cursor(tenant, last).await?;
    t.scanned = last;
    Ok(chunk.len() == CHUNK)
}
