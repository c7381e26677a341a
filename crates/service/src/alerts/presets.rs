//! The ready-made rules an administrator can switch on (`POST /v1/alert-rules/presets/{name}`
//! with the recipients). Each is an ordinary rule body: the request's own fields override it,
//! and the rule remembers which preset it came from.

use serde_json::{Value, json};

pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    /// The rule body (without recipients).
    pub rule: fn() -> Value,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "google-account-warnings",
        description: "Google's account warnings: suspicious logins, accounts disabled (leaked password, spamming, hijacking), government-backed attack warnings, suspicious session cookies",
        rule: || {
            json!({"name": "Google account warnings", "throttleMinutes": 15, "groupBy": "actor",
                "query": {"application": "login",
                          "category": ["login/account_warning", "login/attack_warning"]}})
        },
    },
    Preset {
        name: "google-2sv-advanced-protection",
        description: "2-Step Verification and Advanced Protection enrolment changes (a 2SV disable weakens an account)",
        rule: || {
            json!({"name": "2-Step Verification and Advanced Protection changes", "throttleMinutes": 0,
                "query": {"application": "login",
                          "category": ["login/2sv_change", "login/titanium_change"]}})
        },
    },
    Preset {
        name: "logto-lockouts",
        description: "Logto identifiers locked out after too many failed attempts",
        rule: || {
            json!({"name": "Logto lockouts", "throttleMinutes": 15, "groupBy": "actor",
                "query": {"application": "logto", "eventName": ["Identifier.Lockout"]}})
        },
    },
    Preset {
        name: "failed-login-burst",
        description: "At least 10 failed sign-ins from one IP address within 5 minutes (Google and Logto)",
        rule: || {
            json!({"name": "Failed sign-in burst", "throttleMinutes": 30,
                "query": {"tag": ["sign_in_attempt", "sign_in_failure"], "result": "failure"},
                "threshold": {"count": 10, "windowMinutes": 5, "groupBy": "ip"}})
        },
    },
    Preset {
        name: "detection-findings",
        description: "authtrail's own detection findings (docs/detection.md): brute force, failed sign-ins from one address, password spray, credential stuffing, impossible travel, MFA fatigue, risky sign-ins",
        rule: || {
            json!({"name": "Detection findings", "throttleMinutes": 15, "groupBy": "actor",
                "query": {"application": "detection",
                          "category": ["detection/attack", "detection/account"]}})
        },
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The preset's body with the request's fields laid over it (an object in `query` or
/// `threshold` replaces the preset's whole).
pub fn merge(preset: &Preset, body: &Value) -> Value {
    let mut out = (preset.rule)();
    if let (Some(o), Some(b)) = (out.as_object_mut(), body.as_object()) {
        for (k, v) in b {
            o.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{GroupBy, Rule, RuleInput};

    /// Every ready-made rule reads as a rule body and selects events of the built-in
    /// catalogue (a renamed category would otherwise fail only when an administrator asks).
    #[test]
    fn every_preset_is_a_valid_rule_of_the_builtin_catalogue() {
        let catalog = authtrail_catalog::Catalog::builtin().unwrap();
        for p in PRESETS {
            let body = merge(p, &json!({"recipients": [{"email": "a@example.com"}]}));
            let input = RuleInput::from_json(&body, true).unwrap();
            let (query, category, tag) = input.query.unwrap();
            let rule = Rule {
                name: input.name.unwrap(),
                enabled: true,
                language: "en".into(),
                throttle_minutes: input.throttle_minutes.unwrap_or(0),
                query,
                category,
                tag,
                threshold: input.threshold.flatten(),
                group_by: input.group_by.unwrap_or(GroupBy::Overall),
                recipients: Vec::new(),
                preset: Some(p.name.into()),
            };
            let q = rule
                .resolve(&catalog)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert!(!q.event_names.is_empty(), "{} selects events", p.name);
        }
    }
}
