//! The overview's charts and top lists are exact counts over the whole range (not the newest
//! events), and the sign-in chart counts only the catalogue's sign-in outcomes.

use serde_json::json;

use crate::console::{Browser, PW, ingest, with_user};
use crate::support::{Harness, activity};

/// The legend entry `label (n)` of a chart.
fn legend(body: &str, label: &str) -> Option<u64> {
    let at = body.find(&format!(">{label} ("))? + label.len() + 3;
    body[at..].split(')').next()?.parse().ok()
}

#[tokio::test]
async fn charts_count_every_event_of_the_range_and_only_real_sign_ins() {
    let h = Harness::new().await;
    with_user(&h, "olga", "Ctest").await;
    let mut items = Vec::new();
    // Six days ago and today: a chart that read only the newest events would miss the old ones.
    for (day, n) in [("2026-11-17", 3), ("2026-11-22", 2)] {
        for i in 0..n {
            let at = |event: &str, min: i32| {
                let mut a = activity(&format!("u{i}@example.com"), event);
                a["id"]["time"] = json!(format!("{day}T10:{min:02}:{i:02}Z"));
                a
            };
            items.push(at("login_success", 1));
            items.push(at("login_failure", 2));
            // Steps and sign-outs are not sign-in outcomes.
            items.push(at("login_challenge", 3));
            items.push(at("logout", 4));
            items.push(at("suspicious_login", 5));
        }
    }
    ingest(&h, items).await;
    let mut b = Browser::new(&h);
    b.sign_in("olga", PW).await;
    let p = b.get("/console/overview?range=7d&lang=en").await;
    assert_eq!(p.status.as_u16(), 200, "{}", p.body);
    // Five Google sign-ins, and olga's own console sign-in (an outcome of the admin application,
    // recorded at the clock's 2026-11-23T00:00Z, inside the range).
    assert_eq!(legend(&p.body, "Success"), Some(6), "{}", p.body);
    assert_eq!(legend(&p.body, "Failure"), Some(5));
    assert_eq!(legend(&p.body, "Suspicious events"), Some(5));
    // 25 events and the console sign-in.
    assert!(
        p.body.contains("Based on all 26 events of the range."),
        "{}",
        p.body
    );
}

/// The count a top-N row shows for `label` (its bar's number).
fn top_row(body: &str, label: &str) -> Option<u64> {
    let at = body.find(&format!(">{label}</text>"))?;
    let rest = &body[at..];
    let n = rest.find("/><text")?;
    let rest = &rest[n..];
    let start = rest.find("\">")? + 2;
    rest[start..].split('<').next()?.parse().ok()
}

/// Issue #17: the top IPs and failing accounts count every event of the range, from the store's
/// per-IP and per-actor counters, with no "counted from" caveat.
#[tokio::test]
async fn top_lists_count_every_event_of_the_range() {
    let h = Harness::new().await;
    with_user(&h, "olga", "Ctest").await;
    let mut items = Vec::new();
    // Old failures from one address and account, newer ones from another, a success that is
    // not a failure, and an event without an address.
    for (day, ip, who, n) in [
        ("2026-11-17", "192.0.2.1", "old@example.com", 3),
        ("2026-11-22", "192.0.2.2", "new@example.com", 2),
    ] {
        for i in 0..n {
            let mut a = activity(who, "login_failure");
            a["id"]["time"] = json!(format!("{day}T10:{i:02}:00Z"));
            a["ipAddress"] = json!(ip);
            items.push(a);
        }
    }
    let mut ok = activity("new@example.com", "login_success");
    ok["id"]["time"] = json!("2026-11-22T11:00:00Z");
    ok["ipAddress"] = json!("192.0.2.2");
    items.push(ok);
    let mut no_ip = activity("old@example.com", "login_failure");
    no_ip["id"]["time"] = json!("2026-11-20T11:00:00Z");
    no_ip.as_object_mut().unwrap().remove("ipAddress");
    items.push(no_ip);
    ingest(&h, items).await;
    let mut b = Browser::new(&h);
    b.sign_in("olga", PW).await;
    let p = b.get("/console/overview?range=30d&lang=en").await;
    assert_eq!(p.status.as_u16(), 200, "{}", p.body);
    // Every event with an address, whatever its result.
    assert_eq!(top_row(&p.body, "192.0.2.1"), Some(3), "{}", p.body);
    assert_eq!(top_row(&p.body, "192.0.2.2"), Some(3));
    // Failed sign-ins only, the one without an address included.
    assert_eq!(top_row(&p.body, "old@example.com"), Some(4));
    assert_eq!(top_row(&p.body, "new@example.com"), Some(2));
    assert!(!p.body.contains("count at most"), "{}", p.body);
}
