//! Thresholds, per tenant. The defaults start from Auth0's published ones (brute-force
//! protection: 10 failures for one account from one IP; suspicious-IP throttling: 100 failures
//! from one IP a day) and from the RBA literature for the per-sign-in score.
//!
//! A file (`authtrail serve --detect-config FILE`) sets the defaults of every tenant and, under
//! `[tenants.NAME]`, any of them for one tenant:
//!
//! ```toml
//! [defaults]
//! brute_force_failures = 10
//! [tenants.acme]
//! brute_force_failures = 5
//! risky_sign_in_score = 60
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every threshold of the detectors. Windows are in seconds of event time.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Failures for one account from one IP, within `brute_force_window_s`, since the last
    /// success: Auth0's brute-force protection counts 10.
    pub brute_force_failures: usize,
    pub brute_force_window_s: i64,
    /// Failures from one IP within `ip_failures_window_s`, whatever the accounts: Auth0's
    /// suspicious-IP throttling counts 100 a day.
    pub ip_failures: usize,
    pub ip_failures_window_s: i64,
    /// Password spraying: one IP fails on at least this many accounts within `spray_window_s`,
    /// with at most `spray_max_tries_per_account` tries on each on average.
    pub spray_accounts: usize,
    pub spray_max_tries_per_account: f64,
    pub spray_window_s: i64,
    /// Credential stuffing: failures from addresses the accounts never signed in from, within
    /// `stuffing_window_s`, from at least `stuffing_ips` addresses on at least
    /// `stuffing_accounts` accounts, failing at least `stuffing_failure_rate` of the time.
    pub stuffing_ips: usize,
    pub stuffing_accounts: usize,
    pub stuffing_failure_rate: f64,
    pub stuffing_window_s: i64,
    /// MFA fatigue: this many failed or abandoned second-factor challenges for one account
    /// within `mfa_window_s`, with no successful sign-in between.
    pub mfa_failures: usize,
    pub mfa_window_s: i64,
    /// Impossible travel: faster than this between two successful sign-ins, over more than
    /// `travel_min_km` (nearby cities share addresses' locations too loosely below that).
    pub travel_kmh: f64,
    pub travel_min_km: f64,
    /// A sign-in this soon after a credential or recovery-information change is a reason.
    pub after_change_s: i64,
    /// A successful sign-in scoring at least this is a `risky_sign_in` finding (the sign-in an
    /// RBA system would challenge). 35 is a new provider's network (25 + 10 for its ASN), or a
    /// new device on a new network; docs/detection.md shows the trade-off of other values.
    pub risky_sign_in_score: u32,
    /// Sign-ins an account needs before its own history (devices, networks, hours) counts:
    /// the first sign-ins of an account are not judged against an empty history.
    pub min_history: usize,
    /// A network or provider the account signed in from at most `rare_sign_ins` times, under
    /// `rare_percent` % of its sign-ins, is `rare_network` / `rare_asn`: scored almost like a
    /// new one (a café visited once is where a targeted attacker in the victim's city looks
    /// most familiar).
    pub rare_sign_ins: u32,
    pub rare_percent: u32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            brute_force_failures: 10,
            brute_force_window_s: 3600,
            ip_failures: 100,
            ip_failures_window_s: 86_400,
            spray_accounts: 10,
            spray_max_tries_per_account: 3.0,
            spray_window_s: 3600,
            stuffing_ips: 5,
            stuffing_accounts: 20,
            stuffing_failure_rate: 0.8,
            stuffing_window_s: 3600,
            mfa_failures: 5,
            mfa_window_s: 900,
            travel_kmh: 1000.0,
            travel_min_km: 500.0,
            after_change_s: 3600,
            risky_sign_in_score: 35,
            min_history: 5,
            rare_sign_ins: 2,
            rare_percent: 2,
        }
    }
}

/// The thresholds of every tenant.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    pub defaults: Thresholds,
    /// Per tenant: a full set, each key missing from the tenant's table taken from `defaults`.
    #[serde(skip)]
    tenants: BTreeMap<String, Thresholds>,
    #[serde(rename = "tenants")]
    raw_tenants: BTreeMap<String, toml::Table>,
}

impl DetectConfig {
    /// Reads a configuration file's text; an error names the key at fault.
    pub fn parse(text: &str) -> Result<DetectConfig, String> {
        let mut c: DetectConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let defaults = toml::Table::try_from(&c.defaults).map_err(|e| e.to_string())?;
        for (name, table) in std::mem::take(&mut c.raw_tenants) {
            let mut merged = defaults.clone();
            merged.extend(table);
            let t: Thresholds = merged
                .try_into()
                .map_err(|e: toml::de::Error| format!("tenants.{name}: {e}"))?;
            c.tenants.insert(name, t);
        }
        Ok(c)
    }

    /// The thresholds of `tenant`.
    pub fn for_tenant(&self, tenant: &str) -> &Thresholds {
        self.tenants.get(tenant).unwrap_or(&self.defaults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_overrides_some_keys_and_inherits_the_file_defaults() {
        let c = DetectConfig::parse(
            "[defaults]\nip_failures = 50\n[tenants.acme]\nbrute_force_failures = 5\n",
        )
        .unwrap();
        assert_eq!(c.for_tenant("other").ip_failures, 50);
        assert_eq!(c.for_tenant("other").brute_force_failures, 10);
        assert_eq!(c.for_tenant("acme").brute_force_failures, 5);
        assert_eq!(c.for_tenant("acme").ip_failures, 50);
    }

    #[test]
    fn a_misspelt_key_is_refused_by_name() {
        let e = DetectConfig::parse("[tenants.acme]\nbrute_force_failure = 5\n").unwrap_err();
        assert!(e.contains("brute_force_failure"), "{e}");
        assert!(e.contains("tenants.acme"), "{e}");
    }
}
