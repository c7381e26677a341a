//! From a stored activity to what the detectors look at: who, from where, with what, when, and
//! what kind of thing it was. The kind comes from the catalogue's tags, never from event names,
//! so a user's catalogue file that tags its events is detected like the built-in ones.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use authtrail_catalog::{Catalog, Tag};
use authtrail_model::{Activity, Outcome};

/// What an activity means to the detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The outcome of a sign-in attempt. A failed step of a sign-in flow (Logto's password
    /// verification) is a failed attempt too: the flow ends there and its outcome is never sent.
    Attempt { success: bool },
    /// A second-factor challenge or its verification.
    Mfa { success: bool },
    /// A change to the account's password, second factors or recovery information.
    CredentialChange,
}

/// One activity as the detectors see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// The tenant's sequence number of the activity (its uniqueQualifier).
    pub seq: i64,
    /// When it happened (event time, µs since the epoch): every window runs on this.
    pub time_us: i64,
    pub kind: Kind,
    /// The account: its e-mail in lower case, else its profile id.
    pub account: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The event's name, for evidence ("password_edit 12 min before").
    pub event: String,
}

#[derive(Debug, Clone, Copy)]
enum Class {
    Attempt,
    /// A step of a flow whose type also holds an attempt outcome.
    AttemptStep,
    Mfa,
    CredentialChange,
    Other,
}

/// Classifies activities by the catalogue's tags, caching each event's class.
pub struct Classifier {
    catalog: Arc<Catalog>,
    cache: HashMap<(String, String), Class>,
}

impl Classifier {
    pub fn new(catalog: Arc<Catalog>) -> Classifier {
        Classifier {
            catalog,
            cache: HashMap::new(),
        }
    }

    fn class(&mut self, app: &str, event: &str) -> Class {
        let key = (app.to_string(), event.to_string());
        if let Some(c) = self.cache.get(&key) {
            return *c;
        }
        let c = match (
            self.catalog.application(app),
            self.catalog.event(app, event),
        ) {
            (Some(a), Some(e)) => {
                if e.has(Tag::SignInAttempt) {
                    Class::Attempt
                } else if e.has(Tag::MfaChallenge) {
                    Class::Mfa
                } else if e.has(Tag::CredentialChange) {
                    Class::CredentialChange
                } else if a
                    .events_of_type(&e.event_type)
                    .any(|o| o.has(Tag::SignInAttempt))
                {
                    Class::AttemptStep
                } else {
                    Class::Other
                }
            }
            _ => Class::Other,
        };
        self.cache.insert(key, c);
        c
    }

    /// The signal of `a`, or `None` when it means nothing to the detectors (a logout, a token
    /// exchange, a finding of the detector itself).
    pub fn signal(&mut self, a: &Activity) -> Option<Signal> {
        let success = a.body.result == Outcome::Success;
        let mut found: Option<(Kind, &str)> = None;
        for e in &a.body.events {
            let kind = match self.class(&a.application, &e.name) {
                Class::Attempt => Kind::Attempt { success },
                Class::AttemptStep if !success => Kind::Attempt { success: false },
                Class::Mfa => Kind::Mfa { success },
                Class::CredentialChange => Kind::CredentialChange,
                Class::AttemptStep | Class::Other => continue,
            };
            // An attempt outranks the rest of a multi-event activity.
            if found.is_none() || matches!(kind, Kind::Attempt { .. }) {
                found = Some((kind, &e.name));
            }
        }
        let (kind, event) = found?;
        let actor = &a.body.actor;
        let account = actor
            .email
            .as_deref()
            .map(str::to_lowercase)
            .or_else(|| actor.profile_id.clone());
        Some(Signal {
            seq: a.unique_qualifier,
            time_us: a.time_us,
            kind,
            account,
            ip: a.body.ip_address.as_deref().and_then(|s| s.parse().ok()),
            user_agent: a.body.user_agent.clone(),
            event: event.to_string(),
        })
    }
}

/// The network an address belongs to for "a new network": its /24 (IPv4) or /64 (IPv6).
pub fn prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authtrail_model::Tenant;
    use authtrail_model::validate::{Context, validate_item};
    use serde_json::json;

    fn activity(item: serde_json::Value) -> Activity {
        let catalog = Catalog::builtin().unwrap();
        let tenant = Tenant::new("t").unwrap();
        let ctx = Context {
            catalog: &catalog,
            tenant: &tenant,
            now_us: 1_800_000_000_000_000,
        };
        let n = validate_item(&ctx, 0, &item).unwrap();
        Activity {
            tenant,
            unique_qualifier: 7,
            time_us: n.time_us,
            received_us: n.time_us,
            application: n.application,
            body: n.body,
        }
    }

    #[test]
    fn kinds_come_from_the_catalogue_tags() {
        let mut c = Classifier::new(Arc::new(Catalog::builtin().unwrap()));
        let fail = activity(json!({"id": {"applicationName": "login"},
            "actor": {"email": "Ada@Example.com"}, "ipAddress": "198.51.100.7",
            "events": [{"name": "login_failure"}]}));
        let s = c.signal(&fail).unwrap();
        assert_eq!(s.kind, Kind::Attempt { success: false });
        assert_eq!(s.account.as_deref(), Some("ada@example.com"));
        assert_eq!(s.ip, Some("198.51.100.7".parse().unwrap()));

        let logout = activity(json!({"id": {"applicationName": "login"},
            "actor": {"email": "ada@example.com"}, "events": [{"name": "logout"}]}));
        assert!(c.signal(&logout).is_none());

        let change = activity(json!({"id": {"applicationName": "login"},
            "actor": {"email": "ada@example.com"}, "events": [{"name": "recovery_phone_edit"}]}));
        assert_eq!(c.signal(&change).unwrap().kind, Kind::CredentialChange);
    }

    #[test]
    fn a_failed_logto_password_step_is_a_failed_attempt_and_a_passed_one_is_nothing() {
        let mut c = Classifier::new(Arc::new(Catalog::builtin().unwrap()));
        let step = |result: &str| {
            activity(json!({"id": {"applicationName": "logto"},
                "actor": {"profileId": "u1"}, "result": result,
                "events": [{"name": "Interaction.SignIn.Verification.Password.Submit"}]}))
        };
        assert_eq!(
            c.signal(&step("failure")).unwrap().kind,
            Kind::Attempt { success: false }
        );
        assert!(c.signal(&step("success")).is_none());
    }

    #[test]
    fn prefixes_are_slash_24_and_slash_64() {
        assert_eq!(prefix("203.0.113.9".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(
            prefix("2001:db8:1:2:3::4".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }
}
