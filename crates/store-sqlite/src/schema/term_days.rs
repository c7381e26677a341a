//! The migration of per-day counters per IP and per actor (`term_counts.rs`), in a file of its
//! own as `term_counts.rs` is.
//!
//! The console's top lists sum 30 days of per-hour counters per IP and per actor: at 10 million
//! events that is 5.1 million counters per list (2.2–3.3 s for the overview, against a 200 ms
//! target). Per day, a value has one counter for all its activities (slice 1, event 0): about
//! 9,000 a day for the IPs of the demo trail. The failures, which investigators rank by, keep
//! their first event name (slice 0), so that "failed sign-ins per actor" is served too; other
//! filters read the hours. The slice leads the key so that each read is one key range.
//!
//! A trigger takes purged rows off, with full keys (a `n <= 0` sweep of a day's counters would
//! walk thousands of rows per purged row); the writer adds. Filled from the per-hour counters
//! (which are exact), after emptying the table: a data directory wound back for the upgrade tests
//! migrates again. The fill adds each hourly counter to its day's with an upsert rather than a
//! GROUP BY: connections keep temporary data in memory, and grouping the 10 million hourly
//! counters of a 10-million-event trail took 717 MB of RSS where the upserts stay within the
//! page cache.

pub(super) const SQL: &str = r#"
    CREATE TABLE IF NOT EXISTS activity_term_days (
        tenant_id INTEGER NOT NULL,
        kind      INTEGER NOT NULL,          -- 1 IP, 2 actor (e-mail, else profile id)
        slice     INTEGER NOT NULL,          -- 1 every activity (event 0), 0 failures by event
        day_us    INTEGER NOT NULL,          -- time_us floored to the UTC day, also before 1970
        event_id  INTEGER NOT NULL,          -- first event's name (event_names.id); 0 in slice 1
        term_id   INTEGER NOT NULL,          -- terms.id; 0: the row has none
        n         INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, kind, slice, day_us, event_id, term_id)
    ) WITHOUT ROWID;
    DROP TRIGGER IF EXISTS activity_term_days_remove;
    CREATE TRIGGER activity_term_days_remove AFTER DELETE ON activities BEGIN
        UPDATE activity_term_days SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND kind = 1 AND slice = 1
          AND day_us = OLD.time_us - (((OLD.time_us % 86400000000) + 86400000000) % 86400000000)
          AND event_id = 0 AND term_id = COALESCE(OLD.ip_ref, 0);
        UPDATE activity_term_days SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND kind = 2 AND slice = 1
          AND day_us = OLD.time_us - (((OLD.time_us % 86400000000) + 86400000000) % 86400000000)
          AND event_id = 0 AND term_id = COALESCE(OLD.email_ref, OLD.profile_ref, 0);
        UPDATE activity_term_days SET n = n - 1
        WHERE OLD.result = 0 AND tenant_id = OLD.tenant_id AND kind = 1 AND slice = 0
          AND day_us = OLD.time_us - (((OLD.time_us % 86400000000) + 86400000000) % 86400000000)
          AND event_id = OLD.event_id AND term_id = COALESCE(OLD.ip_ref, 0);
        UPDATE activity_term_days SET n = n - 1
        WHERE OLD.result = 0 AND tenant_id = OLD.tenant_id AND kind = 2 AND slice = 0
          AND day_us = OLD.time_us - (((OLD.time_us % 86400000000) + 86400000000) % 86400000000)
          AND event_id = OLD.event_id AND term_id = COALESCE(OLD.email_ref, OLD.profile_ref, 0);
        DELETE FROM activity_term_days
        WHERE tenant_id = OLD.tenant_id AND kind = 1 AND slice = 1
          AND day_us = OLD.time_us - (((OLD.time_us % 86400000000) + 86400000000) % 86400000000)
          AND event_id = 0 AND term_id = COALESCE(OLD.ip_ref, 0) AND n <= 0;
        DELETE FROM activity_term_days
        WHERE tenant_id = OLD.tenant_id AND kind = 2 AND slice = 1
          AND day_us = OLD.time_us - (((OLD.time_us % 86400000000) + 86400000000) % 86400000000)
          AND event_id = 0 AND term_id = COALESCE(OLD.email_ref, OLD.profile_ref, 0) AND n <= 0;
        DELETE FROM activity_term_days
        WHERE OLD.result = 0 AND tenant_id = OLD.tenant_id AND kind = 1 AND slice = 0
          AND day_us = OLD.time_us - (((OLD.time_us % 86400000000) + 86400000000) % 86400000000)
          AND event_id = OLD.event_id AND term_id = COALESCE(OLD.ip_ref, 0) AND n <= 0;
        DELETE FROM activity_term_days
        WHERE OLD.result = 0 AND tenant_id = OLD.tenant_id AND kind = 2 AND slice = 0
          AND day_us = OLD.time_us - (((OLD.time_us % 86400000000) + 86400000000) % 86400000000)
          AND event_id = OLD.event_id AND term_id = COALESCE(OLD.email_ref, OLD.profile_ref, 0)
          AND n <= 0;
    END;
    DELETE FROM activity_term_days;
    INSERT INTO activity_term_days (tenant_id, kind, slice, day_us, event_id, term_id, n)
    SELECT tenant_id, kind, 1,
           hour_us - (((hour_us % 86400000000) + 86400000000) % 86400000000), 0, term_id, n
    FROM activity_term_counts WHERE true
    ON CONFLICT (tenant_id, kind, slice, day_us, event_id, term_id)
    DO UPDATE SET n = n + excluded.n;
    INSERT INTO activity_term_days (tenant_id, kind, slice, day_us, event_id, term_id, n)
    SELECT tenant_id, kind, 0,
           hour_us - (((hour_us % 86400000000) + 86400000000) % 86400000000), event_id, term_id, n
    FROM activity_term_counts WHERE result = 0
    ON CONFLICT (tenant_id, kind, slice, day_us, event_id, term_id)
    DO UPDATE SET n = n + excluded.n;
"#;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use authtrail_model::store::prelude::*;
    use authtrail_model::store::term_counts::DAY_US;
    use authtrail_model::store::{TermCell, TermFilter, TermKind};
    use authtrail_model::{ManualClock, NewActivity, Outcome, Tenant};
    use rusqlite::Connection;

    use crate::{DB_FILE, SqliteStore};

    async fn counts(store: &SqliteStore, t: &Tenant, f: &TermFilter) -> Vec<TermCell> {
        let mut cells = store
            .term_counts(t, TermKind::Ip, f, -DAY_US, 4 * DAY_US, &[], usize::MAX)
            .await
            .unwrap();
        cells.sort_by(|a, b| a.term.cmp(&b.term));
        cells
    }

    /// The migration fills the day counters from the hours stored before it: the counts read
    /// after it (whole days, from the new table) equal those read before (from the hours).
    #[tokio::test]
    async fn days_are_filled_from_the_hours() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tenant::new("Cd").unwrap();
        let open = || SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let filters = [
            TermFilter::default(),
            TermFilter {
                result: Some(Outcome::Failure),
                ..Default::default()
            },
        ];
        let before = {
            let store = open();
            // Two days and a bit, before and after 1970's first midnight.
            let batch: Vec<NewActivity> = (0..40)
                .map(|i| NewActivity {
                    time_us: (i - 8) * 5_000_000_000,
                    application: "login".into(),
                    body: serde_json::from_value(serde_json::json!({
                        "ipAddress": format!("192.0.2.{}", i % 3),
                        "events": [{"type": "login", "name": "login_failure"}],
                        "result": if i % 4 == 0 { "success" } else { "failure" }}))
                    .unwrap(),
                })
                .collect();
            store.append(&t, batch).await.unwrap();
            let mut v = Vec::new();
            for f in &filters {
                v.push(counts(&store, &t, f).await);
            }
            v
        };
        assert_eq!(before[0].len(), 3);
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        // Back to the version before this migration (15): it runs again and fills the table.
        c.execute_batch(
            "DROP TRIGGER activity_term_days_remove; DROP TABLE activity_term_days;
             PRAGMA user_version = 14;",
        )
        .unwrap();
        drop(c);
        let store = open();
        for (f, want) in filters.iter().zip(&before) {
            assert_eq!(&counts(&store, &t, f).await, want, "{f:?}");
        }
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let days: i64 = c
            .query_row(
                "SELECT count(DISTINCT day_us) FROM activity_term_days",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(days, 3, "the days before, on and after 1970-01-01");
    }
}
