//! The stored form of an activity (schema 6 on): its indexed values in columns of their own, and
//! its body with those values taken out, compressed with `authtrail-body-codec` (the same format
//! the SQLite engine stores). PostgreSQL compresses a value only when its row passes about 2 kB,
//! which a body of a few hundred bytes never does, so the compression has to happen here.
//!
//! A value is kept only in its column when the column gives it back exactly: the actor's e-mail
//! when it is already lowercase (the column is lowercase, for case-insensitive lookup), the
//! profile id, the session id, and the IP when its text is the address's normal form (the column
//! is `inet`). [`fill`] puts them back on read. Rows written before schema 6 keep every value in
//! a plain JSON body, and read the same way: the codec passes a body starting with `{` through,
//! and [`fill`] leaves values the body already has.

use std::net::IpAddr;
use std::pin::pin;

use authtrail_model::{ActivityBody, Outcome, StoreError, StoreErrorKind};
use deadpool_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::{fail, pg};

/// One activity ready for `COPY`: everything but its sequence number, which is settled under
/// the tenant lock. Built before the activity joins a group, so the group's transaction spends
/// no time encoding.
pub(crate) struct Item {
    pub(crate) time_us: i64,
    pub(crate) received_us: i64,
    pub(crate) app: String,
    /// The distinct event names, interned, in order; the first goes in `activities.name_id`.
    pub(crate) names: Vec<i32>,
    pub(crate) event_id: Option<String>,
    email: Option<String>,
    profile: Option<String>,
    ip: Option<IpAddr>,
    success: bool,
    session: Option<String>,
    /// The compressed body.
    body: Vec<u8>,
}

impl Item {
    pub(crate) fn new(
        app: String,
        mut body: ActivityBody,
        time_us: i64,
        received_us: i64,
        names: Vec<i32>,
    ) -> Result<Item, StoreError> {
        let email = body.actor.email.take().map(|e| {
            let lower = e.to_lowercase();
            if lower != e {
                body.actor.email = Some(e);
            }
            lower
        });
        // Validation stores the address in its normal text form, so this parse succeeds and
        // the text round-trips; anything else stays in the body too.
        let ip = body.ip_address.as_deref().and_then(|s| s.parse().ok());
        if let (Some(text), Some(addr)) = (&body.ip_address, ip)
            && *text == IpAddr::to_string(&addr)
        {
            body.ip_address = None;
        }
        let success = body.result == Outcome::Success;
        let profile = body.actor.profile_id.take();
        let session = body.session_id.take();
        let event_id = body.event_id.clone();
        // Typical bodies are a few hundred bytes: one allocation instead of a growing vector.
        let mut json = Vec::with_capacity(1024);
        serde_json::to_writer(&mut json, &body).map_err(|e| {
            StoreError::caused(StoreErrorKind::Invalid, "cannot encode an activity body", e)
        })?;
        Ok(Item {
            time_us,
            received_us,
            app,
            names,
            event_id,
            email,
            profile,
            ip,
            success,
            session,
            body: authtrail_body_codec::encode(json),
        })
    }

    /// Bytes this item sends, to cap a group's size.
    pub(crate) fn size(&self) -> usize {
        self.body.len() + self.app.len() + 64
    }
}

/// A stored body, decompressed: its JSON text.
pub(crate) fn body_json(blob: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, StoreError> {
    authtrail_body_codec::decode(blob).map_err(|e| {
        fail(
            StoreErrorKind::Corrupt,
            format!("stored activity body: {e}"),
        )
    })
}

/// Parses a stored body's JSON text ([`body_json`]) and puts back the values kept only in their
/// columns (see the module doc): `email`, `profile`, `ip` and `session` are those columns.
pub(crate) fn fill(
    json: &[u8],
    email: Option<String>,
    profile: Option<String>,
    ip: Option<IpAddr>,
    session: Option<String>,
) -> Result<ActivityBody, StoreError> {
    let mut body: ActivityBody = serde_json::from_slice(json).map_err(|e| {
        StoreError::caused(
            StoreErrorKind::Corrupt,
            "stored activity body is not valid",
            e,
        )
    })?;
    let put = |field: &mut Option<String>, column: Option<String>| {
        if field.is_none() {
            *field = column;
        }
    };
    put(&mut body.actor.email, email);
    put(&mut body.actor.profile_id, profile);
    put(&mut body.ip_address, ip.map(|a| a.to_string()));
    put(&mut body.session_id, session);
    Ok(body)
}

/// One row of a write: an item and the sequence number it got.
pub(crate) type Row<'a> = (i64, &'a Item);

const COPY: &str = "COPY activities (tenant_id, seq, time_us, received_us, app, name_id, \
    actor_email, actor_profile, ip, success, session_id, body) FROM STDIN BINARY";

const COPY_TYPES: &[Type] = &[
    Type::INT4,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::INET,
    Type::BOOL,
    Type::TEXT,
    Type::BYTEA,
];

/// Writes rows, their eventIds and their extra event names inside the caller's transaction (or
/// savepoint). Statements are prepared once per connection: a group sends them again and again.
pub(crate) async fn write(
    tx: &Transaction<'_>,
    tid: i32,
    rows: &[Row<'_>],
) -> Result<(), StoreError> {
    // eventIds first: should the key refuse one, nothing heavier has been written yet.
    let with_id: Vec<(&str, i64, i64)> = rows
        .iter()
        .filter_map(|(seq, it)| it.event_id.as_deref().map(|id| (id, *seq, it.time_us)))
        .collect();
    if !with_id.is_empty() {
        let ids: Vec<&str> = with_id.iter().map(|r| r.0).collect();
        let seqs: Vec<i64> = with_id.iter().map(|r| r.1).collect();
        let times: Vec<i64> = with_id.iter().map(|r| r.2).collect();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO event_ids (tenant_id, event_id, seq, time_us)
                 SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[])
                 ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(pg)?;
        let inserted = tx
            .execute(&stmt, &[&tid, &ids, &seqs, &times])
            .await
            .map_err(pg)?;
        if inserted != ids.len() as u64 {
            return Err(fail(
                StoreErrorKind::Conflict,
                "an eventId of this batch is already stored for this tenant; nothing was written",
            ));
        }
    }

    let copy = tx.prepare_cached(COPY).await.map_err(pg)?;
    let sink = tx.copy_in(&copy).await.map_err(pg)?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, COPY_TYPES));
    for (seq, it) in rows {
        let values: [&(dyn ToSql + Sync); 12] = [
            &tid,
            seq,
            &it.time_us,
            &it.received_us,
            &it.app,
            &it.names[0],
            &it.email,
            &it.profile,
            &it.ip,
            &it.success,
            &it.session,
            &it.body,
        ];
        writer.as_mut().write(&values).await.map_err(pg)?;
    }
    writer.as_mut().finish().await.map_err(pg)?;

    let extra: Vec<(i32, i64, i64)> = rows
        .iter()
        .flat_map(|(seq, it)| it.names[1..].iter().map(move |n| (*n, it.time_us, *seq)))
        .collect();
    if !extra.is_empty() {
        let names: Vec<i32> = extra.iter().map(|e| e.0).collect();
        let times: Vec<i64> = extra.iter().map(|e| e.1).collect();
        let seqs: Vec<i64> = extra.iter().map(|e| e.2).collect();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO activity_extra_events (tenant_id, name_id, time_us, seq)
                 SELECT $1, * FROM unnest($2::integer[], $3::bigint[], $4::bigint[])",
            )
            .await
            .map_err(pg)?;
        tx.execute(&stmt, &[&tid, &names, &times, &seqs])
            .await
            .map_err(pg)?;
    }
    Ok(())
}

/// The rows of a small group, as one `INSERT` whose statement can be pipelined with the rest of
/// its transaction (see `group.rs`); `COPY` needs a round trip to start and one to finish.
pub(crate) const INSERT: &str = "INSERT INTO activities (tenant_id, seq, time_us, received_us, app, \
    name_id, actor_email, actor_profile, ip, success, session_id, body) \
    SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::integer[], \
    $7::text[], $8::text[], $9::inet[], $10::boolean[], $11::text[], $12::bytea[])";

/// Their eventIds; without `ON CONFLICT`, so that a taken id fails the transaction on the server
/// and its pipelined `COMMIT` becomes a rollback.
pub(crate) const INSERT_IDS: &str = "INSERT INTO event_ids (tenant_id, event_id, seq, time_us) \
    SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[])";

/// Their extra event names.
pub(crate) const INSERT_EXTRA: &str = "INSERT INTO activity_extra_events \
    (tenant_id, name_id, time_us, seq) \
    SELECT $1, * FROM unnest($2::integer[], $3::bigint[], $4::bigint[])";

/// Rows as the arrays of [`INSERT`], [`INSERT_IDS`] and [`INSERT_EXTRA`].
pub(crate) struct Arrays<'a> {
    seq: Vec<i64>,
    time: Vec<i64>,
    received: Vec<i64>,
    app: Vec<&'a str>,
    name: Vec<i32>,
    email: Vec<Option<&'a str>>,
    profile: Vec<Option<&'a str>>,
    ip: Vec<Option<IpAddr>>,
    success: Vec<bool>,
    session: Vec<Option<&'a str>>,
    body: Vec<&'a [u8]>,
    id: Vec<&'a str>,
    id_seq: Vec<i64>,
    id_time: Vec<i64>,
    extra_name: Vec<i32>,
    extra_time: Vec<i64>,
    extra_seq: Vec<i64>,
}

impl<'a> Arrays<'a> {
    pub(crate) fn of(rows: &[Row<'a>]) -> Arrays<'a> {
        let n = rows.len();
        let mut a = Arrays {
            seq: Vec::with_capacity(n),
            time: Vec::with_capacity(n),
            received: Vec::with_capacity(n),
            app: Vec::with_capacity(n),
            name: Vec::with_capacity(n),
            email: Vec::with_capacity(n),
            profile: Vec::with_capacity(n),
            ip: Vec::with_capacity(n),
            success: Vec::with_capacity(n),
            session: Vec::with_capacity(n),
            body: Vec::with_capacity(n),
            id: Vec::new(),
            id_seq: Vec::new(),
            id_time: Vec::new(),
            extra_name: Vec::new(),
            extra_time: Vec::new(),
            extra_seq: Vec::new(),
        };
        for &(seq, it) in rows {
            a.seq.push(seq);
            a.time.push(it.time_us);
            a.received.push(it.received_us);
            a.app.push(&it.app);
            a.name.push(it.names[0]);
            a.email.push(it.email.as_deref());
            a.profile.push(it.profile.as_deref());
            a.ip.push(it.ip);
            a.success.push(it.success);
            a.session.push(it.session.as_deref());
            a.body.push(&it.body);
            if let Some(id) = &it.event_id {
                a.id.push(id);
                a.id_seq.push(seq);
                a.id_time.push(it.time_us);
            }
            for n in &it.names[1..] {
                a.extra_name.push(*n);
                a.extra_time.push(it.time_us);
                a.extra_seq.push(seq);
            }
        }
        a
    }

    pub(crate) fn rows<'b>(&'b self, tid: &'b i32) -> [&'b (dyn ToSql + Sync); 12] {
        [
            tid,
            &self.seq,
            &self.time,
            &self.received,
            &self.app,
            &self.name,
            &self.email,
            &self.profile,
            &self.ip,
            &self.success,
            &self.session,
            &self.body,
        ]
    }

    /// The eventIds' parameters, if any row has one.
    pub(crate) fn ids<'b>(&'b self, tid: &'b i32) -> Option<[&'b (dyn ToSql + Sync); 4]> {
        let p: [&'b (dyn ToSql + Sync); 4] = [tid, &self.id, &self.id_seq, &self.id_time];
        (!self.id.is_empty()).then_some(p)
    }

    /// The extra event names' parameters, if any row has some.
    pub(crate) fn extra<'b>(&'b self, tid: &'b i32) -> Option<[&'b (dyn ToSql + Sync); 4]> {
        let p: [&'b (dyn ToSql + Sync); 4] =
            [tid, &self.extra_name, &self.extra_time, &self.extra_seq];
        (!self.extra_name.is_empty()).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authtrail_model::{Actor, Event};

    fn body(email: &str, ip: &str) -> ActivityBody {
        ActivityBody {
            actor: Actor {
                email: Some(email.into()),
                profile_id: Some("1234".into()),
                ..Default::default()
            },
            owner_domain: None,
            ip_address: Some(ip.into()),
            network_info: None,
            events: vec![Event {
                event_type: "login".into(),
                name: "login_success".into(),
                parameters: Vec::new(),
            }],
            user_agent: Some("Mozilla/5.0".into()),
            session_id: Some("s-1".into()),
            client_application_id: None,
            result: Outcome::Success,
            error: None,
            event_id: Some("e-1".into()),
            erased_by: None,
        }
    }

    /// What a reader gets back is what was written, whether a value went to its column alone or
    /// stayed in the body.
    #[test]
    fn bodies_read_back_as_written() {
        for (email, ip) in [
            ("a@x.io", "10.0.0.1"),
            ("Bob@X.io", "2001:db8::1"),
            ("a@x.io", "::ffff:10.0.0.1"),
        ] {
            let written = body(email, ip);
            let it = Item::new("login".into(), written.clone(), 1, 2, vec![7]).unwrap();
            let stored = authtrail_body_codec::decode(&it.body).unwrap();
            let text = String::from_utf8_lossy(&stored);
            assert!(!text.contains("1234") && !text.contains("s-1"), "{text}");
            assert!(
                text.contains("e-1"),
                "the eventId stays in the body: {text}"
            );
            let read = fill(
                &body_json(&it.body).unwrap(),
                it.email,
                it.profile,
                it.ip,
                it.session,
            )
            .unwrap();
            assert_eq!(read, written);
        }
    }

    /// A plain JSON body of schema 5 or earlier (every value in it) reads unchanged.
    #[test]
    fn old_plain_bodies_read_the_same() {
        let written = body("Bob@X.io", "10.0.0.1");
        let plain = serde_json::to_vec(&written).unwrap();
        let read = fill(
            &body_json(&plain).unwrap(),
            Some("bob@x.io".into()),
            Some("1234".into()),
            Some("10.0.0.1".parse().unwrap()),
            Some("s-1".into()),
        )
        .unwrap();
        assert_eq!(read, written);
    }

    #[test]
    fn a_body_that_does_not_decode_is_reported_corrupt() {
        let e = body_json(&[9, 1, 2]).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Corrupt);
        let e = fill(b"{\"events\": 7}", None, None, None, None).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Corrupt);
    }
}
