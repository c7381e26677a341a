//! Validation at the edge: raw JSON in, a typed [`NewActivity`] out, or every problem found, each
//! naming the field path (`activities[3].events[0].parameters[1].boolValue`).
//!
//! Items arrive as the borrowed, typed structs of [`crate::wire`], deserialized straight from the
//! request bytes. Those keep a wrong kind of value as its kind instead of failing, so that a
//! producer learns about every bad field of a batch in one answer and each message can say what
//! the catalogue expected. Nothing downstream parses producer JSON again.

use std::net::IpAddr;

use authtrail_catalog::{
    Application, Catalog, EventDef, ExtraParameters, ParamKind, ResultHint, UNKNOWN_KEY_PARAMETER,
};
use serde::Serialize;
use serde_json::Value;

use crate::activity::{
    ActivityBody, Actor, Event, MessageValue, NestedParameter, NetworkInfo, NewActivity, Outcome,
    ParamValue, Parameter, Tenant,
};
use crate::limits::*;
use crate::redact::{REDACTED, is_secret_name, redact_json};
use crate::wire::{
    Kind, Leaf, List, Obj, Str, WireActor, WireEvent, WireId, WireItem, WireMessage,
    WireNetworkInfo, WireParameter,
};
use crate::wire_time::parse_rfc3339;

/// One problem with one field of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The item's position in the batch (0-based).
    pub index: usize,
    /// The full path, e.g. `activities[3].events[0].parameters[1].boolValue`.
    pub field: String,
    pub message: String,
}

/// Everything validation needs besides the item.
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub tenant: &'a Tenant,
    pub now_us: i64,
}

const TOP_FIELDS: &[&str] = &[
    "kind",
    "etag",
    "eventId",
    "id",
    "actor",
    "ownerDomain",
    "ipAddress",
    "networkInfo",
    "events",
    "userAgent",
    "sessionId",
    "clientApplicationId",
    "result",
    "error",
];
/// The fields of a parameter: its name, then [`PARAM_VALUE_FIELDS`] in the same order.
const PARAMETER_FIELDS: &[&str] = &[
    "name",
    "value",
    "intValue",
    "boolValue",
    "multiValue",
    "multiIntValue",
    "messageValue",
    "jsonValue",
];
const PARAM_VALUE_FIELDS: &[&str] = &[
    "value",
    "intValue",
    "boolValue",
    "multiValue",
    "multiIntValue",
    "messageValue",
    "jsonValue",
];

/// Validates the item at `index` of a batch, built in process as JSON (self-audit events, Logto
/// logs, tests): the same checks as [`validate_wire`], over the item's borrowed wire structs.
pub fn validate_item(
    ctx: &Context<'_>,
    index: usize,
    item: &Value,
) -> Result<NewActivity, Vec<FieldError>> {
    match crate::wire::item_from_value(item) {
        Ok(wire) => validate_wire(ctx, index, &wire),
        // A `Value` cannot hold what the wire structs refuse (a repeated key).
        Err(e) => Err(vec![FieldError {
            index,
            field: Path::Item(index).to_string(),
            message: e.to_string(),
        }]),
    }
}

/// Validates the item at `index` of a batch, as deserialized from the request
/// ([`crate::wire::batch_from_str`], [`crate::wire::item_from_str`]).
pub fn validate_wire(
    ctx: &Context<'_>,
    index: usize,
    item: &WireItem<'_>,
) -> Result<NewActivity, Vec<FieldError>> {
    let mut v = Walker {
        index,
        errors: Vec::new(),
    };
    let out = v.activity(ctx, &Path::Item(index), item);
    match out {
        Some(a) if v.errors.is_empty() => Ok(a),
        _ => Err(v.errors),
    }
}

/// Where a field is in the batch, rendered (`activities[3].events[0].name`) only when an error
/// names it: the happy path, by far the common one, builds no path strings.
#[derive(Clone, Copy)]
enum Path<'a> {
    /// `activities[i]`
    Item(usize),
    /// `parent.key`
    Key(&'a Path<'a>, &'a str),
    /// `parent[i]`
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    fn at(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Item(i) => write!(f, "activities[{i}]"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

struct Walker {
    index: usize,
    errors: Vec<FieldError>,
}

impl Walker {
    fn fail(&mut self, field: &Path<'_>, message: impl Into<String>) {
        self.errors.push(FieldError {
            index: self.index,
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn object<'v, T>(&mut self, path: &Path<'_>, v: &'v Obj<T>) -> Option<&'v T> {
        match v {
            Obj::Is(m) => Some(m),
            Obj::Not(kind) => {
                self.fail(
                    path,
                    format!("must be a JSON object, not {}", kind.describe()),
                );
                None
            }
        }
    }

    fn no_unknown(&mut self, path: &Path<'_>, unknown: &[Str<'_>], allowed: &[&str]) {
        for k in unknown {
            self.fail(
                &path.key(k),
                format!(
                    "is not a known field (expected one of: {})",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// A string field: present, a string, no NUL, at most `max` bytes.
    fn string(&mut self, path: &Path<'_>, v: &Leaf<'_>, max: usize) -> Option<String> {
        match v {
            Leaf::Str(s) => {
                if s.len() > max {
                    self.fail(path, format!("is {} bytes; the limit is {max}", s.len()));
                    None
                } else if s.contains('\0') {
                    self.fail(path, "contains a NUL character");
                    None
                } else {
                    Some(s.to_string())
                }
            }
            _ => {
                self.fail(
                    path,
                    format!("must be a string, not {}", v.kind().describe()),
                );
                None
            }
        }
    }

    /// An optional string field `key` of the object at `path`; null is the same as absent.
    fn opt_string(
        &mut self,
        path: &Path<'_>,
        v: &Option<Leaf<'_>>,
        key: &str,
        max: usize,
    ) -> Option<String> {
        match v {
            None | Some(Leaf::Null) => None,
            Some(v) => self.string(&path.key(key), v, max),
        }
    }

    fn int64(&mut self, path: &Path<'_>, v: &Leaf<'_>) -> Option<i64> {
        // Google sends int64 as strings; producers writing by hand send numbers. Both are exact.
        match v {
            Leaf::Number(n) => match n.as_i64() {
                Some(i) => Some(i),
                None => {
                    self.fail(
                        path,
                        format!("{n} is not a whole number in the int64 range"),
                    );
                    None
                }
            },
            Leaf::Str(s) if s.len() <= 20 => match s.parse::<i64>() {
                Ok(i) => Some(i),
                Err(_) => {
                    self.fail(path, format!("{s:?} is not an int64"));
                    None
                }
            },
            _ => {
                self.fail(
                    path,
                    format!(
                        "must be an int64 (a JSON string or number), not {}",
                        v.kind().describe()
                    ),
                );
                None
            }
        }
    }

    fn array<'v, T>(&mut self, path: &Path<'_>, v: &'v List<T>, max: usize) -> Option<&'v [T]> {
        match v {
            List::Is(a) if a.len() > max => {
                self.fail(path, format!("has {} entries; the limit is {max}", a.len()));
                None
            }
            List::Is(a) => Some(a),
            List::Not(kind) => {
                self.fail(
                    path,
                    format!("must be a JSON array, not {}", kind.describe()),
                );
                None
            }
        }
    }

    fn json(&mut self, path: &Path<'_>, v: &Value) -> Option<Value> {
        if depth(v) > MAX_JSON_DEPTH {
            self.fail(path, format!("nests deeper than {MAX_JSON_DEPTH} levels"));
            return None;
        }
        let size = json_len(v);
        if size > MAX_JSON_BYTES {
            self.fail(
                path,
                format!("is {size} bytes as JSON; the limit is {MAX_JSON_BYTES}"),
            );
            return None;
        }
        if contains_nul(v) {
            self.fail(path, "contains a NUL character");
            return None;
        }
        Some(redact_json(v))
    }

    fn activity(
        &mut self,
        ctx: &Context<'_>,
        path: &Path<'_>,
        item: &WireItem<'_>,
    ) -> Option<NewActivity> {
        let m = self.object(path, item)?;
        self.no_unknown(path, &m.unknown, TOP_FIELDS);

        let event_id = self.opt_string(path, &m.event_id, "eventId", MAX_ID_BYTES);
        if event_id.as_deref() == Some("") {
            self.fail(&path.key("eventId"), "must not be empty (omit it instead)");
        }

        // id: applicationName is required; time defaults to now; the server assigns the rest.
        let (app, time_us) = match &m.id {
            None => {
                self.fail(&path.key("id"), "is required (at least id.applicationName)");
                (None, None)
            }
            Some(v) => self.id(ctx, &path.key("id"), v),
        };

        let actor = match &m.actor {
            None | Some(Obj::Not(Kind::Null)) => Actor::default(),
            Some(v) => self.actor(&path.key("actor"), v).unwrap_or_default(),
        };
        let ip_address = self
            .opt_string(path, &m.ip_address, "ipAddress", 64)
            .and_then(|s| match s.parse::<IpAddr>() {
                // IPv4-mapped IPv6 (::ffff:203.0.113.9) is stored as the IPv4 address it is,
                // so that a search for that address finds it.
                Ok(ip) => Some(ip.to_canonical().to_string()),
                Err(_) => {
                    self.fail(
                        &path.key("ipAddress"),
                        format!("{s:?} is not an IPv4 or IPv6 address"),
                    );
                    None
                }
            });
        let network_info = match &m.network_info {
            None | Some(Obj::Not(Kind::Null)) => None,
            Some(v) => self.network_info(&path.key("networkInfo"), v),
        };
        let owner_domain = self.opt_string(path, &m.owner_domain, "ownerDomain", 255);
        let user_agent = self.opt_string(path, &m.user_agent, "userAgent", MAX_STRING_BYTES);
        let session_id = self.opt_string(path, &m.session_id, "sessionId", MAX_ID_BYTES);
        let client_application_id = self.opt_string(
            path,
            &m.client_application_id,
            "clientApplicationId",
            MAX_ID_BYTES,
        );
        let error = match m.error.as_ref().map(|j| &j.0) {
            None | Some(Value::Null) => None,
            Some(v @ (Value::String(_) | Value::Object(_))) => self.json(&path.key("error"), v),
            Some(v) => {
                self.fail(
                    &path.key("error"),
                    format!(
                        "must be a string or an object, not {}",
                        Kind::of(v).describe()
                    ),
                );
                None
            }
        };

        let events = match (&m.events, app) {
            (None, _) => {
                self.fail(&path.key("events"), "is required: at least one event");
                None
            }
            (Some(v), Some(app)) => self.events(&path.key("events"), ctx, app, v),
            (Some(_), None) => None, // the application is unknown; its events cannot be checked
        };

        let result = match &m.result {
            None | Some(Leaf::Null) => None,
            Some(v) => self.string(&path.key("result"), v, 16).and_then(|s| {
                let r = Outcome::parse(&s);
                if r.is_none() {
                    self.fail(
                        &path.key("result"),
                        format!("{s:?} must be \"success\" or \"failure\""),
                    );
                }
                r
            }),
        };

        let (app, time_us, (events, hint)) = (app?, time_us?, events?);
        Some(NewActivity {
            time_us,
            application: app.name.clone(),
            body: ActivityBody {
                actor,
                owner_domain,
                ip_address,
                network_info,
                events,
                user_agent,
                session_id,
                client_application_id,
                result: result.or(hint).unwrap_or(Outcome::Success),
                error,
                event_id,
                erased_by: None,
            },
        })
    }

    fn id<'c>(
        &mut self,
        ctx: &Context<'c>,
        path: &Path<'_>,
        v: &Obj<WireId<'_>>,
    ) -> (Option<&'c Application>, Option<i64>) {
        let Some(m) = self.object(path, v) else {
            return (None, None);
        };
        self.no_unknown(
            path,
            &m.unknown,
            &["time", "applicationName", "customerId", "uniqueQualifier"],
        );
        if m.unique_qualifier.is_some() {
            self.fail(
                &path.key("uniqueQualifier"),
                "is assigned by authtrail; omit it",
            );
        }
        if let Some(c) = self.opt_string(path, &m.customer_id, "customerId", 64)
            && c != ctx.tenant.as_str()
        {
            self.fail(
                &path.key("customerId"),
                "does not match the tenant of the token; omit it or send the token's tenant",
            );
        }
        let app = match &m.application_name {
            None => {
                self.fail(&path.key("applicationName"), "is required");
                None
            }
            Some(v) => self
                .string(&path.key("applicationName"), v, 64)
                .and_then(|name| {
                    let app = ctx.catalog.application(&name);
                    if app.is_none() {
                        let known: Vec<_> = ctx
                            .catalog
                            .applications()
                            .map(|a| a.name.as_str())
                            .collect();
                        self.fail(
                            &path.key("applicationName"),
                            format!(
                                "{name:?} is not in the catalogue (known: {})",
                                known.join(", ")
                            ),
                        );
                    }
                    app
                }),
        };
        let time = match &m.time {
            None | Some(Leaf::Null) => Some(ctx.now_us),
            Some(v) => {
                self.string(&path.key("time"), v, 64)
                    .and_then(|s| match parse_rfc3339(&s) {
                        Ok(us) if us < 0 => {
                            self.fail(&path.key("time"), "is before 1970");
                            None
                        }
                        Ok(us) if us > ctx.now_us + MAX_FUTURE_SKEW_US => {
                            self.fail(&path.key("time"), "is more than 24 hours in the future");
                            None
                        }
                        Ok(us) => Some(us),
                        Err(e) => {
                            self.fail(&path.key("time"), e);
                            None
                        }
                    })
            }
        };
        (app, time)
    }

    fn actor(&mut self, path: &Path<'_>, v: &Obj<WireActor<'_>>) -> Option<Actor> {
        let m = self.object(path, v)?;
        self.no_unknown(
            path,
            &m.unknown,
            &["email", "profileId", "callerType", "key"],
        );
        let email = self.opt_string(path, &m.email, "email", MAX_ID_BYTES);
        if let Some(e) = &email {
            let ok = e
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
                && !e.chars().any(char::is_whitespace);
            if !ok {
                self.fail(
                    &path.key("email"),
                    format!("{e:?} is not an e-mail address"),
                );
            }
        }
        let caller_type = self.opt_string(path, &m.caller_type, "callerType", 16);
        if let Some(c) = &caller_type
            && c != "USER"
            && c != "KEY"
        {
            self.fail(
                &path.key("callerType"),
                format!("{c:?} must be \"USER\" or \"KEY\""),
            );
        }
        Some(Actor {
            email,
            profile_id: self.opt_string(path, &m.profile_id, "profileId", MAX_ID_BYTES),
            caller_type,
            key: self.opt_string(path, &m.key, "key", MAX_ID_BYTES),
        })
    }

    fn network_info(
        &mut self,
        path: &Path<'_>,
        v: &Obj<WireNetworkInfo<'_>>,
    ) -> Option<NetworkInfo> {
        let m = self.object(path, v)?;
        self.no_unknown(
            path,
            &m.unknown,
            &["ipAsn", "regionCode", "subdivisionCode"],
        );
        let mut ip_asn = Vec::new();
        if let Some(a) = &m.ip_asn {
            for (i, n) in self.array(&path.key("ipAsn"), a, 16)?.iter().enumerate() {
                let n = match n {
                    Leaf::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
                    _ => None,
                };
                match n {
                    Some(n) => ip_asn.push(n),
                    None => self.fail(&path.key("ipAsn").at(i), "must be an int32 number"),
                }
            }
        }
        Some(NetworkInfo {
            ip_asn,
            region_code: self.opt_string(path, &m.region_code, "regionCode", 8),
            subdivision_code: self.opt_string(path, &m.subdivision_code, "subdivisionCode", 16),
        })
    }

    fn events(
        &mut self,
        path: &Path<'_>,
        ctx: &Context<'_>,
        app: &Application,
        v: &List<Obj<WireEvent<'_>>>,
    ) -> Option<(Vec<Event>, Option<Outcome>)> {
        let list = self.array(path, v, MAX_EVENTS)?;
        if list.is_empty() {
            self.fail(path, "must hold at least one event");
            return None;
        }
        let mut out = Vec::with_capacity(list.len());
        let mut hint = None;
        for (i, e) in list.iter().enumerate() {
            let p = path.at(i);
            if let Some((event, def)) = self.event(&p, ctx, app, e) {
                if hint.is_none() {
                    hint = def.result.map(|r| match r {
                        ResultHint::Success => Outcome::Success,
                        ResultHint::Failure => Outcome::Failure,
                    });
                }
                out.push(event);
            }
        }
        (out.len() == list.len()).then_some((out, hint))
    }

    fn event<'c>(
        &mut self,
        path: &Path<'_>,
        _ctx: &Context<'c>,
        app: &'c Application,
        v: &Obj<WireEvent<'_>>,
    ) -> Option<(Event, &'c EventDef)> {
        let m = self.object(path, v)?;
        self.no_unknown(path, &m.unknown, &["type", "name", "parameters"]);
        let Some(name) = &m.name else {
            self.fail(&path.key("name"), "is required");
            return None;
        };
        let name = self.string(&path.key("name"), name, 128)?;
        // A name the catalogue does not know is stored as the application's unknown event (if it
        // has one), the name kept as the `key` parameter: nothing that arrived is refused or lost.
        let (def, arrived_as) = match (app.event(&name), app.unknown_event()) {
            (Some(def), _) => (def, None),
            (None, Some(unknown)) => (unknown, Some(name)),
            (None, None) => {
                self.fail(
                    &path.key("name"),
                    format!(
                        "{name:?} is not an event of application {:?} in the catalogue",
                        app.name
                    ),
                );
                return None;
            }
        };
        if let Some(t) = self.opt_string(path, &m.event_type, "type", 128)
            && t != def.event_type
        {
            self.fail(
                &path.key("type"),
                format!(
                    "{t:?} does not match the catalogue: {} is of type {:?}",
                    def.name, def.event_type
                ),
            );
        }
        let mut parameters: Vec<Parameter> = Vec::new();
        if let Some(ps) = &m.parameters {
            let ppath = path.key("parameters");
            let list = self.array(&ppath, ps, MAX_PARAMETERS)?;
            parameters.reserve(list.len());
            for (i, p) in list.iter().enumerate() {
                let pp = ppath.at(i);
                if let Some(param) = self.parameter(&pp, app, def, p) {
                    // At most MAX_PARAMETERS: a scan of those kept is cheaper than a hash set.
                    if parameters.iter().any(|q| q.name == param.name) {
                        self.fail(
                            &pp.key("name"),
                            format!("{:?} appears twice in this event", param.name),
                        );
                    } else {
                        parameters.push(param);
                    }
                }
            }
        }
        if let Some(key) = arrived_as
            && !parameters.iter().any(|p| p.name == UNKNOWN_KEY_PARAMETER)
        {
            parameters.push(Parameter {
                name: UNKNOWN_KEY_PARAMETER.to_string(),
                value: ParamValue::Str(key),
            });
        }
        Some((
            Event {
                event_type: def.event_type.clone(),
                name: def.name.clone(),
                parameters,
            },
            def,
        ))
    }

    fn parameter(
        &mut self,
        path: &Path<'_>,
        app: &Application,
        event: &EventDef,
        v: &Obj<WireParameter<'_>>,
    ) -> Option<Parameter> {
        let m = self.object(path, v)?;
        self.no_unknown(path, &m.unknown, PARAMETER_FIELDS);
        let Some(name) = &m.name else {
            self.fail(&path.key("name"), "is required");
            return None;
        };
        let name = self.string(&path.key("name"), name, 128)?;
        let mut present = PARAM_VALUE_FIELDS
            .iter()
            .copied()
            .filter(|f| sent_value(m, f).is_some());
        let field = match (present.next(), present.next()) {
            (Some(one), None) => one,
            (None, _) => {
                self.fail(
                    path,
                    format!("needs exactly one of {}", PARAM_VALUE_FIELDS.join(", ")),
                );
                return None;
            }
            (Some(first), Some(second)) => {
                let many: Vec<&str> = [first, second].into_iter().chain(present).collect();
                self.fail(
                    path,
                    format!("has {} value fields; send exactly one", many.join(" and ")),
                );
                return None;
            }
        };
        let fpath = path.key(field);
        let declared = app.param_of(event, &name);
        let kind = match declared {
            Some(def) => {
                if def.kind.wire_field() != field {
                    self.fail(
                        &fpath,
                        format!(
                            "{name} is a {} parameter of {}; send it as {}",
                            def.kind.as_str(),
                            event.name,
                            def.kind.wire_field()
                        ),
                    );
                    return None;
                }
                def.kind
            }
            None if app.extra_parameters == ExtraParameters::Reject => {
                let known = if event.parameters.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!("its parameters are {}", event.parameters.join(", "))
                };
                self.fail(
                    &path.key("name"),
                    format!("{name:?} is not a parameter of {}; {known}", event.name),
                );
                return None;
            }
            None => kind_of_field(field),
        };
        // `field` is present and is `kind`'s own wire field (checked just above).
        let raw = sent_value(m, field)?;
        let mut value = self.param_value(&fpath, kind, raw)?;
        // Only a closed set refuses a value it does not list; an open one keeps it (counted by
        // the service as unlisted).
        if let Some(def) = declared.filter(|d| d.closed)
            && let Some(allowed) = def.values.as_ref()
        {
            let bad = match &value {
                ParamValue::Str(s) => def.is_unlisted(s).then(|| s.clone()),
                ParamValue::MultiStr(v) => v.iter().find(|s| def.is_unlisted(s)).cloned(),
                _ => None,
            };
            if let Some(bad) = bad {
                self.fail(
                    &fpath,
                    format!(
                        "{bad:?} is not an allowed value of {} (allowed: {})",
                        def.name,
                        allowed.join(", ")
                    ),
                );
                return None;
            }
        }
        // Declared parameters are known not to be secrets; undeclared ones with secret-looking
        // names are masked before they are stored, as Logto does.
        if declared.is_none() && is_secret_name(&name) {
            value = mask(value);
        }
        Some(Parameter { name, value })
    }

    fn param_value(
        &mut self,
        path: &Path<'_>,
        kind: ParamKind,
        v: Sent<'_, '_>,
    ) -> Option<ParamValue> {
        Some(match (kind, v) {
            (ParamKind::String, Sent::Leaf(v)) => {
                ParamValue::Str(self.string(path, v, MAX_STRING_BYTES)?)
            }
            (ParamKind::Int64, Sent::Leaf(v)) => ParamValue::Int(self.int64(path, v)?),
            (ParamKind::Bool, Sent::Leaf(v)) => match v {
                Leaf::Bool(b) => ParamValue::Bool(*b),
                _ => {
                    self.fail(
                        path,
                        format!("must be true or false, not {}", v.kind().describe()),
                    );
                    return None;
                }
            },
            (ParamKind::MultiString, Sent::List(v)) => {
                let list = self.array(path, v, MAX_MULTI_VALUES)?;
                let mut out = Vec::with_capacity(list.len());
                for (i, s) in list.iter().enumerate() {
                    out.push(self.string(&path.at(i), s, MAX_STRING_BYTES)?);
                }
                ParamValue::MultiStr(out)
            }
            (ParamKind::MultiInt64, Sent::List(v)) => {
                let list = self.array(path, v, MAX_MULTI_VALUES)?;
                let mut out = Vec::with_capacity(list.len());
                for (i, n) in list.iter().enumerate() {
                    out.push(self.int64(&path.at(i), n)?);
                }
                ParamValue::MultiInt(out)
            }
            (ParamKind::Message, Sent::Message(v)) => ParamValue::Message(self.message(path, v)?),
            (ParamKind::Json, Sent::Json(v)) => ParamValue::Json(self.json(path, v)?),
            (kind, _) => {
                // Unreachable: each kind has its own wire field, read as that kind's shape.
                self.fail(path, format!("cannot be read as a {} value", kind.as_str()));
                return None;
            }
        })
    }

    fn message(&mut self, path: &Path<'_>, v: &Obj<WireMessage<'_>>) -> Option<MessageValue> {
        let m = self.object(path, v)?;
        self.no_unknown(path, &m.unknown, &["parameter"]);
        let Some(list) = &m.parameter else {
            return Some(MessageValue::default());
        };
        let list_path = path.key("parameter");
        let list = self.array(&list_path, list, MAX_PARAMETERS)?;
        let mut out = Vec::with_capacity(list.len());
        for (i, p) in list.iter().enumerate() {
            let pp = list_path.at(i);
            let pm = self.object(&pp, p)?;
            self.no_unknown(
                &pp,
                &pm.unknown,
                &[
                    "name",
                    "value",
                    "intValue",
                    "boolValue",
                    "multiValue",
                    "multiIntValue",
                    "multiBoolValue",
                ],
            );
            let name = match &pm.name {
                Some(n) => self.string(&pp.key("name"), n, 128)?,
                None => {
                    self.fail(&pp.key("name"), "is required");
                    return None;
                }
            };
            let secret = is_secret_name(&name);
            let mut np = NestedParameter {
                name,
                ..NestedParameter::default()
            };
            if let Some(x) = &pm.value {
                let s = self.string(&pp.key("value"), x, MAX_STRING_BYTES)?;
                np.value = Some(if secret { REDACTED.to_string() } else { s });
            }
            if let Some(x) = &pm.int_value {
                np.int_value = Some(crate::activity::I64Str(self.int64(&pp.key("intValue"), x)?));
            }
            if let Some(x) = &pm.bool_value {
                np.bool_value = match x {
                    Leaf::Bool(b) => Some(*b),
                    _ => {
                        self.fail(&pp.key("boolValue"), "must be true or false");
                        return None;
                    }
                };
            }
            if let Some(x) = &pm.multi_value {
                match self.param_value(
                    &pp.key("multiValue"),
                    ParamKind::MultiString,
                    Sent::List(x),
                )? {
                    ParamValue::MultiStr(v) => np.multi_value = Some(v),
                    _ => return None,
                }
            }
            if let Some(x) = &pm.multi_int_value {
                match self.param_value(
                    &pp.key("multiIntValue"),
                    ParamKind::MultiInt64,
                    Sent::List(x),
                )? {
                    ParamValue::MultiInt(v) => {
                        np.multi_int_value =
                            Some(v.into_iter().map(crate::activity::I64Str).collect())
                    }
                    _ => return None,
                }
            }
            if let Some(x) = &pm.multi_bool_value {
                let list = self.array(&pp.key("multiBoolValue"), x, MAX_MULTI_VALUES)?;
                let bools: Option<Vec<bool>> = list
                    .iter()
                    .map(|b| match b {
                        Leaf::Bool(b) => Some(*b),
                        _ => None,
                    })
                    .collect();
                match bools {
                    Some(b) => np.multi_bool_value = Some(b),
                    None => {
                        self.fail(&pp.key("multiBoolValue"), "must hold only true or false");
                        return None;
                    }
                }
            }
            out.push(np);
        }
        Some(MessageValue { parameter: out })
    }
}

/// A parameter's value field as sent, in the shape its field is read as.
#[derive(Clone, Copy)]
enum Sent<'v, 'a> {
    Leaf(&'v Leaf<'a>),
    List(&'v List<Leaf<'a>>),
    Message(&'v Obj<WireMessage<'a>>),
    Json(&'v Value),
}

/// The value field `field` (one of [`PARAM_VALUE_FIELDS`]) of `p`, if it was sent (even null).
fn sent_value<'v, 'a>(p: &'v WireParameter<'a>, field: &str) -> Option<Sent<'v, 'a>> {
    match field {
        "value" => p.value.as_ref().map(Sent::Leaf),
        "intValue" => p.int_value.as_ref().map(Sent::Leaf),
        "boolValue" => p.bool_value.as_ref().map(Sent::Leaf),
        "multiValue" => p.multi_value.as_ref().map(Sent::List),
        "multiIntValue" => p.multi_int_value.as_ref().map(Sent::List),
        "messageValue" => p.message_value.as_ref().map(Sent::Message),
        "jsonValue" => p.json_value.as_ref().map(|j| Sent::Json(&j.0)),
        _ => None,
    }
}

fn mask(v: ParamValue) -> ParamValue {
    match v {
        ParamValue::Str(_) => ParamValue::Str(REDACTED.into()),
        ParamValue::MultiStr(v) => {
            ParamValue::MultiStr(v.iter().map(|_| REDACTED.into()).collect())
        }
        ParamValue::Json(v) => ParamValue::Json(crate::redact::mask_value(&v)),
        other @ (ParamValue::Int(_) | ParamValue::Bool(_) | ParamValue::MultiInt(_)) => other,
        ParamValue::Message(_) => ParamValue::Str(REDACTED.into()),
    }
}

fn kind_of_field(field: &str) -> ParamKind {
    match field {
        "value" => ParamKind::String,
        "intValue" => ParamKind::Int64,
        "boolValue" => ParamKind::Bool,
        "multiValue" => ParamKind::MultiString,
        "multiIntValue" => ParamKind::MultiInt64,
        "messageValue" => ParamKind::Message,
        _ => ParamKind::Json,
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn contains_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(contains_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

/// The length of `v` as compact JSON, counted without building the string.
fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, v) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameter_fields_are_the_name_then_the_value_fields() {
        assert_eq!(PARAMETER_FIELDS[0], "name");
        assert_eq!(&PARAMETER_FIELDS[1..], PARAM_VALUE_FIELDS);
    }

    /// Paths are rendered only on failure; these pin the rendering at every depth.
    #[test]
    fn error_paths_name_the_field_at_every_depth() {
        let catalog = Catalog::builtin().unwrap();
        let tenant = Tenant::new("Ctest").unwrap();
        let ctx = Context {
            catalog: &catalog,
            tenant: &tenant,
            now_us: 1_795_392_000_000_000,
        };
        let item = json!({
            "bogus": 1,
            "id": {"applicationName": "logto", "uniqueQualifier": "1"},
            "networkInfo": {"ipAsn": [1, "x"]},
            "events": [
                {"name": "ExchangeTokenBy.AuthorizationCode"},
                {"name": "ExchangeTokenBy.RefreshToken", "parameters": [
                    {"name": "a", "multiValue": ["ok", 5]},
                    {"name": "b", "messageValue": {"parameter": [{"name": "c", "boolValue": 1}]}},
                    {"name": "d", "value": "x", "intValue": "1", "boolValue": true},
                    {"name": "e", "value": "1"},
                    {"name": "e", "value": "2"},
                ]},
            ],
        });
        let errs = validate_item(&ctx, 7, &item).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "activities[7].bogus",
                "activities[7].id.uniqueQualifier",
                "activities[7].networkInfo.ipAsn[1]",
                "activities[7].events[1].parameters[0].multiValue[1]",
                "activities[7].events[1].parameters[1].messageValue.parameter[0].boolValue",
                "activities[7].events[1].parameters[2]",
                "activities[7].events[1].parameters[4].name",
            ]
        );
        assert_eq!(
            errs[5].message,
            "has value and intValue and boolValue value fields; send exactly one"
        );
        assert!(errs.iter().all(|e| e.index == 7));
    }

    /// A NUL is refused in every string, whatever its kind: PostgreSQL's `text` and `jsonb`
    /// cannot hold one, and a field SQLite would store but PostgreSQL refuse would make the two
    /// engines answer one request differently. Each field is named, on both validation paths.
    #[test]
    fn a_nul_is_refused_in_every_kind_of_string_field() {
        let catalog = Catalog::builtin().unwrap();
        let tenant = Tenant::new("Ctest").unwrap();
        let ctx = Context {
            catalog: &catalog,
            tenant: &tenant,
            now_us: 1_795_392_000_000_000,
        };
        let valid = json!({
            "eventId": "e", "sessionId": "s", "userAgent": "u", "error": {"m": "x"},
            "id": {"applicationName": "logto"},
            "actor": {"email": "a@x.io", "profileId": "p"},
            "events": [{"name": "Interaction.Create", "parameters": [
                {"name": "str", "value": "v"},
                {"name": "multi", "multiValue": ["a", "b"]},
                {"name": "msg", "messageValue": {"parameter": [{"name": "n", "value": "v"}]}},
                {"name": "doc", "jsonValue": {"k": ["v"]}},
            ]}],
        });
        assert!(validate_item(&ctx, 0, &valid).is_ok());
        let nul = json!("a\u{0}b");
        for (pointer, field) in [
            ("/eventId", "activities[0].eventId"),
            ("/sessionId", "activities[0].sessionId"),
            ("/userAgent", "activities[0].userAgent"),
            ("/actor/email", "activities[0].actor.email"),
            ("/actor/profileId", "activities[0].actor.profileId"),
            ("/id/applicationName", "activities[0].id.applicationName"),
            ("/error", "activities[0].error"),
            ("/error/m", "activities[0].error"),
            ("/events/0/name", "activities[0].events[0].name"),
            (
                "/events/0/parameters/0/value",
                "activities[0].events[0].parameters[0].value",
            ),
            (
                "/events/0/parameters/1/multiValue/1",
                "activities[0].events[0].parameters[1].multiValue[1]",
            ),
            (
                "/events/0/parameters/2/messageValue/parameter/0/value",
                "activities[0].events[0].parameters[2].messageValue.parameter[0].value",
            ),
            (
                "/events/0/parameters/3/jsonValue/k/0",
                "activities[0].events[0].parameters[3].jsonValue",
            ),
        ] {
            let mut item = valid.clone();
            *item.pointer_mut(pointer).unwrap() = nul.clone();
            let errs = validate_item(&ctx, 0, &item).unwrap_err();
            let wire_errs = validate_wire(
                &ctx,
                0,
                &crate::wire::item_from_str(&item.to_string()).unwrap(),
            )
            .unwrap_err();
            assert_eq!(errs, wire_errs, "{pointer}");
            let said: Vec<(&str, &str)> = errs
                .iter()
                .map(|e| (e.field.as_str(), e.message.as_str()))
                .collect();
            // The application's name is not looked up once refused; so one error each.
            assert_eq!(said, [(field, "contains a NUL character")], "{pointer}");
        }
        // A key inside a JSON value.
        let mut item = valid.clone();
        item["events"][0]["parameters"][3]["jsonValue"] = json!({"k\u{0}": 1});
        let errs = validate_item(&ctx, 0, &item).unwrap_err();
        assert_eq!(
            errs[0].field,
            "activities[0].events[0].parameters[3].jsonValue"
        );
        assert_eq!(errs[0].message, "contains a NUL character");
    }

    /// The request path (text straight into the wire structs) and the in-process path (a
    /// `Value`) report the same problems, in the same order, with the same words.
    #[test]
    fn text_and_values_validate_alike() {
        let catalog = Catalog::builtin().unwrap();
        let tenant = Tenant::new("Ctest").unwrap();
        let ctx = Context {
            catalog: &catalog,
            tenant: &tenant,
            now_us: 1_795_392_000_000_000,
        };
        let items = [
            r#"5"#,
            r#"null"#,
            r#"{"id": null, "events": {}, "eventId": 7, "actor": [], "ipAddress": true}"#,
            r#"{"id": {"applicationName": 1, "time": "yesterday"}, "events": []}"#,
            r#"{"id": {"applicationName": "nope"}, "events": [1]}"#,
            r#"{"id": {"applicationName": "login", "time": "2026-12-03T10:00:00Z", "customerId": "x"},
                "actor": {"email": "not an address", "callerType": "ROBOT", "x": 1},
                "networkInfo": {"ipAsn": [1, 2.5, "3", 99999999999], "regionCode": 5},
                "error": 5, "result": "maybe", "userAgent": "a\u0000b",
                "events": [{"name": "login_success", "type": "nope", "parameters": [
                    {"name": "login_type", "intValue": "1"},
                    {"name": "is_suspicious", "boolValue": "yes"},
                    {"name": "login_challenge_method", "multiValue": "password"},
                    {"name": "login_type"},
                    {"value": "x"}
                ]}]}"#,
            r#"{"id": {"applicationName": "logto"}, "events": [{"name": "Interaction.Create", "parameters": [
                    {"name": "a", "intValue": 18446744073709551615},
                    {"name": "b", "intValue": 1.5},
                    {"name": "c", "intValue": "123456789012345678901"},
                    {"name": "d", "multiIntValue": [1, "x", null]},
                    {"name": "e", "messageValue": {"parameter": [{"name": "f", "multiBoolValue": [true, 1]}]}},
                    {"name": "g", "messageValue": {"parameter": {"name": "f"}}},
                    {"name": "h", "jsonValue": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]},
                    {"name": "i", "messageValue": 3},
                    {"name": "j", "boolValue": null}
                ]}]}"#,
        ];
        for (i, text) in items.iter().enumerate() {
            let value: Value = serde_json::from_str(text).unwrap();
            let from_value = validate_item(&ctx, i, &value).unwrap_err();
            let wire = crate::wire::item_from_str(text).unwrap();
            let from_text = validate_wire(&ctx, i, &wire).unwrap_err();
            assert_eq!(from_text, from_value, "{text}");
            assert!(!from_text.is_empty(), "{text}");
        }
        // The words a producer sees, for each kind sent where another was expected.
        let wire = crate::wire::item_from_str(items[2]).unwrap();
        let errs = validate_wire(&ctx, 0, &wire).unwrap_err();
        let said: Vec<(&str, &str)> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                ("activities[0].eventId", "must be a string, not a number"),
                ("activities[0].id", "must be a JSON object, not null"),
                ("activities[0].actor", "must be a JSON object, not an array"),
                ("activities[0].ipAddress", "must be a string, not a boolean"),
            ]
        );
    }
}
