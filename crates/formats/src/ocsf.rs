//! OCSF 1.8.0 records (Open Cybersecurity Schema Framework), the form SIEMs and security lakes
//! ingest. `docs/ocsf.md` is the mapping's specification; `tests/ocsf/run.sh` validates what
//! `authtrail query --format ocsf` prints against the schema's JSON Schema.
//!
//! **One record per event.** An activity of several events (rare: Google and Logto send one)
//! gives one record each, since OCSF has one class and activity per record and the events of one
//! activity may map to different ones. The records share `metadata.correlation_uid`
//! (`tenant:seq`); `metadata.uid` adds the event's index.
//!
//! The class and activity come from the catalogue (`ocsf` and tags in `catalog/*.toml`), never
//! from the event's name. What OCSF has no field for (parameters, the tenant, the network info)
//! goes to `unmapped`, so that no part of the activity is lost.

use authtrail_catalog::{Catalog, EventDef, Lang, OCSF_AUTHENTICATION, OCSF_BASE_EVENT, Tag};
use authtrail_model::{Activity, Event, Outcome, ParamValue};
use serde_json::{Map, Value, json};

/// The OCSF version the records follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";

/// OCSF `severity_id`s used: a warning is Medium, a failure Low, anything else Informational.
const INFORMATIONAL: (u8, &str) = (1, "Informational");
const LOW: (u8, &str) = (2, "Low");
const MEDIUM: (u8, &str) = (3, "Medium");

/// The OCSF records of an activity, one per event, in the events' order.
pub fn to_ocsf(a: &Activity, catalog: &Catalog) -> Vec<Value> {
    a.body
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| record(a, catalog, i, e))
        .collect()
}

fn record(a: &Activity, catalog: &Catalog, index: usize, e: &Event) -> Value {
    let def = catalog.event(&a.application, &e.name);
    let ids = def.map_or(authtrail_catalog::OcsfIds::BASE_EVENT, EventDef::ocsf_ids);
    // The catalogue refuses ids it cannot name, so this holds for every built-in or user event.
    let (class_name, activity_name) = ids.names().unwrap_or(("Base Event", "Other"));
    let has = |t| def.is_some_and(|d| d.has(t));
    let failed = a.body.result == Outcome::Failure;
    let (severity_id, severity) = if has(Tag::AccountWarning) {
        MEDIUM
    } else if failed {
        LOW
    } else {
        INFORMATIONAL
    };
    let seq = a.unique_qualifier;
    let tenant = a.tenant.as_str();
    let mut r = json!({
        "activity_id": ids.activity_id,
        "activity_name": activity_name,
        "category_uid": ids.category_uid(),
        "category_name": ids.category_name(),
        "class_uid": ids.class_uid,
        "class_name": class_name,
        "type_uid": ids.type_uid(),
        "type_name": format!("{class_name}: {activity_name}"),
        "severity_id": severity_id,
        "severity": severity,
        "time": a.time_us.div_euclid(1000),
        "status_id": if failed { 2 } else { 1 },
        "status": if failed { "Failure" } else { "Success" },
        "message": message(a, def, e),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "authtrail",
                "vendor_name": "authtrail",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "uid": format!("{tenant}:{seq}:{index}"),
            "correlation_uid": format!("{tenant}:{seq}"),
            "sequence": seq,
            "tenant_uid": tenant,
            "log_name": a.application,
            "event_code": e.name,
            "logged_time": a.received_us.div_euclid(1000),
        },
        "unmapped": unmapped(a, e),
    });
    if ids.class_uid != OCSF_BASE_EVENT {
        // Every IAM class has the account (`user`), who acted and from where; Base Event has
        // none of them, so its record keeps them in `unmapped` only.
        identity(&mut r, a, ids.class_uid == OCSF_AUTHENTICATION, catalog);
        if has(Tag::MfaChallenge) && ids.class_uid == OCSF_AUTHENTICATION {
            r["is_mfa"] = Value::Bool(true);
        }
    }
    r
}

/// `user`, `actor`, `src_endpoint`, `http_request` and, for Authentication, `service` and
/// `session`.
fn identity(r: &mut Value, a: &Activity, authentication: bool, catalog: &Catalog) {
    let b = &a.body;
    let mut user = Map::new();
    // OCSF needs one of account, name or uid; an activity without any actor names "unknown"
    // rather than leave the record invalid.
    user.insert("name".into(), b.actor.display().unwrap_or("unknown").into());
    if let Some(email) = &b.actor.email {
        user.insert("email_addr".into(), email.as_str().into());
    }
    if let Some(uid) = &b.actor.profile_id {
        user.insert("uid".into(), uid.as_str().into());
    }
    let user = Value::Object(user);
    r["user"] = user.clone();
    let mut actor = json!({ "user": user });
    if let Some(app) = &b.client_application_id {
        actor["app_uid"] = app.as_str().into();
    }
    if let Some(sid) = &b.session_id {
        actor["session"] = json!({ "uid": sid });
        if authentication {
            r["session"] = json!({ "uid": sid });
        }
    }
    r["actor"] = actor;
    if let Some(ip) = &b.ip_address {
        r["src_endpoint"] = json!({ "ip": ip });
    }
    if let Some(ua) = &b.user_agent {
        r["http_request"] = json!({ "user_agent": ua });
    }
    if authentication {
        // Authentication needs a service or a destination: the application signed in to.
        let name = catalog
            .application(&a.application)
            .map_or(a.application.as_str(), |app| app.names.get(Lang::En));
        r["service"] = json!({ "name": name, "uid": a.application });
    }
}

/// The catalogue's English message for the event, as the console renders it; the event's name
/// when the catalogue does not know it.
fn message(a: &Activity, def: Option<&EventDef>, e: &Event) -> String {
    let Some(def) = def else {
        return e.name.clone();
    };
    let actor = a
        .body
        .actor
        .display()
        .filter(|s| !s.is_empty())
        .unwrap_or("—");
    let failed = a.body.result == Outcome::Failure;
    authtrail_catalog::render(def.template_for(failed).get(Lang::En), "—", |p| {
        if p == "actor" {
            Some(actor.to_string())
        } else {
            e.param(p).map(ParamValue::display)
        }
    })
}

/// Everything of the activity that no OCSF field of the record carries.
fn unmapped(a: &Activity, e: &Event) -> Value {
    let b = &a.body;
    let mut u = Map::new();
    u.insert("application".into(), a.application.as_str().into());
    u.insert("event_type".into(), e.event_type.as_str().into());
    let params: Map<String, Value> = e
        .parameters
        .iter()
        .map(|p| (p.name.clone(), param_json(&p.value)))
        .collect();
    if !params.is_empty() {
        u.insert("parameters".into(), Value::Object(params));
    }
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            u.insert(k.into(), v);
        }
    };
    put("actor_key", b.actor.key.as_deref().map(Into::into));
    put(
        "caller_type",
        b.actor.caller_type.as_deref().map(Into::into),
    );
    put("owner_domain", b.owner_domain.as_deref().map(Into::into));
    put(
        "network_info",
        b.network_info
            .as_ref()
            .and_then(|n| serde_json::to_value(n).ok()),
    );
    put("event_id", b.event_id.as_deref().map(Into::into));
    put("error", b.error.clone());
    Value::Object(u)
}

fn param_json(v: &ParamValue) -> Value {
    match v {
        ParamValue::Str(s) => s.as_str().into(),
        ParamValue::Int(i) => (*i).into(),
        ParamValue::Bool(b) => (*b).into(),
        ParamValue::MultiStr(v) => v.clone().into(),
        ParamValue::MultiInt(v) => v.clone().into(),
        ParamValue::Message(m) => serde_json::to_value(m).unwrap_or(Value::Null),
        ParamValue::Json(v) => v.clone(),
    }
}

#[cfg(test)]
#[path = "ocsf_tests.rs"]
mod tests;
