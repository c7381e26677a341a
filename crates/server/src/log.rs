//! The transparency log's read API (`docs/integrity.md`), tenant-scoped, for a `read` token:
//!
//! - `GET /v1/log/checkpoint`: the latest signed checkpoint, as the C2SP signed note itself
//!   (`text/plain`), as transparency-log tooling expects it;
//! - `GET /v1/log/key`: the tenant's verifier key (`text/plain`, C2SP vkey form);
//! - `GET /v1/log/proof/inclusion?index=N[&size=S]` or `?eventId=E[&size=S]`;
//! - `GET /v1/log/proof/consistency?old=M[&size=S]`;
//! - `GET /v1/log/tile/<L>/<N>[.p/<W>]` and `/v1/log/tile/entries/<N>[.p/<W>]`: C2SP
//!   tlog-tiles, so that generic tlog tooling (with the prefix `/v1/log`) can audit the log.
//!
//! Proofs are JSON with base64 hashes; `size` defaults to the latest checkpoint's, and the
//! answer carries that checkpoint when the proof is against it.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use authtrail_integrity::tiles::Tile;
use authtrail_model::Scope;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

/// Longest `eventId` looked up (the ingest limit on eventIds is lower).
const MAX_EVENT_ID_BYTES: usize = 1024;

fn text(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn b64s(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// A tree size or index parameter: a whole number from `min`.
fn number(p: &Params, name: &str, min: i64) -> Result<Option<u64>, ApiError> {
    Ok(p.int_in(name, min, i64::MAX)?.map(|n| n as u64))
}

pub async fn get_checkpoint(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    auth.require(Scope::Read)?;
    Params::parse(raw.as_deref())?.only(&[])?;
    let cp = state.service.log_checkpoint(&auth.tenant).await?;
    Ok(text(cp.note))
}

pub async fn get_key(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    auth.require(Scope::Read)?;
    Params::parse(raw.as_deref())?.only(&[])?;
    let vkey = state.service.log_key(&auth.tenant).await?;
    Ok(text(format!("{vkey}\n")))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionBody {
    /// The leaf index: the activity's uniqueQualifier minus one.
    pub index: u64,
    pub unique_qualifier: u64,
    pub size: u64,
    pub leaf_hash: String,
    pub hashes: Vec<String>,
    /// The signed checkpoint of `size`, when it is the latest one.
    pub checkpoint: Option<String>,
}

pub async fn get_inclusion(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<InclusionBody>, ApiError> {
    auth.require(Scope::Read)?;
    let p = Params::parse(raw.as_deref())?;
    p.only(&["index", "eventId", "size"])?;
    let size = number(&p, "size", 1)?;
    let index = number(&p, "index", 0)?;
    let event_id = p.bounded("eventId", MAX_EVENT_ID_BYTES)?;
    let service = &state.service;
    let proof = match (index, event_id) {
        (Some(i), None) => service.inclusion_proof(&auth.tenant, i, size).await?,
        (None, Some(e)) => {
            service
                .inclusion_proof_of_event(&auth.tenant, e, size)
                .await?
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::field("index", "give index or eventId, not both"));
        }
        (None, None) => return Err(ApiError::field("index", "give index or eventId")),
    };
    Ok(Json(InclusionBody {
        index: proof.index,
        unique_qualifier: proof.index + 1,
        size: proof.size,
        leaf_hash: B64.encode(proof.leaf),
        hashes: b64s(&proof.hashes),
        checkpoint: proof.checkpoint,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyBody {
    pub old: u64,
    pub size: u64,
    pub hashes: Vec<String>,
    /// The signed checkpoint of `size`, when it is the latest one.
    pub checkpoint: Option<String>,
}

pub async fn get_consistency(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<ConsistencyBody>, ApiError> {
    auth.require(Scope::Read)?;
    let p = Params::parse(raw.as_deref())?;
    p.only(&["old", "size"])?;
    let size = number(&p, "size", 1)?;
    let old = number(&p, "old", 1)?.ok_or_else(|| ApiError::field("old", "is required"))?;
    let proof = state
        .service
        .consistency_proof(&auth.tenant, old, size)
        .await?;
    Ok(Json(ConsistencyBody {
        old: proof.old,
        size: proof.size,
        hashes: b64s(&proof.hashes),
        checkpoint: proof.checkpoint,
    }))
}

pub async fn get_tile(
    State(state): State<AppState>,
    auth: Auth,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    auth.require(Scope::Read)?;
    Params::parse(raw.as_deref())?.only(&[])?;
    let Path(path) =
        path.map_err(|_| ApiError::field("path", "is not valid percent-encoded UTF-8"))?;
    let tile = Tile::parse(&path)
        .map_err(|m| ApiError::field("path", format!("{path:?} is not a tile path: {m}")))?;
    let bytes = state.service.log_tile(&auth.tenant, tile).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            // A tile's content never changes (a partial one is named by its width).
            (header::CACHE_CONTROL, "private, max-age=86400, immutable"),
        ],
        bytes,
    )
        .into_response())
}
