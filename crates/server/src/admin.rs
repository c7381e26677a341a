//! The token admin API, for the caller's own tenant (an `admin`-scoped token):
//!
//! - `POST /v1/admin/tokens` `{"name", "scopes": [...], "expiresInDays"?}`: mints a token; the
//!   secret is in this one answer and nowhere else (only its hash is stored).
//! - `GET /v1/admin/tokens`: the tenant's tokens, never their secrets.
//! - `DELETE /v1/admin/tokens/{id}`: revokes at once; every node checks the store on each request.
//!
//! The lifecycle itself (and its self-audit) is `authtrail_service::tokens`; this module reads
//! the JSON and renders the answer.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{Scope, Tenant, TokenRecord};
use authtrail_service::tokens::{Caller, MAX_EXPIRY_DAYS, NewToken};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::ingest::read_body;
use crate::protect::ClientIp;
use crate::state::AppState;

/// Reads a token request's JSON (its shape and types; the service checks the values).
fn parse_create(tenant: Tenant, bytes: &[u8]) -> Result<NewToken, ApiError> {
    let v: Value = authtrail_formats::json::from_slice(bytes)
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
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::field("name", "must be a string")),
    };
    let scopes = parse_scopes(&m)?;
    let expires_in_days = match m.get("expiresInDays") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(d) => Some(d),
            None => {
                return Err(ApiError::field(
                    "expiresInDays",
                    format!("must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}"),
                ));
            }
        },
    };
    Ok(NewToken {
        tenant,
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
    if items.len() > 3 {
        return Err(ApiError::field("scopes", "must hold one to three scopes"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str().and_then(Scope::parse).ok_or_else(|| {
                ApiError::field(
                    &format!("scopes[{i}]"),
                    "must be \"ingest\", \"read\" or \"admin\"",
                )
            })
        })
        .collect()
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

fn caller(auth: &Auth, ip: ClientIp) -> Caller {
    Caller::new(auth.actor(), ip.0)
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
    let req = parse_create(auth.tenant.clone(), &bytes)?;
    let minted = state.service.create_token(req, &caller(&auth, ip)).await?;
    let mut body = token_json(&minted.record);
    body["token"] = json!(minted.secret);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /v1/admin/tokens`.
pub async fn list_tokens(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(Scope::Admin)?;
    let tokens = state.service.list_tokens(Some(&auth.tenant)).await?;
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
    let revoked = state
        .service
        .revoke_token(&auth.tenant, &id, &caller(&auth, ip))
        .await?;
    Ok(Json(token_json(&revoked)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> String {
        e.details()[0].field.clone()
    }

    fn parse(body: &[u8]) -> Result<NewToken, ApiError> {
        parse_create(Tenant::new("Ca").unwrap(), body)
    }

    #[test]
    fn a_bad_token_request_names_its_field() {
        let bad = [
            (r#"[]"#, "body"),
            (r#"{"#, "body"),
            (r#"{"scopes": ["read"], "colour": 1}"#, "colour"),
            (r#"{"name": "x"}"#, "scopes"),
            (r#"{"scopes": ["read", "read", "read", "read"]}"#, "scopes"),
            (r#"{"scopes": ["read", "root"]}"#, "scopes[1]"),
            (r#"{"scopes": ["read"], "name": 5}"#, "name"),
            (
                r#"{"scopes": ["read"], "expiresInDays": 1e99}"#,
                "expiresInDays",
            ),
        ];
        for (body, field) in bad {
            let e = parse(body.as_bytes()).err().unwrap();
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(field_of(e), field, "{body}");
        }
        // Values (name length, an empty scope list, the expiry's range) are the service's to check:
        // `authtrail_service::tokens` tests them.
        let ok = parse(br#"{"scopes": ["read", "read", "ingest"], "name": "ci"}"#).unwrap();
        assert_eq!(ok.scopes, vec![Scope::Read, Scope::Read, Scope::Ingest]);
    }
}
