//! Request bodies are read whole, under a time limit and a server-wide byte budget, *before* a
//! request takes an in-flight slot or reaches a handler (issue #16).
//!
//! - **Time.** A client that trickles its body (one byte every few seconds) used to hold an
//!   in-flight slot for the whole body timeout, before any credential or CSRF check: 256 such
//!   connections locked every client out. Read here, a trickle holds only its own connection, and
//!   gets 408 when the body timeout passes.
//! - **Bytes.** Memory was bounded by the request count: each concurrent 16 MiB batch cost 40-55
//!   MiB once parsed, so 256 in-flight slots allowed about 12 GiB. Each body now holds permits
//!   from one semaphore of `max_body_bytes_in_flight` bytes, taken as its bytes *arrive* (so a
//!   trickle holds only what it has sent) and kept until its response is ready. When the budget
//!   is spent the request is shed with 503 and `Retry-After`, like a request over
//!   `max_in_flight`. Peak memory for bodies is then about 3.5 × the budget (SECURITY.md).
//!
//! Handlers still apply their own, smaller limits (a webhook delivery, a console form) to the
//! buffered body through [`crate::ingest::read_body_up_to`].

use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::state::AppState;

/// The server-wide budget of body bytes in flight.
pub type BodyBudget = Arc<Semaphore>;

/// A budget of `bytes` (at least one maximum-size body, so that one can always be admitted).
pub fn budget(bytes: usize, max_body_bytes: usize) -> BodyBudget {
    Arc::new(Semaphore::new(
        bytes.max(max_body_bytes).min(Semaphore::MAX_PERMITS),
    ))
}

/// Middleware: buffers the body (see the module documentation), then runs the request with the
/// body's budget held until its response is ready.
pub async fn buffer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let path = parts.uri.path().to_string();
    let limit = state.limits.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return crate::respond(&path, too_large(limit));
    }
    let timeout = state.limits.body_timeout;
    let read = tokio::time::timeout(timeout, collect(body, limit, &state.body_budget)).await;
    match read {
        Ok(Ok((bytes, held))) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            drop(held);
            response
        }
        Ok(Err(e)) => crate::respond(&path, e),
        Err(_) => crate::respond(
            &path,
            ApiError::RequestTimeout(format!(
                "the request body did not arrive within {} s",
                timeout.as_secs()
            )),
        ),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::TooLarge {
        field: "body".into(),
        message: format!("the request body is larger than {limit} bytes; split the batch"),
    }
}

/// Reads `body` up to `limit` bytes, taking a permit from `budget` for each byte as it arrives.
async fn collect(
    mut body: Body,
    limit: usize,
    budget: &BodyBudget,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), ApiError> {
    let mut buf = Vec::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        // Reading a body fails only when the client goes away (or breaks the framing): nothing
        // was read, nothing is stored, and the answer most likely reaches no one.
        let frame = frame.map_err(|_| {
            ApiError::field("body", "the connection ended before the body was complete")
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > limit {
            return Err(too_large(limit));
        }
        // `data.len() <= limit`, which the configuration keeps far below u32::MAX.
        let n = u32::try_from(data.len()).map_err(|_| too_large(limit))?;
        let permit = budget
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| ApiError::Overloaded)?;
        match &mut held {
            Some(h) => h.merge(permit),
            None => held = Some(permit),
        }
        buf.extend_from_slice(&data);
    }
    Ok((Bytes::from(buf), held))
}
