//! Writing one activity row (schema 10): the body compressed, the values with a column of their
//! own interned ([`super::intern`]), the eventId indexed by its hash, and the request's per-minute
//! counts (per minute and per hour) and per-IP and per-actor counts. Shared by the writer's appends
//! and restores.

use foldhash::{HashMap, HashMapExt};

use authtrail_model::store::aggregates::{HOUR_US, floor_to};
use authtrail_model::{ActivityBody, Outcome, StoreError, StoreErrorKind};
use rusqlite::{CachedStatement, Connection, OptionalExtension, params, params_from_iter};

use super::intern::{self, Terms};
use crate::errors::{backend, fail};

/// Application → event name → interned id (nested so that a lookup borrows, never allocates).
pub(crate) type Names = HashMap<String, HashMap<String, i64>>;

/// What the writer keeps between rows: interned ids (right across transactions until a
/// rollback, or a deletion of terms, which [`Terms::check_generation`] notices), and per
/// transaction whether a tenant has eventIds in the spill index.
pub(crate) struct Caches {
    pub names: Names,
    pub terms: Terms,
    /// Tenant → whether it has rows in `activities_source_spill` (read once per transaction).
    pub spills: HashMap<i64, bool>,
}

impl Caches {
    pub(crate) fn new() -> Caches {
        Caches {
            names: HashMap::new(),
            terms: Terms::new(),
            spills: HashMap::new(),
        }
    }

    /// After a rollback: ids created inside it are gone from the tables.
    pub(crate) fn clear(&mut self) {
        self.names.clear();
        self.terms.clear();
        self.spills.clear();
    }
}

/// The statements that write activity rows, prepared once per request: looking a cached
/// statement up by its SQL text for every row costs more than binding the row.
pub(crate) struct Rows<'c> {
    conn: &'c Connection,
    insert: CachedStatement<'c>,
    /// The per-minute counts of the rows inserted so far: [tenant, minute, first event name,
    /// success] → rows. Added to `activity_rollup` by [`Rows::finish`], in the same savepoint.
    minutes: HashMap<[i64; 4], i64>,
    /// The per-hour counts per IP and per actor likewise: [tenant, kind, hour, first event name,
    /// success, term id] → rows, added to `activity_term_counts` (`crate::term_counts`).
    terms: HashMap<[i64; 6], i64>,
}

/// What [`Rows::insert`] did.
pub(crate) enum Stored {
    Yes,
    /// Nothing: the tenant already has an activity with this eventId, stored as this.
    Duplicate {
        seq: i64,
        time_us: i64,
    },
}

impl<'c> Rows<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Result<Rows<'c>, StoreError> {
        let insert = conn
            .prepare_cached(
                "INSERT INTO activities (tenant_id, seq, time_us, received_us, app_id, event_id,
                    email_ref, profile_ref, ip_ref, result, session_ref, source_hash, source_id,
                    body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (tenant_id, source_hash) WHERE source_hash IS NOT NULL DO NOTHING",
            )
            .map_err(backend)?;
        Ok(Rows {
            conn,
            insert,
            minutes: HashMap::new(),
            terms: HashMap::new(),
        })
    }

    /// Adds the counts of the rows inserted to the per-minute counters (schema 8; they were a
    /// per-row trigger before). Called once the request's rows are in, inside its savepoint, so
    /// the counts commit or roll back with the rows.
    pub(crate) fn finish(self) -> Result<(), StoreError> {
        if self.minutes.is_empty() {
            return Ok(());
        }
        // The per-hour counts per IP and per actor, and the same per day (schema 15), for the
        // top lists over long ranges.
        let mut days: HashMap<[i64; 6], i64> = HashMap::new();
        for (&[tenant_id, kind, hour_us, event_id, success, term], n) in &self.terms {
            for (slice, day, event) in crate::term_counts::day_keys(hour_us, event_id, success) {
                *days
                    .entry([tenant_id, kind, slice, day, event, term])
                    .or_default() += n;
            }
        }
        // Days whose counters change are no longer what their packs say (schema 16).
        let mut touched: Vec<(i64, i64)> = days.keys().map(|k| (k[0], k[3])).collect();
        touched.sort_unstable();
        touched.dedup();
        let mut mark = self
            .conn
            .prepare_cached(crate::term_packs::MARK)
            .map_err(backend)?;
        for (tenant_id, day) in touched {
            mark.execute(params![tenant_id, day]).map_err(backend)?;
        }
        upsert_all(self.conn, crate::term_counts::UPSERT, self.terms)?;
        upsert_all(self.conn, crate::term_counts::UPSERT_DAY, days)?;
        // The same counts per hour (schema 14), for charts over long ranges.
        let mut hours: HashMap<[i64; 4], i64> = HashMap::new();
        for (&[tenant_id, minute_us, event_id, success], n) in &self.minutes {
            *hours
                .entry([tenant_id, event_id, success, floor_to(minute_us, HOUR_US)])
                .or_default() += n;
        }
        upsert_all(
            self.conn,
            "INSERT INTO activity_rollup (tenant_id, minute_us, event_id, result, n)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant_id, minute_us, event_id, result) DO UPDATE SET n = n + excluded.n",
            self.minutes,
        )?;
        upsert_all(
            self.conn,
            "INSERT INTO activity_rollup_hour (tenant_id, event_id, result, hour_us, n)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant_id, event_id, result, hour_us) DO UPDATE SET n = n + excluded.n",
            hours,
        )
    }

    fn name_id(&self, names: &mut Names, app: &str, name: &str) -> Result<i64, StoreError> {
        if let Some(id) = names.get(app).and_then(|m| m.get(name)) {
            return Ok(*id);
        }
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO event_names (app, name) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![app, name]))
            .map_err(backend)?;
        let id: i64 = self
            .conn
            .prepare_cached("SELECT id FROM event_names WHERE app = ?1 AND name = ?2")
            .and_then(|mut s| s.query_row(params![app, name], |r| r.get(0)))
            .map_err(backend)?;
        names
            .entry(app.to_string())
            .or_default()
            .insert(name.to_string(), id);
        Ok(id)
    }

    /// Whether the tenant has eventIds kept in the spill index (practically never: only after a
    /// 64-bit hash collision between two of its eventIds). Read once per transaction.
    fn spilled(&self, spills: &mut HashMap<i64, bool>, tenant_id: i64) -> Result<bool, StoreError> {
        if let Some(s) = spills.get(&tenant_id) {
            return Ok(*s);
        }
        let s: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM activities
                                WHERE tenant_id = ?1 AND source_hash IS NULL AND source_id IS NOT NULL)",
            )
            .and_then(|mut st| st.query_row([tenant_id], |r| r.get(0)))
            .map_err(backend)?;
        spills.insert(tenant_id, s);
        Ok(s)
    }

    /// Writes one activity row (and its extra event names). Stores nothing when the tenant
    /// already has an activity with its eventId.
    ///
    /// Values with their own column leave the body JSON (see [`Columns`]): stored once, not twice,
    /// and interned per tenant, so a row and its index entries carry integers.
    ///
    /// The eventId is indexed by its 64-bit hash (`activities_source`, unique). A conflict there
    /// is checked against the stored eventId: the same one is a duplicate; another one (a hash
    /// collision) is stored with no hash, where the unique `activities_source_spill` index
    /// keys it by its text. Such a tenant's later eventIds are then also looked up there first.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert(
        &mut self,
        cache: &mut Caches,
        tenant_id: i64,
        seq: i64,
        time_us: i64,
        received_us: i64,
        app: &str,
        mut body: ActivityBody,
    ) -> Result<Stored, StoreError> {
        let Some(first) = body.events.first() else {
            return Err(fail(
                StoreErrorKind::Invalid,
                "an activity without events cannot be stored",
            ));
        };
        let first = self.name_id(&mut cache.names, app, &first.name)?;
        // Activities almost always hold one event: the extra names' list allocates only when
        // there are some.
        let mut extra = Vec::new();
        for e in &body.events[1..] {
            let id = self.name_id(&mut cache.names, app, &e.name)?;
            if id != first && !extra.contains(&id) {
                extra.push(id);
            }
        }
        let success = i64::from(body.result == Outcome::Success);
        let cols = Columns::take(&mut body);
        let app_id = cache.terms.app(self.conn, app)?;
        let values = [&cols.email, &cols.profile_id, &cols.ip, &cols.session_id];
        let mut refs = [None; 4];
        let mut created = [false; 4];
        for (i, value) in values.iter().enumerate() {
            if let Some(v) = value {
                let (id, new) = cache.terms.id(self.conn, tenant_id, i as i64 + 1, v)?;
                refs[i] = Some(id);
                created[i] = new;
            }
        }
        // A row not stored takes back the terms it created (see `Terms::undo`).
        let undo = |terms: &mut Terms| -> Result<(), StoreError> {
            for (i, value) in values.iter().enumerate() {
                if let (true, Some(v)) = (created[i], value) {
                    terms.undo(self.conn, tenant_id, i as i64 + 1, v)?;
                }
            }
            Ok(())
        };
        let source = cols.source_id.as_deref();
        if let Some(s) = source
            && self.spilled(&mut cache.spills, tenant_id)?
            && let Some((seq, time_us)) = by_spilled_source(self.conn, tenant_id, s)?
        {
            undo(&mut cache.terms)?;
            return Ok(Stored::Duplicate { seq, time_us });
        }
        let mut hash = source.map(intern::source_hash);
        // Typical bodies are a few hundred bytes: one allocation instead of a growing vector.
        let mut json = Vec::with_capacity(1024);
        serde_json::to_writer(&mut json, &body).map_err(backend)?;
        let json = authtrail_body_codec::encode(json);
        let mut row = |hash: Option<i64>| {
            self.insert
                .execute(params![
                    tenant_id,
                    seq,
                    time_us,
                    received_us,
                    app_id,
                    first,
                    refs[0],
                    refs[1],
                    refs[2],
                    success,
                    refs[3],
                    hash,
                    source,
                    json,
                ])
                .map_err(backend)
        };
        if row(hash)? == 0 {
            let (old_seq, old_time, old_source): (i64, i64, Option<String>) = self
                .conn
                .prepare_cached(
                    "SELECT seq, time_us, source_id FROM activities
                     WHERE tenant_id = ?1 AND source_hash = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![tenant_id, hash], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                })
                .map_err(backend)?;
            if old_source.as_deref() == source {
                undo(&mut cache.terms)?;
                return Ok(Stored::Duplicate {
                    seq: old_seq,
                    time_us: old_time,
                });
            }
            // Another eventId with the same hash: kept, by its text, in the spill index.
            hash = None;
            row(hash)?;
            cache.spills.insert(tenant_id, true);
        }
        // The minute as schema 4 floors it: `time_us - time_us mod 60 s`, also before 1970.
        let minute_us = time_us - time_us.rem_euclid(60_000_000);
        *self
            .minutes
            .entry([tenant_id, minute_us, first, success])
            .or_default() += 1;
        let hour_us = crate::term_counts::hour_of(time_us);
        for (kind, term) in crate::term_counts::keys(&refs) {
            *self
                .terms
                .entry([tenant_id, kind, hour_us, first, success, term])
                .or_default() += 1;
        }
        if !extra.is_empty() {
            let rowid = self.conn.last_insert_rowid();
            for id in extra {
                self.conn
                    .prepare_cached(
                        "INSERT INTO activity_extra_events (tenant_id, event_id, time_us, seq, act_rowid)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .and_then(|mut s| s.execute(params![tenant_id, id, time_us, seq, rowid]))
                    .map_err(backend)?;
            }
        }
        Ok(Stored::Yes)
    }
}

/// The (seq, time) of the tenant's activity whose eventId `source` is in the spill index.
fn by_spilled_source(
    conn: &Connection,
    tenant_id: i64,
    source: &str,
) -> Result<Option<(i64, i64)>, StoreError> {
    conn.prepare_cached(
        "SELECT seq, time_us FROM activities
         WHERE tenant_id = ?1 AND source_hash IS NULL AND source_id = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![tenant_id, source], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    })
    .map_err(backend)
}

/// The values of a body that have their own column. Taken out of the body before it is
/// serialized, and put back by the reader (`read::decode`) when the body lacks them, so each is
/// stored once. The e-mail column is lowercase (for case-insensitive lookup), so an e-mail with
/// capitals stays in the body as sent.
pub(crate) struct Columns {
    pub email: Option<String>,
    pub profile_id: Option<String>,
    pub ip: Option<String>,
    pub session_id: Option<String>,
    pub source_id: Option<String>,
}

impl Columns {
    pub(crate) fn take(body: &mut ActivityBody) -> Columns {
        let email = body.actor.email.take().map(|e| {
            // Most addresses are lowercase ASCII already: moved into the column, not copied.
            if e.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
                return e;
            }
            let lower = e.to_lowercase();
            if lower != e {
                body.actor.email = Some(e);
            }
            lower
        });
        Columns {
            email,
            profile_id: body.actor.profile_id.take(),
            ip: body.ip_address.take(),
            session_id: body.session_id.take(),
            source_id: body.event_id.take(),
        }
    }
}
/// Adds each of a request's counts to its counter with `upsert` (the key as `?1`.., the count
/// last): one prepared statement, keys in order, so that neighbouring counters share pages.
fn upsert_all<const K: usize>(
    conn: &Connection,
    upsert: &str,
    counts: HashMap<[i64; K], i64>,
) -> Result<(), StoreError> {
    let mut counts: Vec<([i64; K], i64)> = counts.into_iter().collect();
    counts.sort_unstable();
    let mut stmt = conn.prepare_cached(upsert).map_err(backend)?;
    for (key, n) in counts {
        stmt.execute(params_from_iter(key.iter().chain([&n])))
            .map_err(backend)?;
    }
    Ok(())
}
