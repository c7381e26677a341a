//! Monthly partitions of `activities`, created when a batch first needs one.
//!
//! A month's partition is made in a short transaction of its own, before the append's transaction
//! begins, so the append never holds DDL locks:
//! 1. take a transaction-scoped advisory lock (one node at a time creates or drops partitions),
//!    and check the catalogue again under it;
//! 2. create a plain table shaped like `activities`, move into it any rows of that month that
//!    reached the default partition earlier, and `ATTACH` it. Attaching takes only a
//!    SHARE UPDATE EXCLUSIVE lock on `activities` (a `CREATE TABLE ... PARTITION OF` would take
//!    ACCESS EXCLUSIVE and stop every reader and writer), and builds the indexes on the empty
//!    table in no time.
//!
//! Attaching does need an ACCESS EXCLUSIVE lock on the default partition, which readers of the
//! whole table hold briefly. The attempt gives up after [`LOCK_TIMEOUT`] instead of queueing every
//! later query behind it; the batch then goes into the default partition, where it is found like
//! any other row, and the next batch of that month tries again and moves those rows.

use std::collections::HashSet;

use time::{Date, Month as CalendarMonth, OffsetDateTime};
use tokio_postgres::Client;

use crate::schema::{PARTITION_LOCK, quote};

/// How long partition DDL waits for a lock before giving up (see the module doc).
pub(crate) const LOCK_TIMEOUT: &str = "5s";

/// A calendar month in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// The month holding `time_us`; `None` outside years 1 to 9998, whose rows stay in the
    /// default partition (no producer sends those, and validation refuses most of them).
    pub(crate) fn of(time_us: i64) -> Option<Month> {
        let t = OffsetDateTime::from_unix_timestamp(time_us.div_euclid(1_000_000)).ok()?;
        let m = Month {
            year: t.year(),
            month: t.month() as u8,
        };
        (1..=9998).contains(&m.year).then_some(m)
    }

    fn start(self) -> i64 {
        let month = CalendarMonth::try_from(self.month).expect("month is 1..=12");
        let date = Date::from_calendar_date(self.year, month, 1).expect("years 1..=9999 are valid");
        date.midnight().assume_utc().unix_timestamp() * 1_000_000
    }

    /// First microsecond of the month.
    pub(crate) fn start_us(self) -> i64 {
        self.start()
    }

    /// First microsecond of the next month (exclusive upper bound).
    pub(crate) fn end_us(self) -> i64 {
        let next = if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        };
        next.start()
    }

    /// The partition's table name, e.g. `activities_y2026m01`.
    pub(crate) fn table(self) -> String {
        format!("activities_y{:04}m{:02}", self.year, self.month)
    }

    /// The month of a partition named by [`Month::table`]; `None` for any other table.
    pub(crate) fn from_table(name: &str) -> Option<Month> {
        let rest = name.strip_prefix("activities_y")?;
        let (y, m) = rest.split_once('m')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let month = Month {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
        };
        ((1..=9998).contains(&month.year) && (1..=12).contains(&month.month)).then_some(month)
    }
}

/// Makes sure each month in `months` has its partition, creating what is missing. A month whose
/// partition cannot be made now is logged and left to the default partition (see the module doc),
/// so this never fails an append.
pub(crate) async fn ensure(
    client: &mut Client,
    known: &std::sync::Mutex<HashSet<Month>>,
    months: impl IntoIterator<Item = Month>,
) {
    let missing: Vec<Month> = {
        let known = known.lock().unwrap();
        let mut m: Vec<Month> = months.into_iter().filter(|m| !known.contains(m)).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    for month in missing {
        match create(client, month).await {
            Ok(()) => {
                known.lock().unwrap().insert(month);
            }
            Err(e) => tracing::warn!(
                partition = %month.table(),
                error = %crate::pg(e),
                "cannot create a monthly partition now; its rows go to activities_default until a later batch can"
            ),
        }
    }
}

async fn create(client: &mut Client, month: Month) -> Result<(), tokio_postgres::Error> {
    let table = month.table();
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .await?;
    lock_ddl(&tx).await?;
    if exists(&tx, &table).await? {
        return tx.commit().await;
    }
    let (lo, hi) = (month.start_us(), month.end_us());
    let t = quote(&table);
    tx.batch_execute(&format!(
        "CREATE TABLE {t} (LIKE activities INCLUDING DEFAULTS)"
    ))
    .await?;
    let moved = tx
        .execute(
            &format!(
                "WITH moved AS (DELETE FROM activities_default WHERE time_us >= $1 AND time_us < $2 RETURNING *)
                 INSERT INTO {t} SELECT * FROM moved"
            ),
            &[&lo, &hi],
        )
        .await?;
    // DDL takes no bind parameters; the bounds are integers computed here, not input.
    tx.batch_execute(&format!(
        "ALTER TABLE activities ATTACH PARTITION {t} FOR VALUES FROM ({lo}) TO ({hi})"
    ))
    .await?;
    tx.commit().await?;
    tracing::info!(partition = %table, moved_from_default = moved, "created a monthly partition");
    Ok(())
}

/// Serializes changes to the set of partitions (creation here, drops in `purge`) across every
/// node, until the transaction ends.
pub(crate) async fn lock_ddl(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
        &[&PARTITION_LOCK],
    )
    .await?;
    Ok(())
}

/// Is `table` a partition of `activities` now?
pub(crate) async fn exists(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                            WHERE i.inhparent = 'activities'::regclass AND c.relname = $1)",
            &[&table],
        )
        .await?;
    Ok(row.get(0))
}

/// The partitions of `activities` (the default one included), by table name.
pub(crate) async fn list(client: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'activities'::regclass ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_2026: i64 = 1_767_225_600_000_000;

    #[test]
    fn months_bound_their_partitions() {
        let m = Month::of(JAN_2026).unwrap();
        assert_eq!(m.table(), "activities_y2026m01");
        assert_eq!(m.start_us(), JAN_2026);
        assert_eq!(m.end_us(), JAN_2026 + 31 * 86_400_000_000);
        assert_eq!(
            Month::of(JAN_2026 - 1).unwrap().table(),
            "activities_y2025m12"
        );
        assert_eq!(Month::of(JAN_2026 - 1).unwrap().end_us(), JAN_2026);
        assert_eq!(Month::of(-1).unwrap().table(), "activities_y1969m12");
        assert_eq!(
            Month::from_table("activities_y2025m12"),
            Month::of(JAN_2026 - 1)
        );
        assert_eq!(Month::from_table("activities_default"), None);
        assert_eq!(Month::from_table("activities_y2025m13"), None);
        assert_eq!(Month::of(i64::MAX), None);
        assert_eq!(Month::of(i64::MIN), None);
    }
}
