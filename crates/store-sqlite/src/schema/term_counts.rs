//! The migration of per-hour counters per IP and per actor (`term_counts.rs`), in a file of its
//! own so that it can be renumbered when another branch's migration lands first.
//!
//! The table is keyed (tenant, kind, hour, first event name, result, term id), term 0 for a row
//! without an IP (kind 1) or actor (kind 2), so that a range's counters are one key range per
//! tenant and kind. A trigger takes purged rows off, as schema 10's does for the per-minute
//! counters; the writer adds (no insert trigger: see schema 8). Filled from the rows already
//! stored, after emptying the table: a data directory wound back for the upgrade tests migrates
//! again, and schema 10 gives its terms new ids.

pub(super) const SQL: &str = r#"
    CREATE TABLE IF NOT EXISTS activity_term_counts (
        tenant_id INTEGER NOT NULL,
        kind      INTEGER NOT NULL,          -- 1 IP, 2 actor (e-mail, else profile id)
        hour_us   INTEGER NOT NULL,          -- time_us floored to the hour, also before 1970
        event_id  INTEGER NOT NULL,          -- first event's name (event_names.id)
        result    INTEGER NOT NULL,          -- 1 success, 0 failure
        term_id   INTEGER NOT NULL,          -- terms.id; 0: the row has none
        n         INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, kind, hour_us, event_id, result, term_id)
    ) WITHOUT ROWID;
    DROP TRIGGER IF EXISTS activity_term_counts_remove;
    CREATE TRIGGER activity_term_counts_remove AFTER DELETE ON activities BEGIN
        UPDATE activity_term_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND kind = 1
          AND hour_us = OLD.time_us - (((OLD.time_us % 3600000000) + 3600000000) % 3600000000)
          AND event_id = OLD.event_id AND result = OLD.result
          AND term_id = COALESCE(OLD.ip_ref, 0);
        UPDATE activity_term_counts SET n = n - 1
        WHERE tenant_id = OLD.tenant_id AND kind = 2
          AND hour_us = OLD.time_us - (((OLD.time_us % 3600000000) + 3600000000) % 3600000000)
          AND event_id = OLD.event_id AND result = OLD.result
          AND term_id = COALESCE(OLD.email_ref, OLD.profile_ref, 0);
        DELETE FROM activity_term_counts
        WHERE tenant_id = OLD.tenant_id AND kind IN (1, 2)
          AND hour_us = OLD.time_us - (((OLD.time_us % 3600000000) + 3600000000) % 3600000000)
          AND event_id = OLD.event_id AND result = OLD.result AND n <= 0;
    END;
    DELETE FROM activity_term_counts;
    INSERT INTO activity_term_counts (tenant_id, kind, hour_us, event_id, result, term_id, n)
    SELECT tenant_id, 1, time_us - (((time_us % 3600000000) + 3600000000) % 3600000000),
           event_id, result, COALESCE(ip_ref, 0), count(*)
    FROM activities GROUP BY 1, 3, 4, 5, 6;
    INSERT INTO activity_term_counts (tenant_id, kind, hour_us, event_id, result, term_id, n)
    SELECT tenant_id, 2, time_us - (((time_us % 3600000000) + 3600000000) % 3600000000),
           event_id, result, COALESCE(email_ref, profile_ref, 0), count(*)
    FROM activities GROUP BY 1, 3, 4, 5, 6;
"#;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use authtrail_model::store::prelude::*;
    use authtrail_model::store::{TermCell, TermFilter, TermKind};
    use authtrail_model::{ManualClock, NewActivity, Tenant};
    use rusqlite::Connection;

    use crate::{DB_FILE, SqliteStore};

    async fn counts(store: &SqliteStore, t: &Tenant, kind: TermKind) -> Vec<TermCell> {
        let mut cells = store
            .term_counts(
                t,
                kind,
                &TermFilter::default(),
                0,
                20 * 3_600_000_000,
                &[],
                usize::MAX,
            )
            .await
            .unwrap();
        cells.sort_by(|a, b| a.term.cmp(&b.term));
        cells
    }

    /// The migration fills the counters from the rows stored before it.
    #[tokio::test]
    async fn counters_are_filled_from_older_rows() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tenant::new("Cx").unwrap();
        let open = || SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let before = {
            let store = open();
            let batch: Vec<NewActivity> = (0..9)
                .map(|i| NewActivity {
                    time_us: i * 1_000_000_000,
                    application: "login".into(),
                    body: serde_json::from_value(serde_json::json!({
                        "actor": {"email": format!("u{}@x.io", i % 2)},
                        "ipAddress": format!("192.0.2.{}", i % 3),
                        "events": [{"type": "login", "name": "login_success"}],
                        "result": "success"}))
                    .unwrap(),
                })
                .collect();
            store.append(&t, batch).await.unwrap();
            (
                counts(&store, &t, TermKind::Ip).await,
                counts(&store, &t, TermKind::Actor).await,
            )
        };
        assert_eq!(before.0.len(), 3);
        assert_eq!(before.1.len(), 2);
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        // Back to the version before this migration (13): it and every later one run again.
        c.execute_batch(
            "DROP TRIGGER activity_term_counts_remove; DROP TABLE activity_term_counts;
             PRAGMA user_version = 12;",
        )
        .unwrap();
        drop(c);
        let store = open();
        assert_eq!(counts(&store, &t, TermKind::Ip).await, before.0);
        assert_eq!(counts(&store, &t, TermKind::Actor).await, before.1);
    }
}
