//! `POST /v1/activities`: batched, atomic, idempotent ingest.
//!
//! The body is a JSON array of activities, or NDJSON (one activity per line) with
//! `Content-Type: application/x-ndjson`. Every item is validated before anything is stored; if any
//! item is invalid, the answer is 400 with every item's errors and nothing is stored. Otherwise
//! the batch is appended in one transaction and the answer, one receipt per item, is sent only
//! after the store reports it durable.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde::Serialize;

use authtrail_model::wire::{self, List, WireItem};
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{Receipt, Scope};
use authtrail_service::Source;

use crate::auth::Auth;
use crate::error::{ApiError, Detail};
use crate::state::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptOut {
    index: usize,
    unique_qualifier: String,
    time: String,
    duplicate: bool,
}

#[derive(Serialize)]
pub struct IngestResponse {
    receipts: Vec<ReceiptOut>,
}

/// The answer to a stored batch, one receipt per item in the order sent (also the answer of
/// Logto's `POST /api/logs` and webhook).
impl From<Vec<Receipt>> for IngestResponse {
    fn from(receipts: Vec<Receipt>) -> IngestResponse {
        IngestResponse {
            receipts: receipts
                .into_iter()
                .enumerate()
                .map(|(index, r)| ReceiptOut {
                    index,
                    unique_qualifier: r.unique_qualifier.to_string(),
                    time: format_rfc3339(r.time_us, Precision::Micros),
                    duplicate: r.duplicate,
                })
                .collect(),
        }
    }
}

/// How an ingest body is framed.
pub enum Format {
    JsonArray,
    Ndjson,
}

fn format_of(headers: &HeaderMap) -> Result<Format, ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Format::JsonArray);
    };
    let ct = ct
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/json" | "" => Ok(Format::JsonArray),
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => {
            Ok(Format::Ndjson)
        }
        other => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {other:?} is not read here; send application/json (an array) or application/x-ndjson"
        ))),
    }
}

/// The body, up to the server's body limit. It has already been read whole, under the body
/// timeout and the byte budget, before the request reached its handler ([`crate::body`]).
pub async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<bytes::Bytes, ApiError> {
    let limit = state.limits.max_body_bytes;
    read_body_up_to(headers, body, limit).await
}

/// A JSON request body of at most `limit` bytes (413 above it; 400 naming `body` when it is not
/// JSON): for the small admin-style bodies (subscriptions, alert rules, watch channels).
pub async fn read_json_up_to(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<serde_json::Value, ApiError> {
    let bytes = read_body_up_to(headers, body, limit).await?;
    authtrail_formats::json::from_slice(&bytes)
        .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))
}

/// [`read_body`] with a smaller limit of the endpoint's own (a webhook delivery, a console
/// form): 413 above it.
pub async fn read_body_up_to(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || ApiError::TooLarge {
        field: "body".into(),
        message: format!("the request body is larger than {limit} bytes; split the batch"),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// Splits a body into items, deserialized straight into the borrowed wire structs (the decoder
/// half of ingest; `validate_wire` is the other). Public so that the fuzz target drives exactly
/// this code.
pub fn parse_items(
    format: Format,
    bytes: &[u8],
    max_batch: usize,
) -> Result<Vec<WireItem<'_>>, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::field(
            "body",
            format!("is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let too_many = |n: usize| ApiError::TooLarge {
        field: "body".into(),
        message: format!("the batch has {n} activities; the limit is {max_batch}"),
    };
    match format {
        Format::JsonArray => {
            let batch = wire::batch_from_str(text)
                .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;
            match batch {
                List::Is(items) if items.len() > max_batch => Err(too_many(items.len())),
                List::Is(items) if items.is_empty() => Err(ApiError::field(
                    "body",
                    "is an empty array; send at least one activity",
                )),
                List::Is(items) => Ok(items),
                List::Not(_) => Err(ApiError::field(
                    "body",
                    "must be a JSON array of activities (or NDJSON with Content-Type: application/x-ndjson)",
                )),
            }
        }
        Format::Ndjson => {
            let mut items = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                if items.len() == max_batch {
                    return Err(too_many(
                        text.lines().filter(|l| !l.trim().is_empty()).count(),
                    ));
                }
                let item = wire::item_from_str(line).map_err(|e| ApiError::Invalid {
                    message: format!("line {} is not valid JSON", i + 1),
                    details: vec![Detail {
                        index: Some(items.len()),
                        field: format!("activities[{}]", items.len()),
                        message: format!("line {} is not valid JSON: {e}", i + 1),
                    }],
                })?;
                items.push(item);
            }
            if items.is_empty() {
                return Err(ApiError::field("body", "holds no activities"));
            }
            Ok(items)
        }
    }
}

/// Bodies up to this size (a handful of activities, tens of microseconds of CPU) are parsed and
/// validated on the async worker that received them: sending them to the blocking pool and back
/// would cost two thread wake-ups, more than the work (docs/performance.md, single-event
/// producers).
const INLINE_VALIDATION_BYTES: usize = 4 * 1024;

/// At most one batch per core is parsed and validated at a time: more would not go faster, and
/// each holds its parsed items in memory.
fn validation_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.max(2))
    })
}

pub async fn post_activities(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    auth.require(Scope::Ingest)?;
    let started = authtrail_model::Stopwatch::start();
    let format = format_of(&headers)?;
    let bytes = read_body(&state, &headers, body).await?;
    let inline = bytes.len() <= INLINE_VALIDATION_BYTES;
    let validate = move |st: &AppState, tenant: &authtrail_model::Tenant| {
        let items = parse_items(format, &bytes, st.limits.max_batch)?;
        st.service
            .validate_wire(tenant, Source::Native, &items)
            .map_err(ApiError::from)
    };
    let batch = if inline {
        validate(&state, &auth.tenant)?
    } else {
        // Parsing and validating a large batch is milliseconds of CPU: done on the blocking
        // pool, so that the async workers keep answering queries (and small batches) meanwhile.
        // The raw body and the items borrowed from it are freed there too, before the batch
        // waits for its commit.
        let (st, tenant) = (state.clone(), auth.tenant.clone());
        let permit = validation_slots()
            .acquire()
            .await
            .map_err(|_| ApiError::Internal)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            validate(&st, &tenant)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "ingest validation task failed");
            ApiError::Internal
        })??
    };
    let receipts = state
        .service
        .ingest(&auth.tenant, Source::Native, batch, started)
        .await?;
    Ok(Json(IngestResponse::from(receipts)))
}
