//! The token admin API, for the caller's own tenant (an `admin`-scoped token):
//!
//! - `POST /v1/admin/tokens` `{"name", "scopes": [...], "expiresInDays"?}`: mints a token; the
//!   secret is in this one answer and nowhere else (only its hash is stored).
//! - `GET /v1/admin/tokens`: the tenant's tokens, never their secrets.
//! - `DELETE /v1/admin/tokens/{id}`: revokes at once; every node checks the store on each request.
//!
//! Each create and revoke is recorded as an `admin` event (self-audit) before it is answered. A
//! token whose creation cannot be recorded is revoked again: no admin action goes unaudited.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{Scope, TokenRecord};

use crate::auth::{Auth, mint_token};
use crate::error::ApiError;
use crate::ingest::read_body;
use crate::protect::ClientIp;
use crate::self_audit::{AdminActor, AdminEvent, record};
use crate::state::AppState;

const MAX_NAME_BYTES: usize = 100;
const MAX_EXPIRY_DAYS: i64 = 3650;
const DAY_US: i64 = 86_400_000_000;

struct CreateRequest {
    name: String,
    scopes: Vec<Scope>,
    expires_in_days: Option<i64>,
}

fn parse_create(bytes: &[u8]) -> Result<CreateRequest, ApiError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;
    let Value::Object(m) = v else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["name", "scopes", "expiresInDays"].contains(&k.as_str()))
    {
        return Err(ApiError::field(k, "is not a field of a token request"));
    }
    let name = match m.get("name") {
        None => String::new(),
        Some(Value::String(s)) if s.len() <= MAX_NAME_BYTES && !s.contains('\0') => s.clone(),
        Some(Value::String(_)) => {
            return Err(ApiError::field(
                "name",
                format!("must be at most {MAX_NAME_BYTES} bytes, without NUL"),
            ));
        }
        Some(_) => return Err(ApiError::field("name", "must be a string")),
    };
    let scopes = parse_scopes(&m)?;
    let expires_in_days = match m.get("expiresInDays") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(d) if (1..=MAX_EXPIRY_DAYS).contains(&d) => Some(d),
            _ => {
                return Err(ApiError::field(
                    "expiresInDays",
                    format!("must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}"),
                ));
            }
        },
    };
    Ok(CreateRequest {
        name,
        scopes,
        expires_in_days,
    })
}

fn parse_scopes(m: &Map<String, Value>) -> Result<Vec<Scope>, ApiError> {
    let Some(Value::Array(items)) = m.get("scopes") else {
        return Err(ApiError::field(
            "scopes",
            "is required: an array of \"ingest\", \"read\", \"admin\"",
        ));
    };
    if items.is_empty() || items.len() > 3 {
        return Err(ApiError::field("scopes", "must hold one to three scopes"));
    }
    let mut scopes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let scope = item.as_str().and_then(Scope::parse).ok_or_else(|| {
            ApiError::field(
                &format!("scopes[{i}]"),
                "must be \"ingest\", \"read\" or \"admin\"",
            )
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

fn token_json(t: &TokenRecord) -> Value {
    let time = |us: Option<i64>| us.map(|u| format_rfc3339(u, Precision::Millis));
    json!({
        "id": t.id,
        "name": t.name,
        "tenant": t.tenant.as_str(),
        "scopes": t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "createTime": time(Some(t.created_us)),
        "expireTime": time(t.expires_us),
        "revokeTime": time(t.revoked_us),
    })
}

fn scope_names(t: &TokenRecord) -> Vec<&'static str> {
    t.scopes.iter().map(|s| s.as_str()).collect()
}

fn audit_event(name: &'static str, auth: &Auth, ip: ClientIp, t: &TokenRecord) -> AdminEvent {
    AdminEvent::new(name, AdminActor::Token(auth.token_id.clone()))
        .ip(ip.0)
        .string("token_id", &t.id)
        .string("tenant", t.tenant.as_str())
        .strings("scopes", &scope_names(t))
}

/// `POST /v1/admin/tokens`.
pub async fn create_token(
    State(state): State<AppState>,
    auth: Auth,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    auth.require(Scope::Admin)?;
    let bytes = read_body(&state, &headers, body).await?;
    let req = parse_create(&bytes)?;
    let now = state.clock.now_us();
    let minted = mint_token(
        auth.tenant.clone(),
        &req.name,
        req.scopes,
        now,
        req.expires_in_days.map(|d| now + d * DAY_US),
    );
    state.store.put_token(&minted.record).await?;
    let event = audit_event("token.create", &auth, ip, &minted.record);
    if let Err(e) = record(
        state.store.as_ref(),
        &state.catalog,
        now,
        &auth.tenant,
        event,
    )
    .await
    {
        // Unaudited, so it must not work: take it back before answering.
        let _ = state
            .store
            .revoke_token(&auth.tenant, &minted.record.id, now)
            .await;
        return Err(e.into());
    }
    let mut body = token_json(&minted.record);
    body["token"] = json!(minted.secret);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /v1/admin/tokens`.
pub async fn list_tokens(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(Scope::Admin)?;
    let tokens = state.store.list_tokens(Some(&auth.tenant)).await?;
    let tokens: Vec<Value> = tokens.iter().map(token_json).collect();
    Ok(Json(json!({ "tokens": tokens })).into_response())
}

/// `DELETE /v1/admin/tokens/{id}`.
pub async fn revoke_token(
    State(state): State<AppState>,
    auth: Auth,
    Extension(ip): Extension<ClientIp>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(Scope::Admin)?;
    let not_found = || ApiError::NotFound(format!("this tenant has no token {id:?}"));
    if id.len() > 64 {
        return Err(not_found());
    }
    // Another tenant's token id answers exactly like an unknown one.
    let tokens = state.store.list_tokens(Some(&auth.tenant)).await?;
    let Some(token) = tokens.into_iter().find(|t| t.id == id) else {
        return Err(not_found());
    };
    let now = state.clock.now_us();
    if token.revoked_us.is_none() {
        state.store.revoke_token(&auth.tenant, &id, now).await?;
        let event = audit_event("token.revoke", &auth, ip, &token);
        record(
            state.store.as_ref(),
            &state.catalog,
            now,
            &auth.tenant,
            event,
        )
        .await?;
    }
    let revoked = TokenRecord {
        revoked_us: token.revoked_us.or(Some(now)),
        ..token
    };
    Ok(Json(token_json(&revoked)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> String {
        e.details()[0].field.clone()
    }

    #[test]
    fn a_bad_token_request_names_its_field() {
        let bad = [
            (r#"[]"#, "body"),
            (r#"{"#, "body"),
            (r#"{"scopes": ["read"], "colour": 1}"#, "colour"),
            (r#"{"name": "x"}"#, "scopes"),
            (r#"{"scopes": []}"#, "scopes"),
            (r#"{"scopes": ["read", "root"]}"#, "scopes[1]"),
            (r#"{"scopes": ["read"], "name": 5}"#, "name"),
            (
                r#"{"scopes": ["read"], "expiresInDays": 0}"#,
                "expiresInDays",
            ),
            (
                r#"{"scopes": ["read"], "expiresInDays": 1e99}"#,
                "expiresInDays",
            ),
        ];
        for (body, field) in bad {
            let e = parse_create(body.as_bytes()).err().unwrap();
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(field_of(e), field, "{body}");
        }
        let long = format!(r#"{{"scopes": ["read"], "name": "{}"}}"#, "x".repeat(101));
        assert_eq!(
            field_of(parse_create(long.as_bytes()).err().unwrap()),
            "name"
        );
        let ok = parse_create(br#"{"scopes": ["read", "read", "ingest"], "name": "ci"}"#).unwrap();
        assert_eq!(ok.scopes, vec![Scope::Read, Scope::Ingest]);
    }
}
