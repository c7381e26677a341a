//! The transparency log's read API (`docs/integrity.md`), tenant-scoped, for a `read` token:
//!
//! - `GET /v1/log/checkpoint`: the latest signed checkpoint, as the C2SP signed note itself
//!   (`text/plain`), as transparency-log tooling expects it;
//! - `GET /v1/log/key`: the tenant's verifier keys (`text/plain`, C2SP vkey form, one a line:
//!   the active key first, then the next one during a rotation; `?format=json` says which is
//!   which and lists retired keys too);
//! - `POST /v1/log/cosignature`: a witness's cosignature of a checkpoint (`text/plain`, the
//!   cosigned checkpoint); `GET /v1/log/witnesses`: the tenant's registered witnesses;
//! - `GET /v1/log/proof/inclusion?index=N[&size=S]` or `?eventId=E[&size=S]`;
//! - `GET /v1/log/proof/consistency?old=M[&size=S]`;
//! - `GET /v1/log/tile/<L>/<N>[.p/<W>]` and `/v1/log/tile/entries/<N>[.p/<W>]`: C2SP
//!   tlog-tiles, so that generic tlog tooling (with the prefix `/v1/log`) can audit the log.
//!
//! Proofs are JSON with base64 hashes; `size` defaults to the latest checkpoint's, and the
//! answer carries that checkpoint when the proof is against it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

use authtrail_integrity::tiles::Tile;
use authtrail_model::Scope;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_service::log_keys::KeyState;
use authtrail_service::log_witnesses::MAX_COSIGNED_BYTES;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::ingest::read_body_up_to;
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyBody {
    /// `active`, `next` (signing beside the active key during a rotation) or `retired`.
    pub state: &'static str,
    pub vkey: String,
    pub key_id: String,
    /// RFC 3339: when the key took this state; absent for the server's default key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

#[derive(Serialize)]
pub struct KeysBody {
    pub keys: Vec<KeyBody>,
}

pub async fn get_key(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    auth.require(Scope::Read)?;
    let p = Params::parse(raw.as_deref())?;
    p.only(&["format"])?;
    let json = match p.bounded("format", 16)? {
        None | Some("text") => false,
        Some("json") => true,
        Some(_) => return Err(ApiError::field("format", "must be text or json")),
    };
    let keys = state.service.log_keys(&auth.tenant).await?;
    if json {
        let keys = keys
            .into_iter()
            .map(|k| KeyBody {
                state: k.state.as_str(),
                vkey: k.vkey,
                key_id: k.key_id,
                since: k.since_us.map(|us| format_rfc3339(us, Precision::Millis)),
            })
            .collect();
        return Ok(Json(KeysBody { keys }).into_response());
    }
    // The signing keys only, the active one first: a client that reads one line gets it.
    let lines: String = keys
        .iter()
        .filter(|k| k.state != KeyState::Retired)
        .map(|k| format!("{}\n", k.vkey))
        .collect();
    Ok(text(lines))
}

#[derive(Serialize)]
pub struct AcceptedBody {
    pub witness: String,
    pub size: u64,
    /// The cosignature's timestamp, POSIX seconds.
    pub time: u64,
    /// Whether it was kept (not when the witness's stored one is newer).
    pub stored: bool,
}

#[derive(Serialize)]
pub struct CosignatureBody {
    pub accepted: Vec<AcceptedBody>,
}

pub async fn post_cosignature(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CosignatureBody>, ApiError> {
    auth.require(Scope::Read)?;
    Params::parse(raw.as_deref())?.only(&[])?;
    let bytes = read_body_up_to(&headers, body, MAX_COSIGNED_BYTES).await?;
    let note = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::field("checkpoint", "the body is not UTF-8 text"))?;
    let accepted = state
        .service
        .submit_cosignature(&auth.tenant, note)
        .await?
        .into_iter()
        .map(|a| AcceptedBody {
            witness: a.witness,
            size: a.size,
            time: a.time,
            stored: a.stored,
        })
        .collect();
    Ok(Json(CosignatureBody { accepted }))
}

#[derive(Serialize)]
pub struct WitnessBody {
    pub name: String,
    pub vkey: String,
}

#[derive(Serialize)]
pub struct WitnessesBody {
    pub witnesses: Vec<WitnessBody>,
}

pub async fn get_witnesses(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<WitnessesBody>, ApiError> {
    auth.require(Scope::Read)?;
    Params::parse(raw.as_deref())?.only(&[])?;
    let witnesses = state
        .service
        .log_witnesses(&auth.tenant)
        .await?
        .into_iter()
        .map(|w| WitnessBody {
            name: w.name,
            vkey: w.vkey,
        })
        .collect();
    Ok(Json(WitnessesBody { witnesses }))
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
