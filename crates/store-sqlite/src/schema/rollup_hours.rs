//! The migration of per-hour activity counters (`rollups.rs`), in a file of its own as
//! `term_counts.rs` is.
//!
//! A 30-day chart read the per-minute counters: about 43,200 minutes × the event names and
//! results of each, 2.6 million counters at 10 million events (290–317 ms p99, over the console's
//! 200 ms target). The hourly table holds the same counts summed per hour, sixty times fewer rows
//! for an hour-bucketed chart, and the writer adds to both in the same savepoint.
//!
//! The key starts with the event and result, not the hour, so that "has event X a failure in
//! this range?" is one seek: the list plan asks it to skip a branch that cannot match (an index
//! walk of every `login_success` looking for a failure, 3.2 s at 10 million events). A range
//! read of every event seeks each (event, result) in turn (`rollups.rs`).
//!
//! A trigger takes purged rows off, as schema 10's does for the minutes; the fill sums the
//! per-minute counters (which are exact), after emptying the table: a data directory wound back
//! for the upgrade tests migrates again.

pub(super) const SQL: &str = r#"
    CREATE TABLE IF NOT EXISTS activity_rollup_hour (
        tenant_id INTEGER NOT NULL,
        event_id  INTEGER NOT NULL,          -- the activity's first event name (event_names.id)
        result    INTEGER NOT NULL,          -- 1 success, 0 failure
        hour_us   INTEGER NOT NULL,          -- time_us floored to the hour, also before 1970
        n         INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, event_id, result, hour_us)
    ) WITHOUT ROWID;
    DROP TRIGGER IF EXISTS activity_rollup_hour_remove;
    CREATE TRIGGER activity_rollup_hour_remove AFTER DELETE ON activities BEGIN
        UPDATE activity_rollup_hour SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND event_id = OLD.event_id AND result = OLD.result
          AND hour_us = OLD.time_us - (((OLD.time_us % 3600000000) + 3600000000) % 3600000000);
        DELETE FROM activity_rollup_hour
        WHERE tenant_id = OLD.tenant_id AND event_id = OLD.event_id AND result = OLD.result
          AND hour_us = OLD.time_us - (((OLD.time_us % 3600000000) + 3600000000) % 3600000000)
          AND n <= 0;
    END;
    DELETE FROM activity_rollup_hour;
    INSERT INTO activity_rollup_hour (tenant_id, event_id, result, hour_us, n)
    SELECT tenant_id, event_id, result,
           minute_us - (((minute_us % 3600000000) + 3600000000) % 3600000000), sum(n)
    FROM activity_rollup GROUP BY 1, 2, 3, 4;
"#;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use authtrail_model::store::aggregates::HOUR_US;
    use authtrail_model::store::prelude::*;
    use authtrail_model::{ManualClock, NewActivity, Tenant};
    use rusqlite::Connection;

    use crate::{DB_FILE, SqliteStore};

    /// The migration fills the hourly counters from the minutes' (which the rows stored before
    /// it already have), so that a chart in hour slots reads the same before and after.
    #[tokio::test]
    async fn hours_are_filled_from_the_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tenant::new("Cx").unwrap();
        let open = || SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let read = |store: SqliteStore| {
            let t = t.clone();
            async move {
                let mut cells = store
                    .rollup(&t, 0, 10 * HOUR_US, HOUR_US)
                    .await
                    .unwrap()
                    .cells;
                cells.sort_by_key(|c| (c.slot_us, c.event_name.clone(), c.result as u8));
                cells
            }
        };
        let store = open();
        let batch: Vec<NewActivity> = (0..40)
            .map(|i| NewActivity {
                time_us: i * 700_000_000,
                application: "login".into(),
                body: serde_json::from_value(serde_json::json!({
                    "events": [{"type": "login",
                                "name": if i % 3 == 0 { "login_failure" } else { "login_success" }}],
                    "result": if i % 3 == 0 { "failure" } else { "success" }}))
                .unwrap(),
            })
            .collect();
        store.append(&t, batch).await.unwrap();
        let before = read(store).await;
        assert_eq!(before.iter().map(|c| c.n).sum::<u64>(), 40);
        assert!(before.len() >= 8, "{before:?}");
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(
            "DROP TRIGGER activity_rollup_hour_remove; DROP TABLE activity_rollup_hour;
             PRAGMA user_version = 13;",
        )
        .unwrap();
        drop(c);
        assert_eq!(read(open()).await, before);
    }
}
