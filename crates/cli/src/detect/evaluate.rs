//! `authtrail detect evaluate`: replays labelled traffic (`authtrail_workload::labelled`)
//! through a real store and the detectors, and reports per attack type the detection rate,
//! the false positives, and the per-user challenge rate against the history length, as the
//! Markdown tables of docs/detection.md.
//!
//! The traffic is ingested through the service into a temporary SQLite store (validation,
//! append, fsync: the real ingest path) and read back with `tail`, as the detection job reads
//! it; the CPU time of each half is measured in the same run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use authtrail_catalog::Catalog;
use authtrail_detect::geo::{Place, Table};
use authtrail_detect::{Classifier, Detector, Finding, FindingKind, Geo, Kind, Thresholds};
use authtrail_model::{Activity, Clock, Store, SystemClock, Tenant};
use authtrail_service::{Service, Source};
use authtrail_workload::labelled::{Attack, Traffic, places};
use authtrail_workload::rba::RbaLabel;

/// The end of the generated traffic (2026-01-01T00:00Z): fixed, so that a seed always gives
/// the same table.
const END_US: i64 = 1_767_225_600_000_000;

#[derive(clap::Args)]
pub struct Args {
    /// The seed of the traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Ordinary users.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Days of traffic.
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// Attack episodes of each kind.
    #[arg(long, default_value_t = 40)]
    pub episodes: u32,
    /// Run without the IP table: no country, ASN or velocity features (as a server without
    /// --geoip-db).
    #[arg(long)]
    pub no_geo: bool,
    /// Replay this CSV, in the RBA dataset's column layout (Wiefling et al., ACM TOPS 2022),
    /// instead of the generated traffic; its Country and ASN columns place the addresses.
    #[arg(long)]
    pub rba_csv: Option<std::path::PathBuf>,
    /// Most rows of --rba-csv to replay.
    #[arg(long, default_value_t = 1_000_000)]
    pub rba_limit: usize,
}

/// A label: the attack's name and its episode.
type Label = (&'static str, u32);

const RBA_TAKEOVER: &str = "account takeover (RBA dataset)";
const RBA_ATTACK_IP: &str = "attack IP (RBA dataset)";

/// Exact addresses placed by the RBA dataset's own columns.
struct Exact(HashMap<std::net::IpAddr, Place>);

impl Geo for Exact {
    fn lookup(&self, ip: std::net::IpAddr) -> Option<Place> {
        self.0.get(&ip).cloned()
    }
}

/// The traffic to replay: producer items, the label of each by eventId, the attack names in
/// report order, and what places its addresses.
struct Input {
    items: Vec<serde_json::Value>,
    labels: HashMap<String, Label>,
    order: Vec<&'static str>,
    geo: Arc<dyn Geo>,
    describe: String,
}

fn generated(args: &Args) -> Input {
    let traffic = Traffic::generate(args.seed, args.users, args.days, args.episodes, END_US);
    let labels = traffic
        .iter()
        .filter_map(|l| {
            let id = l.item["eventId"].as_str()?.to_string();
            l.attack.map(|(a, e)| (id, (a.name(), e)))
        })
        .collect();
    let mut t = Table::new();
    for (cidr, country, asn, lat, lon) in places() {
        t = t.with(
            &cidr,
            Place {
                country: Some(country.into()),
                asn: Some(asn),
                location: Some((lat, lon)),
            },
        );
    }
    Input {
        items: traffic.into_iter().map(|l| l.item).collect(),
        labels,
        order: Attack::ALL.iter().map(|a| a.name()).collect(),
        geo: Arc::new(t),
        describe: format!(
            "generated traffic: seed {}, {} users, {} days, {} episodes of each attack",
            args.seed, args.users, args.days, args.episodes
        ),
    }
}

fn rba(path: &std::path::Path, limit: usize) -> anyhow::Result<Input> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let rows = authtrail_workload::rba::read(&text, limit)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut labels = HashMap::new();
    let mut places = HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for (n, r) in rows.into_iter().enumerate() {
        if let (Some(ip), true) = (r.ip, r.country.is_some() || r.asn.is_some()) {
            places.insert(
                ip,
                Place {
                    country: r.country,
                    asn: r.asn,
                    location: None,
                },
            );
        }
        if let (Some(l), Some(id)) = (r.label, r.item["eventId"].as_str()) {
            let name = match l {
                RbaLabel::AccountTakeover => RBA_TAKEOVER,
                RbaLabel::AttackIp => RBA_ATTACK_IP,
            };
            labels.insert(id.to_string(), (name, n as u32));
        }
        items.push(r.item);
    }
    // The dataset is in time order per file, but not necessarily across users: stores take it
    // as it comes, and the detectors judge on event time.
    Ok(Input {
        items,
        labels,
        order: vec![RBA_TAKEOVER, RBA_ATTACK_IP],
        geo: Arc::new(Exact(places)),
        describe: format!("{} (first {limit} rows)", path.display()),
    })
}

/// CPU time of this process so far (user + system, every thread), in seconds. Linux's
/// /proc/self/stat counts it in clock ticks of 1/100 s.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after its ')'.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (tick(11) + tick(12)) / 100.0
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let input = match &args.rba_csv {
        Some(p) => rba(p, args.rba_limit)?,
        None => generated(&args),
    };
    let items = input.items;
    eprintln!("{} activities, ingesting…", items.len());

    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn Store> = Arc::new(authtrail_store_sqlite::SqliteStore::open(
        dir.path(),
        clock.clone(),
    )?);
    let catalog = Arc::new(Catalog::builtin()?);
    // A throw-away store: a throw-away sealing key.
    let sealing = authtrail_service::sealing::SealingKey::new(rand::random());
    let service = Service::open(store.clone(), catalog.clone(), clock, sealing).await?;
    let tenant = Tenant::new("Ceval").map_err(anyhow::Error::msg)?;
    let cpu0 = cpu_s();
    for chunk in items.chunks(1000) {
        let batch = service
            .validate(&tenant, Source::Cli, chunk)
            .map_err(|e| anyhow::anyhow!("invalid labelled traffic: {}", e.explain()))?;
        service
            .ingest(
                &tenant,
                Source::Cli,
                batch,
                authtrail_model::Stopwatch::start(),
            )
            .await?;
    }
    let ingest_cpu = cpu_s() - cpu0;
    let mut activities = Vec::with_capacity(items.len());
    let mut after = 0;
    loop {
        let chunk = store.tail(&tenant, after, 5000).await?;
        let Some(last) = chunk.last() else { break };
        after = last.unique_qualifier;
        activities.extend(chunk);
    }

    let geo: Option<Arc<dyn Geo>> = (!args.no_geo).then_some(input.geo);
    let truth = Truth::new(&activities, &input.labels, &catalog);
    let defaults = Thresholds::default();
    let cpu0 = cpu_s();
    let findings = detect(&activities, &catalog, defaults.clone(), geo.clone());
    let detect_cpu = cpu_s() - cpu0;
    let mut out = String::new();
    writeln!(
        out,
        "Traffic: {}; {} activities ({} labelled attack events in {} episodes), IP table {}.\n",
        input.describe,
        activities.len(),
        truth.label.len(),
        truth.episodes.len(),
        if geo.is_some() { "on" } else { "off" },
    )?;
    report(&mut out, &truth, &findings, &input.order);
    writeln!(
        out,
        "\n| `risky_sign_in_score` | legitimate sign-ins challenged | per-user challenge rate | attacker sign-ins challenged | targeted attackers challenged |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    // The score thresholds, then the default without rarity (`rare_network`, `rare_asn`): what
    // that feature adds.
    let mut variants: Vec<(String, Thresholds)> = [25, 35, 45, 60]
        .into_iter()
        .map(|score| {
            let label = if score == defaults.risky_sign_in_score {
                format!("{score} (default)")
            } else {
                score.to_string()
            };
            let t = Thresholds {
                risky_sign_in_score: score,
                ..defaults.clone()
            };
            (label, t)
        })
        .collect();
    variants.push((
        format!(
            "{}, without rarity (`rare_sign_ins = 0`)",
            defaults.risky_sign_in_score
        ),
        Thresholds {
            rare_sign_ins: 0,
            ..defaults.clone()
        },
    ));
    for (label, t) in variants {
        let f = detect(&activities, &catalog, t, geo.clone());
        let c = truth.challenges(&f);
        writeln!(
            out,
            "| {label} | {} | {} | {} | {} |",
            pct(c.legit_flagged, c.legit),
            pct_f(c.per_user),
            pct(c.ato_flagged, c.ato),
            pct(c.targeted_flagged, c.targeted),
        )?;
    }
    writeln!(
        out,
        "\nCPU: ingest (validation, append, fsync) {ingest_cpu:.2} s; detection {detect_cpu:.2} s ({:.1} % of ingest; {:.0} activities/s).",
        100.0 * detect_cpu / ingest_cpu.max(0.01),
        activities.len() as f64 / detect_cpu.max(0.01)
    )?;
    print!("{out}");
    Ok(())
}

fn detect(
    activities: &[Activity],
    catalog: &Arc<Catalog>,
    t: Thresholds,
    geo: Option<Arc<dyn Geo>>,
) -> Vec<Finding> {
    let mut classifier = Classifier::new(catalog.clone());
    let mut d = Detector::new(t, geo);
    let mut out = Vec::new();
    for a in activities {
        if let Some(s) = classifier.signal(a) {
            out.extend(d.observe(&s).findings);
        }
    }
    out
}

fn pct(n: usize, of: usize) -> String {
    if of == 0 {
        return "–".into();
    }
    format!("{:.1} % ({n}/{of})", 100.0 * n as f64 / of as f64)
}

fn pct_f(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{:.1} %", 100.0 * x))
}

/// What the labels say about the stored traffic.
struct Truth {
    label: HashMap<i64, Label>,
    episodes: BTreeMap<Label, Vec<i64>>,
    /// Successful sign-ins: (seq, account, attack, earlier own successes of the account).
    sign_ins: Vec<(i64, String, Option<&'static str>, usize)>,
}

impl Truth {
    fn new(
        activities: &[Activity],
        labels: &HashMap<String, Label>,
        catalog: &Arc<Catalog>,
    ) -> Truth {
        let mut classifier = Classifier::new(catalog.clone());
        let mut label = HashMap::new();
        let mut episodes: BTreeMap<Label, Vec<i64>> = BTreeMap::new();
        let mut history: HashMap<String, usize> = HashMap::new();
        let mut sign_ins = Vec::new();
        for a in activities {
            let l = a
                .body
                .event_id
                .as_ref()
                .and_then(|id| labels.get(id).copied());
            if let Some(l) = l {
                label.insert(a.unique_qualifier, l);
                episodes.entry(l).or_default().push(a.unique_qualifier);
            }
            if let Some(s) = classifier.signal(a)
                && s.kind == (Kind::Attempt { success: true })
                && let Some(acc) = s.account
            {
                let h = history.entry(acc.clone()).or_default();
                sign_ins.push((a.unique_qualifier, acc, l.map(|l| l.0), *h));
                if l.is_none() {
                    *h += 1;
                }
            }
        }
        Truth {
            label,
            episodes,
            sign_ins,
        }
    }

    fn challenges(&self, findings: &[Finding]) -> Challenges {
        let flagged = flagged_sign_ins(findings);
        let mut c = Challenges::default();
        let mut per_user: HashMap<&str, (usize, usize)> = HashMap::new();
        for (seq, acc, attack, _) in &self.sign_ins {
            let hit = flagged.contains(seq);
            match attack {
                None => {
                    c.legit += 1;
                    c.legit_flagged += usize::from(hit);
                    let e = per_user.entry(acc).or_default();
                    e.0 += 1;
                    e.1 += usize::from(hit);
                }
                Some(a) => {
                    c.ato += 1;
                    c.ato_flagged += usize::from(hit);
                    if *a == Attack::Targeted.name() {
                        c.targeted += 1;
                        c.targeted_flagged += usize::from(hit);
                    }
                }
            }
        }
        c.per_user = mean(per_user.values().map(|(n, f)| *f as f64 / *n as f64));
        c
    }
}

#[derive(Default)]
struct Challenges {
    legit: usize,
    legit_flagged: usize,
    per_user: Option<f64>,
    ato: usize,
    ato_flagged: usize,
    targeted: usize,
    targeted_flagged: usize,
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, sum) = xs.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    (n > 0).then(|| sum / n as f64)
}

/// The sign-ins a finding is about (risky sign-ins and impossible journeys name theirs in
/// their key): the ones an RBA system would challenge.
fn flagged_sign_ins(findings: &[Finding]) -> BTreeSet<i64> {
    findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::RiskySignIn | FindingKind::ImpossibleTravel
            )
        })
        .filter_map(|f| f.key.rsplit(':').next()?.parse().ok())
        .collect()
}

fn report(out: &mut String, truth: &Truth, findings: &[Finding], order: &[&'static str]) {
    let flagged = flagged_sign_ins(findings);
    // Which episodes each finding is evidence of; findings about no attack are false positives.
    let mut detected: BTreeMap<Label, BTreeSet<FindingKind>> = BTreeMap::new();
    let mut example: BTreeMap<&str, String> = BTreeMap::new();
    let mut false_pos: BTreeMap<FindingKind, usize> = BTreeMap::new();
    for f in findings {
        // A risky sign-in is about its own sign-in; an impossible journey about either end (the
        // owner's next sign-in after an attacker's far away is the same incident).
        let about: Vec<Label> = match f.kind {
            FindingKind::RiskySignIn => f
                .key
                .rsplit(':')
                .next()
                .and_then(|s| s.parse::<i64>().ok())
                .and_then(|s| truth.label.get(&s).copied())
                .into_iter()
                .collect(),
            _ => f
                .sequences
                .iter()
                .filter_map(|s| truth.label.get(s).copied())
                .collect(),
        };
        if about.is_empty() {
            *false_pos.entry(f.kind).or_default() += 1;
        }
        for ep in about {
            detected.entry(ep).or_default().insert(f.kind);
            example
                .entry(ep.0)
                .or_insert_with(|| format!("`{}`: {}", f.kind.event(), f.reasons.join("; ")));
        }
    }
    let _ = writeln!(
        out,
        "| attack | episodes | detected | rate | by | example reasons |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for &kind in order {
        let eps: Vec<_> = truth.episodes.keys().filter(|e| e.0 == kind).collect();
        let hits: Vec<_> = eps.iter().filter(|e| detected.contains_key(e)).collect();
        let by: BTreeSet<&str> = hits
            .iter()
            .flat_map(|e| detected[e].iter().map(|k| k.event()))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            kind,
            eps.len(),
            hits.len(),
            pct(hits.len(), eps.len()),
            by.into_iter().collect::<Vec<_>>().join(", "),
            example.get(&kind).map_or("–", String::as_str),
        );
    }
    let legit: Vec<_> = truth.sign_ins.iter().filter(|s| s.2.is_none()).collect();
    let legit_flagged = legit.iter().filter(|s| flagged.contains(&s.0)).count();
    let _ = writeln!(
        out,
        "\nLegitimate sign-ins flagged: {}. Findings about no attack: {}.",
        pct(legit_flagged, legit.len()),
        if false_pos.is_empty() {
            "none".to_string()
        } else {
            false_pos
                .iter()
                .map(|(k, n)| format!("{n} `{}`", k.event()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = writeln!(
        out,
        "\n| account's earlier sign-ins | legitimate sign-ins | challenged | per-user challenge rate |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (lo, hi) in [(0, 4), (5, 9), (10, 38), (39, usize::MAX)] {
        let rows: Vec<_> = legit.iter().filter(|s| (lo..=hi).contains(&s.3)).collect();
        let mut per_user: HashMap<&str, (usize, usize)> = HashMap::new();
        for s in &rows {
            let e = per_user.entry(&s.1).or_default();
            e.0 += 1;
            e.1 += usize::from(flagged.contains(&s.0));
        }
        let n_flagged = rows.iter().filter(|s| flagged.contains(&s.0)).count();
        let range = if hi == usize::MAX {
            format!("{lo}+")
        } else {
            format!("{lo}–{hi}")
        };
        let _ = writeln!(
            out,
            "| {range} | {} | {n_flagged} | {} |",
            rows.len(),
            pct_f(mean(per_user.values().map(|(n, f)| *f as f64 / *n as f64)))
        );
    }
}
