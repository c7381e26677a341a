//! Each detector on small, hand-made sequences. Times are event times in seconds from an
//! arbitrary origin: nothing here reads a clock or sleeps.

use std::sync::Arc;

use crate::geo::{Place, Table};
use crate::{Detector, Finding, FindingKind, Kind, Observation, Signal, Thresholds};

/// 2026-01-05 09:00 UTC.
const T0: i64 = 1_767_603_600;
const UA: &str = "Mozilla/5.0 (Macintosh) Safari/605";

struct Feed {
    d: Detector,
    seq: i64,
}

impl Feed {
    fn new(t: Thresholds) -> Feed {
        Feed {
            d: Detector::new(t, None),
            seq: 0,
        }
    }

    fn with_geo(t: Thresholds) -> Feed {
        let place = |c: &str, asn: u32, lat: f64, lon: f64| Place {
            country: Some(c.into()),
            asn: Some(asn),
            location: Some((lat, lon)),
        };
        let geo = Table::new()
            .with("203.0.113.0/24", place("TW", 64500, 25.03, 121.56))
            .with("198.51.100.0/24", place("BR", 64501, -23.55, -46.63))
            .with("192.0.2.0/24", place("TW", 64502, 22.63, 120.30));
        Feed {
            d: Detector::new(t, Some(Arc::new(geo))),
            seq: 0,
        }
    }

    /// Feeds one signal at `at` seconds after T0 and returns its findings.
    fn at(&mut self, at: i64, kind: Kind, account: &str, ip: &str, ua: &str) -> Vec<Finding> {
        self.observe(at, kind, account, ip, ua).findings
    }

    /// Feeds one signal and returns all it gives: findings and score.
    fn observe(&mut self, at: i64, kind: Kind, account: &str, ip: &str, ua: &str) -> Observation {
        self.seq += 1;
        self.d.observe(&Signal {
            seq: self.seq,
            time_us: (T0 + at) * 1_000_000,
            kind,
            account: Some(account.into()),
            ip: Some(ip.parse().unwrap()),
            user_agent: Some(ua.into()),
            event: "login_success".into(),
        })
    }

    fn ok(&mut self, at: i64, account: &str, ip: &str) -> Vec<Finding> {
        self.at(at, Kind::Attempt { success: true }, account, ip, UA)
    }

    fn fail(&mut self, at: i64, account: &str, ip: &str) -> Vec<Finding> {
        self.at(at, Kind::Attempt { success: false }, account, ip, UA)
    }

    /// A week of ordinary history: one sign-in a day at 09:00 from home.
    fn history(&mut self, account: &str, ip: &str) {
        for day in -7..0 {
            assert!(self.ok(day * 86_400, account, ip).is_empty());
        }
    }
}

fn kinds(f: &[Finding]) -> Vec<FindingKind> {
    f.iter().map(|f| f.kind).collect()
}

#[test]
fn brute_force_fires_once_at_the_tenth_failure_from_one_ip() {
    let mut f = Feed::new(Thresholds::default());
    for i in 0..9 {
        assert!(f.fail(i * 30, "ada@example.com", "192.0.2.9").is_empty());
    }
    let found = f.fail(270, "ada@example.com", "192.0.2.9");
    assert_eq!(kinds(&found), [FindingKind::BruteForce]);
    let b = &found[0];
    assert_eq!(b.account.as_deref(), Some("ada@example.com"));
    assert_eq!(b.ip, Some("192.0.2.9".parse().unwrap()));
    assert_eq!(b.sequences, (1..=10).collect::<Vec<_>>());
    assert_eq!(b.reasons[0], "failures_account_ip: 10 in 4 min");
    // The eleventh failure is the same burst, not a second finding.
    assert!(f.fail(300, "ada@example.com", "192.0.2.9").is_empty());
}

#[test]
fn failures_spread_over_more_than_the_window_or_ended_by_a_success_are_not_brute_force() {
    let mut f = Feed::new(Thresholds::default());
    for i in 0..12 {
        assert!(f.fail(i * 400, "ada@example.com", "192.0.2.9").is_empty());
    }
    let mut f = Feed::new(Thresholds::default());
    for i in 0..6 {
        f.fail(i, "ada@example.com", "192.0.2.9");
    }
    f.ok(10, "ada@example.com", "192.0.2.9");
    for i in 0..6 {
        assert!(f.fail(20 + i, "ada@example.com", "192.0.2.9").is_empty());
    }
}

#[test]
fn a_late_failure_that_completes_a_burst_is_judged_when_it_happened() {
    let mut f = Feed::new(Thresholds::default());
    for i in 0..9 {
        f.fail(1000 + i * 10, "ada@example.com", "192.0.2.9");
    }
    // Arrives after the others but happened just before them.
    let found = f.fail(990, "ada@example.com", "192.0.2.9");
    assert_eq!(kinds(&found), [FindingKind::BruteForce]);
    // Arrives late and happened days before: no burst.
    let mut f = Feed::new(Thresholds::default());
    for i in 0..9 {
        f.fail(100_000 + i, "ada@example.com", "192.0.2.9");
    }
    assert!(f.fail(0, "ada@example.com", "192.0.2.9").is_empty());
}

#[test]
fn thresholds_are_per_tenant_settings() {
    let mut f = Feed::new(Thresholds {
        brute_force_failures: 3,
        ..Thresholds::default()
    });
    f.fail(0, "ada@example.com", "192.0.2.9");
    f.fail(1, "ada@example.com", "192.0.2.9");
    assert_eq!(
        kinds(&f.fail(2, "ada@example.com", "192.0.2.9")),
        [FindingKind::BruteForce]
    );
}

#[test]
fn password_spray_is_one_ip_on_many_accounts_with_few_tries_each() {
    let mut f = Feed::new(Thresholds::default());
    let mut found = Vec::new();
    for i in 0..10 {
        found.extend(f.fail(i * 20, &format!("user{i}@example.com"), "192.0.2.50"));
    }
    assert_eq!(kinds(&found), [FindingKind::PasswordSpray]);
    assert_eq!(found[0].accounts.len(), 10);
    assert!(
        found[0]
            .reasons
            .contains(&"tries_per_account: 1.0".to_string()),
        "{:?}",
        found[0].reasons
    );
}

#[test]
fn many_tries_on_each_account_is_not_a_spray() {
    let mut f = Feed::new(Thresholds {
        brute_force_failures: 100,
        ..Thresholds::default()
    });
    for i in 0..50 {
        let found = f.fail(i, &format!("user{}@example.com", i / 5), "192.0.2.50");
        assert!(!kinds(&found).contains(&FindingKind::PasswordSpray));
    }
}

#[test]
fn a_hundred_failures_from_one_ip_in_a_day_is_a_burst() {
    let mut f = Feed::new(Thresholds {
        spray_accounts: 1000,
        ..Thresholds::default()
    });
    let mut found = Vec::new();
    for i in 0..100 {
        // Five accounts, twenty tries each, spread over the day: no brute force (one every
        // 1,200 s per account), no spray.
        found.extend(f.fail(i * 800, &format!("user{}@example.com", i % 5), "192.0.2.51"));
    }
    assert_eq!(kinds(&found), [FindingKind::IpFailureBurst]);
    assert!(found[0].reasons[0].starts_with("failures_ip: 100 in"));
}

#[test]
fn credential_stuffing_is_many_ips_on_many_accounts_mostly_failing() {
    let mut f = Feed::new(Thresholds::default());
    // Ordinary users at home keep signing in meanwhile; they do not dilute the failure rate,
    // since only addresses new to the account count.
    for u in 0..5 {
        f.history(&format!("home{u}@example.com"), "203.0.113.1");
    }
    let mut found = Vec::new();
    for i in 0..40 {
        let ip = format!("198.51.100.{}", 10 + i % 8);
        found.extend(f.fail(i * 15, &format!("victim{i}@example.com"), &ip));
        found.extend(f.ok(
            i * 15 + 1,
            &format!("home{}@example.com", i % 5),
            "203.0.113.1",
        ));
    }
    let stuffing: Vec<_> = found
        .iter()
        .filter(|f| f.kind == FindingKind::CredentialStuffing)
        .collect();
    assert_eq!(stuffing.len(), 1, "{found:?}");
    assert!(
        stuffing[0]
            .reasons
            .contains(&"failure_rate: 100%".to_string())
    );
    // A success inside the campaign from one of its addresses is a risky sign-in.
    let hit = f.ok(610, "victim3@example.com", "198.51.100.13");
    assert_eq!(kinds(&hit), [FindingKind::RiskySignIn], "{hit:?}");
    assert!(hit[0].reasons[0].starts_with("ip_in_attack"));
}

#[test]
fn mfa_fatigue_is_repeated_failed_challenges_without_a_success() {
    let mut f = Feed::new(Thresholds::default());
    let mfa = |ok| Kind::Mfa { success: ok };
    for i in 0..4 {
        assert!(
            f.at(i * 60, mfa(false), "ada@example.com", "192.0.2.9", UA)
                .is_empty()
        );
    }
    let found = f.at(240, mfa(false), "ada@example.com", "192.0.2.9", UA);
    assert_eq!(kinds(&found), [FindingKind::MfaFatigue]);
    assert_eq!(found[0].reasons[0], "mfa_failures: 5 in 4 min");
    // A passed challenge resets the count.
    let mut f = Feed::new(Thresholds::default());
    for i in 0..4 {
        f.at(i, mfa(false), "ada@example.com", "192.0.2.9", UA);
    }
    f.at(5, mfa(true), "ada@example.com", "192.0.2.9", UA);
    for i in 0..4 {
        assert!(
            f.at(10 + i, mfa(false), "ada@example.com", "192.0.2.9", UA)
                .is_empty()
        );
    }
}

#[test]
fn impossible_travel_names_the_velocity_and_the_countries() {
    let mut f = Feed::with_geo(Thresholds::default());
    f.history("ada@example.com", "203.0.113.5");
    f.ok(0, "ada@example.com", "203.0.113.5");
    // Two hours later, from São Paulo.
    let found = f.ok(7200, "ada@example.com", "198.51.100.7");
    assert_eq!(
        kinds(&found),
        [FindingKind::ImpossibleTravel, FindingKind::RiskySignIn]
    );
    let travel = &found[0];
    assert!(
        travel.reasons[0].starts_with("velocity_kmh: 94"),
        "{:?}",
        travel.reasons
    );
    assert!(travel.reasons.contains(&"countries: TW→BR".to_string()));
    assert_eq!(travel.sequences, [8, 9]);
    let risky = &found[1];
    assert!(risky.reasons.contains(&"new_country: TW→BR".to_string()));
    assert!(risky.reasons.contains(&"new_asn: AS64501".to_string()));
}

#[test]
fn a_journey_at_airliner_speed_is_not_impossible() {
    let mut f = Feed::with_geo(Thresholds::default());
    f.history("ada@example.com", "203.0.113.5");
    // Taipei → Kaohsiung (300 km) ten minutes later: under the minimum distance. Same country.
    assert!(
        f.ok(600, "ada@example.com", "192.0.2.7")
            .iter()
            .all(|x| x.kind != FindingKind::ImpossibleTravel)
    );
    // São Paulo two days later: 18,600 km in 48 h is 390 km/h.
    let found = f.ok(2 * 86_400, "ada@example.com", "198.51.100.7");
    assert!(!kinds(&found).contains(&FindingKind::ImpossibleTravel));
}

#[test]
fn without_an_ip_database_there_is_no_country_or_velocity() {
    let mut f = Feed::new(Thresholds::default());
    f.history("ada@example.com", "203.0.113.5");
    let found = f.ok(7200, "ada@example.com", "198.51.100.7");
    assert!(
        found
            .iter()
            .all(|x| x.kind != FindingKind::ImpossibleTravel)
    );
    assert!(!f.d.has_geo());
}

#[test]
fn a_new_device_on_a_new_network_soon_after_a_recovery_change_is_risky() {
    let mut f = Feed::new(Thresholds::default());
    f.history("ada@example.com", "203.0.113.5");
    f.at(
        100,
        Kind::CredentialChange,
        "ada@example.com",
        "203.0.113.5",
        UA,
    );
    let found = f.at(
        100 + 720,
        Kind::Attempt { success: true },
        "ada@example.com",
        "2001:db8:bad::1",
        "curl/8.5",
    );
    assert_eq!(kinds(&found), [FindingKind::RiskySignIn]);
    let r = &found[0];
    assert_eq!(
        r.reasons,
        [
            "after_credential_change: login_success 12 min before",
            "new_device: curl/8.5",
            "new_network: 2001:db8:bad:0::/64",
        ]
    );
    assert_eq!(r.risk, 70);
    assert_eq!(r.sequences, [8, 9]);
    assert_eq!(r.key, "risky_sign_in:9");
}

#[test]
fn familiar_sign_ins_and_young_accounts_are_not_flagged() {
    let mut f = Feed::new(Thresholds::default());
    // A new account's first sign-ins, from anywhere, are not judged against an empty history.
    assert!(f.ok(0, "new@example.com", "198.51.100.1").is_empty());
    f.history("ada@example.com", "203.0.113.5");
    assert!(f.ok(3600, "ada@example.com", "203.0.113.5").is_empty());
    // Another address of the same /24 is only a little unusual.
    assert!(f.ok(7200, "ada@example.com", "203.0.113.77").is_empty());
}

#[test]
fn a_sign_in_at_an_hour_the_account_never_uses_is_a_reason() {
    let mut f = Feed::new(Thresholds {
        risky_sign_in_score: 1,
        ..Thresholds::default()
    });
    for day in -12..0 {
        f.ok(day * 86_400, "ada@example.com", "203.0.113.5");
    }
    // 09:00 every day; now 21:00.
    let found = f.ok(12 * 3600, "ada@example.com", "203.0.113.5");
    assert_eq!(
        found[0].reasons,
        ["unusual_hour: 21h UTC (0 of 12 sign-ins within an hour of it)"]
    );
}

#[test]
fn the_same_traffic_gives_the_same_finding_keys_wherever_it_starts() {
    let run = |skip: usize| {
        let mut f = Feed::new(Thresholds::default());
        let mut keys = Vec::new();
        // A node that started later never saw the first `skip` failures.
        for i in skip as i64..30 {
            let found = f.fail(i * 10, "ada@example.com", "192.0.2.9");
            keys.extend(found.into_iter().map(|x| x.key));
        }
        keys
    };
    assert_eq!(run(0), run(5));
    assert_eq!(run(0).len(), 1);
}

#[test]
fn a_flood_from_one_address_is_reported_once_per_kind_with_bounded_work() {
    let mut f = Feed::new(Thresholds::default());
    let mut found = Vec::new();
    // 30,000 failures in under two hours, each on another account: once the spray and the
    // burst are reported, later events skip measuring them, and the stuffing check reads a
    // bounded sample (a quadratic detector would not finish this test in reasonable time).
    for i in 0..30_000 {
        found.extend(f.fail(i / 5, &format!("user{i}@example.com"), "192.0.2.99"));
    }
    let mut k = kinds(&found);
    k.sort();
    k.dedup();
    assert_eq!(k, [FindingKind::IpFailureBurst, FindingKind::PasswordSpray]);
    // One of each per window: the burst's day, and the spray's hours.
    assert_eq!(
        found
            .iter()
            .filter(|x| x.kind == FindingKind::IpFailureBurst)
            .count(),
        1
    );
    assert!(
        found
            .iter()
            .filter(|x| x.kind == FindingKind::PasswordSpray)
            .count()
            <= 3
    );
    assert!(
        found
            .iter()
            .all(|x| x.sequences.len() <= crate::finding::MAX_SEQUENCES)
    );
}

#[test]
fn a_network_seen_once_in_a_long_history_is_almost_as_unfamiliar_as_a_new_one() {
    let mut f = Feed::with_geo(Thresholds::default());
    // Sixty days from home (203.0.113.0/24, AS64500), one of them from a café (192.0.2.0/24,
    // AS64502) early on.
    for day in -60..0 {
        let ip = if day == -50 {
            "192.0.2.40"
        } else {
            "203.0.113.5"
        };
        f.ok(day * 86_400, "ada@example.com", ip);
    }
    // An attacker at that café: another address there, the victim's own browser and hour.
    let found = f.ok(0, "ada@example.com", "192.0.2.41");
    assert_eq!(kinds(&found), [FindingKind::RiskySignIn]);
    assert_eq!(
        found[0].reasons,
        [
            "rare_network: 192.0.2.0/24 (1 of 60 sign-ins)",
            "new_ip: 192.0.2.41",
            "rare_asn: AS64502 (1 of 60 sign-ins)",
        ]
    );
    assert_eq!(found[0].risk, 35);
    // A place used often enough is familiar: one in twenty is not rare.
    let mut f = Feed::with_geo(Thresholds::default());
    for day in -60..0 {
        let ip = if day % 20 == 0 {
            "192.0.2.40"
        } else {
            "203.0.113.5"
        };
        f.ok(day * 86_400, "ada@example.com", ip);
    }
    assert!(f.ok(0, "ada@example.com", "192.0.2.40").is_empty());
    // And a short history has nothing rare in it: one visit in ten is just a visit.
    let mut f = Feed::with_geo(Thresholds::default());
    for day in -10..0 {
        let ip = if day == -5 {
            "192.0.2.40"
        } else {
            "203.0.113.5"
        };
        f.ok(day * 86_400, "ada@example.com", ip);
    }
    assert!(f.ok(0, "ada@example.com", "192.0.2.40").is_empty());
}

#[test]
fn every_successful_sign_in_of_an_account_is_scored_and_nothing_else_is() {
    let mut f = Feed::new(Thresholds::default());
    // A young account: scored, nothing unusual (its history is too short to judge by).
    let o = f.observe(
        0,
        Kind::Attempt { success: true },
        "new@example.com",
        "198.51.100.1",
        UA,
    );
    let s = o.score.expect("a successful sign-in is scored");
    assert_eq!((s.seq, s.risk, s.threshold), (1, 0, 35));
    assert!(s.reasons.is_empty());
    assert_eq!(s.time_us, T0 * 1_000_000);
    // Failures, challenges and changes are not sign-ins: not scored.
    for kind in [
        Kind::Attempt { success: false },
        Kind::Mfa { success: false },
        Kind::Mfa { success: true },
        Kind::CredentialChange,
    ] {
        let o = f.observe(10, kind, "new@example.com", "198.51.100.1", UA);
        assert_eq!(o.score, None, "{kind:?}");
    }
    // A success without an account has no history to be judged by.
    f.seq += 1;
    let o = f.d.observe(&Signal {
        seq: f.seq,
        time_us: (T0 + 20) * 1_000_000,
        kind: Kind::Attempt { success: true },
        account: None,
        ip: Some("198.51.100.1".parse().unwrap()),
        user_agent: None,
        event: "login_success".into(),
    });
    assert_eq!(o.score, None);
}

#[test]
fn a_sign_in_below_the_threshold_keeps_its_score_and_reasons_without_a_finding() {
    let mut f = Feed::new(Thresholds::default());
    f.history("ada@example.com", "203.0.113.5");
    // Another address of the home /24: a little unusual, far below 35.
    let o = f.observe(
        3600,
        Kind::Attempt { success: true },
        "ada@example.com",
        "203.0.113.77",
        UA,
    );
    assert!(o.findings.is_empty());
    let s = o.score.unwrap();
    assert_eq!((s.risk, s.threshold), (5, 35));
    assert_eq!(s.reasons, ["new_ip: 203.0.113.77"]);
    // A familiar one: scored 0, no reasons.
    let o = f.observe(
        7200,
        Kind::Attempt { success: true },
        "ada@example.com",
        "203.0.113.5",
        UA,
    );
    assert_eq!(
        o.score.as_ref().map(|s| (s.risk, s.reasons.len())),
        Some((0, 0))
    );
    // A risky one: the score is the finding's, with the same reasons.
    let o = f.observe(
        9000,
        Kind::Attempt { success: true },
        "ada@example.com",
        "2001:db8:bad::1",
        "curl/8.5",
    );
    assert_eq!(kinds(&o.findings), [FindingKind::RiskySignIn]);
    let s = o.score.unwrap();
    assert_eq!(u32::from(s.risk), o.findings[0].risk);
    assert_eq!(s.reasons, o.findings[0].reasons);
    assert_eq!(s.seq, f.seq);
    // Reaching the tenant's threshold is what makes the finding: at 50 the same sign-in is
    // only scored.
    let mut f = Feed::new(Thresholds {
        risky_sign_in_score: 50,
        ..Thresholds::default()
    });
    f.history("ada@example.com", "203.0.113.5");
    let o = f.observe(
        9000,
        Kind::Attempt { success: true },
        "ada@example.com",
        "2001:db8:bad::1",
        "curl/8.5",
    );
    assert!(o.findings.is_empty());
    let s = o.score.unwrap();
    assert_eq!((s.risk, s.threshold), (45, 50));
    assert_eq!(
        s.reasons,
        ["new_device: curl/8.5", "new_network: 2001:db8:bad:0::/64"]
    );
}

#[test]
fn an_impossible_journey_is_in_the_score_too_and_the_score_stays_within_100() {
    let mut f = Feed::with_geo(Thresholds::default());
    f.history("ada@example.com", "203.0.113.5");
    f.ok(0, "ada@example.com", "203.0.113.5");
    f.at(
        6000,
        Kind::CredentialChange,
        "ada@example.com",
        "203.0.113.5",
        UA,
    );
    for i in 0..3 {
        f.fail(6500 + i, "ada@example.com", "198.51.100.7");
    }
    let o = f.observe(
        7200,
        Kind::Attempt { success: true },
        "ada@example.com",
        "198.51.100.7",
        "curl/8.5",
    );
    let s = o.score.unwrap();
    assert_eq!(s.risk, 100, "{:?}", s.reasons);
    assert!(
        s.reasons.iter().any(|r| r.starts_with("velocity_kmh: ")),
        "{:?}",
        s.reasons
    );
    assert!(
        s.reasons.contains(&"new_country: TW→BR".to_string()),
        "{:?}",
        s.reasons
    );
    let risky = o
        .findings
        .iter()
        .find(|x| x.kind == FindingKind::RiskySignIn)
        .unwrap();
    assert_eq!(risky.risk, 100);
    assert_eq!(risky.reasons, s.reasons);
}
