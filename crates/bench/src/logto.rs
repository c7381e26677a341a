//! The baseline a Logto user already runs: Logto's `logs` table in PostgreSQL (jsonb payload,
//! random nanoid primary key, its five tenant-leading indexes, three of them on jsonb
//! expressions), filled by one autocommit INSERT per event as Logto's audit middleware does, and
//! the same table filled with COPY. Queried with Logto's own shapes: `ORDER BY created_at DESC
//! LIMIT/OFFSET` and an exact or capped `count(*)`.
//!
//! Left out of Logto's setup: the BEFORE INSERT trigger and the row-level-security policy (both
//! make Logto slower, so the baseline is, if anything, flattered). Everything lives in a schema
//! named `bench_…`, dropped at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls};

use crate::data::{Dataset, LogtoRow};
use crate::stats::Latency;

/// Logto's tenant id for the benchmark's rows.
pub const TENANT: &str = "bench";

pub async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Creates `schema` with Logto's `logs` table (packages/schemas/tables/logs.sql, 1.42.0).
pub async fn create(url: &str, schema: &str) -> anyhow::Result<()> {
    let c = connect(url).await?;
    c.batch_execute(&format!(
        "CREATE SCHEMA {schema};
         SET search_path = {schema};
         CREATE TABLE tenants (id varchar(21) PRIMARY KEY);
         INSERT INTO tenants VALUES ('{TENANT}');
         CREATE TABLE logs (
             tenant_id varchar(21) NOT NULL REFERENCES tenants (id) ON UPDATE CASCADE ON DELETE CASCADE,
             id varchar(21) NOT NULL PRIMARY KEY,
             key varchar(128) NOT NULL,
             payload jsonb NOT NULL DEFAULT '{{}}'::jsonb,
             created_at timestamptz NOT NULL DEFAULT now()
         );
         CREATE INDEX logs__key ON logs (tenant_id, key);
         CREATE INDEX logs__user_id ON logs (tenant_id, (payload->>'userId'));
         CREATE INDEX logs__application_id ON logs (tenant_id, (payload->>'applicationId'));
         CREATE INDEX logs__hook_id ON logs (tenant_id, (payload->>'hookId'));
         CREATE INDEX logs__created_at_id ON logs (tenant_id, created_at, id);"
    ))
    .await?;
    Ok(())
}

/// A jsonb value for binary COPY: a version byte, then the text.
#[derive(Debug)]
struct Jsonb<'a>(&'a str);

impl ToSql for Jsonb<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_u8(1);
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }
    to_sql_checked!();
}

/// A timestamptz for binary COPY: microseconds since 2000-01-01.
#[derive(Debug)]
struct Timestamptz(i64);

impl ToSql for Timestamptz {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_i64(self.0 - 946_684_800_000_000);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
    to_sql_checked!();
}

const INSERT: &str = "INSERT INTO logs (tenant_id, id, key, payload, created_at) \
                      VALUES ($1, $2, $3, $4::text::jsonb, to_timestamp($5::float8 / 1e6))";

/// One autocommit INSERT per event (each its own transaction and WAL flush), from `clients`
/// connections at once, as Logto's middleware inserts concurrently. Returns events/s and the
/// latency of each INSERT.
pub async fn insert_each(
    url: &str,
    schema: &str,
    events: Vec<LogtoRow>,
    clients: usize,
) -> anyhow::Result<(f64, Latency)> {
    let events = Arc::new(events);
    let next = Arc::new(AtomicUsize::new(0));
    let mut conns = Vec::new();
    for _ in 0..clients {
        let c = connect(url).await?;
        c.batch_execute(&format!("SET search_path = {schema}"))
            .await?;
        conns.push(c);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in conns {
        let (events, next) = (events.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let stmt = c.prepare(INSERT).await?;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(row) = events.get(i) else {
                    break;
                };
                let s = Instant::now();
                let us = row.time_us as f64;
                c.execute(&stmt, &[&TENANT, &row.id, &row.key, &row.payload, &us])
                    .await?;
                lat.push(s.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    Ok((events.len() as f64 / secs, Latency::of(all)))
}

/// The same rows through `COPY … FROM STDIN BINARY`, one COPY (one transaction) per 100,000.
pub async fn copy(
    url: &str,
    schema: &str,
    data: &Dataset,
    range: std::ops::Range<usize>,
) -> anyhow::Result<f64> {
    let c = connect(url).await?;
    c.batch_execute(&format!("SET search_path = {schema}"))
        .await?;
    let types = [
        Type::VARCHAR,
        Type::VARCHAR,
        Type::VARCHAR,
        Type::JSONB,
        Type::TIMESTAMPTZ,
    ];
    // Reading rows back from the spool is not the database's work: only the COPY is timed.
    let mut busy = std::time::Duration::ZERO;
    for chunk in crate::data::batches(range.clone(), 100_000) {
        let rows = data.logto_rows(chunk)?;
        let started = Instant::now();
        let sink = c
            .copy_in("COPY logs (tenant_id, id, key, payload, created_at) FROM STDIN BINARY")
            .await?;
        let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        for r in &rows {
            let (payload, at) = (Jsonb(&r.payload), Timestamptz(r.time_us));
            writer
                .as_mut()
                .write(&[&TENANT, &r.id, &r.key, &payload, &at])
                .await?;
        }
        writer.finish().await?;
        busy += started.elapsed();
    }
    Ok(range.len() as f64 / busy.as_secs_f64())
}

/// On-disk bytes of every table (with its indexes and TOAST) in `schema`.
pub async fn schema_bytes(url: &str, schema: &str) -> anyhow::Result<u64> {
    let c = connect(url).await?;
    let row = c
        .query_one(
            "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
            &[&schema],
        )
        .await?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// The bytes of each table (heap, TOAST, free-space and visibility maps) and each index of
/// `schema`, a partitioned one's partitions summed into it; largest first. Their sum is
/// [`schema_bytes`].
pub async fn relation_bytes(url: &str, schema: &str) -> anyhow::Result<Vec<(String, u64)>> {
    let c = connect(url).await?;
    let rows = c
        .query(
            "SELECT c.relname::text || CASE WHEN c.relkind IN ('i', 'I') THEN '' ELSE ' (table)' END,
                    (SELECT COALESCE(sum(CASE WHEN c.relkind IN ('i', 'I')
                                         THEN pg_relation_size(t.oid)
                                         ELSE pg_table_size(t.oid) END), 0)
                     FROM pg_class t
                     WHERE t.oid = c.oid
                        OR t.oid IN (SELECT relid FROM pg_partition_tree(c.oid)))::int8 AS bytes
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'i', 'I') AND NOT c.relispartition
             ORDER BY bytes DESC",
            &[&schema],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .collect())
}

pub async fn drop_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    assert!(
        schema.starts_with("bench_"),
        "only the benchmark's own schemas are dropped"
    );
    let c = connect(url).await?;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await?;
    Ok(())
}
