//! The benchmark's data: the demo workload (`authtrail-workload`), generated once and fed to every
//! engine and baseline in the same order, so that every figure of a run is about the same events.

use serde_json::{Map, Value, json};

use authtrail_workload::Generator;

/// One generated activity, in each shape a contender needs.
pub struct Event {
    /// The Google-shaped JSON a producer POSTs to authtrail.
    pub json: String,
    pub time_us: i64,
    pub name: String,
    pub email: String,
    pub ip: String,
    /// The `login_type` parameter, when the event has one (Google `filters` queries).
    pub login_type: Option<String>,
    /// Logto's row: a 21-character nanoid, the key, and the jsonb payload Logto would write.
    pub logto_id: String,
    pub logto_payload: String,
}

pub struct Dataset {
    pub events: Vec<Event>,
}

/// Logto's nanoid alphabet for log ids: lowercase letters and digits, 21 characters.
fn nanoid(rng: &mut impl rand::RngExt) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..21)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A parameter's value as Logto keeps it in `payload.params` (plain JSON).
fn param_value(p: &Value) -> Value {
    for k in [
        "value",
        "boolValue",
        "multiValue",
        "multiIntValue",
        "messageValue",
    ] {
        if let Some(v) = p.get(k) {
            return v.clone();
        }
    }
    p.get("intValue").cloned().unwrap_or(Value::Null)
}

/// The payload Logto's audit middleware would store for this activity (see the Logto reference,
/// §1.3): key, result, ip, userAgent, userId, applicationId, sessionId, params, error.
fn logto_payload(a: &Value, name: &str, email: &str) -> Value {
    let mut p = Map::new();
    p.insert("key".into(), json!(name));
    let ok = a.get("result").and_then(Value::as_str) != Some("failure");
    p.insert("result".into(), json!(if ok { "Success" } else { "Error" }));
    p.insert("ip".into(), a["ipAddress"].clone());
    if let Some(ua) = a.get("userAgent") {
        p.insert("userAgent".into(), ua.clone());
    }
    p.insert("userId".into(), json!(email));
    if let Some(app) = a.get("clientApplicationId") {
        p.insert("applicationId".into(), app.clone());
    }
    if let Some(s) = a.get("sessionId") {
        p.insert("sessionId".into(), s.clone());
    }
    let mut params = Map::new();
    if let Some(list) = a["events"][0]["parameters"].as_array() {
        for q in list {
            if let Some(n) = q["name"].as_str() {
                params.insert(n.to_string(), param_value(q));
            }
        }
    }
    p.insert("params".into(), Value::Object(params));
    if let Some(e) = a.get("error") {
        p.insert("error".into(), e.clone());
    }
    Value::Object(p)
}

impl Dataset {
    /// `n` activities over the `days` before `now_us`, from `seed`.
    pub fn generate(n: u64, seed: u64, now_us: i64, days: u32) -> Dataset {
        use rand::SeedableRng;
        let mut ids = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
        let events = Generator::new(seed, n, now_us, days)
            .map(|a| {
                let time = a["id"]["time"].as_str().unwrap_or_default();
                let time_us = authtrail_model::wire_time::parse_rfc3339(time).unwrap_or(now_us);
                let name = a["events"][0]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let email = a["actor"]["email"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase();
                let login_type = a["events"][0]["parameters"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["name"] == "login_type"))
                    .and_then(|p| p["value"].as_str())
                    .map(str::to_string);
                Event {
                    json: a.to_string(),
                    time_us,
                    ip: a["ipAddress"].as_str().unwrap_or_default().to_string(),
                    login_type,
                    logto_id: nanoid(&mut ids),
                    logto_payload: logto_payload(&a, &name, &email).to_string(),
                    name,
                    email,
                }
            })
            .collect();
        Dataset { events }
    }

    /// The request body of a batch: a JSON array of the events.
    pub fn body(events: &[Event]) -> bytes::Bytes {
        let mut s =
            String::with_capacity(events.iter().map(|e| e.json.len() + 1).sum::<usize>() + 2);
        s.push('[');
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&e.json);
        }
        s.push(']');
        bytes::Bytes::from(s)
    }

    /// `k` events spread evenly over the data set: query parameters drawn from them follow the
    /// data's own skew (busy users and common events come up more often, as in real use).
    pub fn sample(&self, k: usize) -> Vec<&Event> {
        let step = (self.events.len() / k.max(1)).max(1);
        self.events.iter().step_by(step).take(k).collect()
    }
}
