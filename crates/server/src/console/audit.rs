//! authtrail's own trail of console use: sign-ins (success and failure), sign-outs, and console
//! user changes are stored as activities of the `admin` application in the user's tenant, built
//! as wire JSON and run through the same validation as ingested events, so they are shaped
//! exactly like every other activity and pass the same catalogue checks.

use std::net::IpAddr;

use authtrail_catalog::Catalog;
use authtrail_model::validate::{Context, validate_item};
use authtrail_model::{Store, StoreError, Tenant};
use serde_json::{Value, json};

/// One self-audit event.
pub struct AdminEvent<'a> {
    /// `console.sign_in`, `user.create`, ... (events of `catalog/admin.toml`).
    pub name: &'a str,
    /// Who did it: a console username, or e.g. `cli:root` for the command line.
    pub actor: &'a str,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
    pub success: bool,
    /// String parameters declared for the event (`target_user`, `login_failure_reason`).
    pub params: &'a [(&'a str, &'a str)],
}

/// Stores one admin event in `tenant`. A failure is returned: the caller decides whether the
/// action it records may go on without its trail (sign-in does not).
pub async fn record(
    store: &dyn Store,
    catalog: &Catalog,
    now_us: i64,
    tenant: &Tenant,
    e: AdminEvent<'_>,
) -> Result<(), StoreError> {
    let def = catalog
        .event("admin", e.name)
        .ok_or_else(|| StoreError::Backend(format!("admin event {} is not catalogued", e.name)))?;
    let actor = if e.actor.contains('@') {
        json!({"email": e.actor, "callerType": "USER"})
    } else {
        json!({"profileId": e.actor, "callerType": "USER"})
    };
    let parameters: Vec<Value> = e
        .params
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let mut item = json!({
        "id": {"applicationName": "admin"},
        "actor": actor,
        "events": [{"type": def.event_type, "name": def.name, "parameters": parameters}],
        "result": if e.success { "success" } else { "failure" },
    });
    if let Some(ip) = e.ip {
        item["ipAddress"] = json!(ip.to_string());
    }
    if let Some(ua) = e.user_agent {
        item["userAgent"] = json!(ua.chars().take(512).collect::<String>());
    }
    let ctx = Context {
        catalog,
        tenant,
        now_us,
    };
    let activity = validate_item(&ctx, 0, &item).map_err(|errs| {
        StoreError::Backend(format!(
            "self-audit event {} is invalid: {}",
            e.name,
            errs.iter()
                .map(|x| format!("{}: {}", x.field, x.message))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    store.append(tenant, vec![activity]).await?;
    Ok(())
}
