//! The overview's charts are exact counts over the whole range (not the newest events), and the
//! sign-in chart counts only the catalogue's sign-in outcomes.

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
