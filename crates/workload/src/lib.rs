//! Realistic sign-in traffic for `authtrail demo` and `authtrail-bench`: both vocabularies, a
//! Zipf-skewed population of users with home IPs and devices, MFA challenges with multi-value
//! `login_challenge_method`, password and 2SV changes, suspicious logins and a credential-stuffing
//! botnet, and Logto interaction flows whose events share one session id.
//!
//! The output is Google-shaped JSON, exactly what a producer would POST, so that every generated
//! event goes through the same validation as real traffic. A seed makes the stream repeatable, and
//! every event carries an `eventId` derived from it, so running the same demo twice stores nothing
//! twice.

pub mod labelled;
pub mod rba;

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use authtrail_model::wire_time::{Precision, format_rfc3339};

const FIRST: &[&str] = &[
    "ada", "grace", "alan", "linus", "margaret", "ken", "barbara", "dennis", "radia", "tim", "mei",
    "wei", "yu-ting", "chih-hao", "shu-fen", "kuan-yu", "hsin-yi", "jun", "sofia", "omar", "priya",
    "lars",
];
const LAST: &[&str] = &[
    "lovelace",
    "hopper",
    "turing",
    "torvalds",
    "hamilton",
    "thompson",
    "liskov",
    "ritchie",
    "perlman",
    "berners-lee",
    "chen",
    "lin",
    "wang",
    "huang",
    "chang",
    "liu",
    "tsai",
    "yang",
    "garcia",
    "khan",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
];
const APPS: &[&str] = &[
    "app-console-web",
    "app-ios",
    "app-android",
    "app-partner-portal",
];
const M2M: &[&str] = &["m2m-billing-sync", "m2m-crm-export", "m2m-reporting"];
const SENSITIVE: &[&str] = &[
    "Change password",
    "Download all mail",
    "Add recovery phone",
    "Delete account",
];

struct User {
    email: String,
    profile_id: String,
    logto_id: String,
    ips: Vec<String>,
    agent: usize,
    mfa: bool,
}

pub struct Generator {
    rng: StdRng,
    seed: u64,
    users: Vec<User>,
    pick_user: WeightedIndex<f64>,
    botnet: Vec<String>,
    start_us: i64,
    span_us: i64,
    total: u64,
    made: u64,
    buffer: std::collections::VecDeque<Value>,
}

/// The scenarios and their weights (per scenario, not per event).
const SCENARIOS: &[(Scenario, u32)] = &[
    (Scenario::GoogleSuccess, 300),
    (Scenario::GoogleFailure, 60),
    (Scenario::Stuffing, 20),
    (Scenario::GoogleChallenge, 40),
    (Scenario::Logout, 60),
    (Scenario::AccountChange, 25),
    (Scenario::Warning, 10),
    (Scenario::LogtoSignIn, 80),
    (Scenario::LogtoRefresh, 80),
    (Scenario::LogtoRegister, 8),
    (Scenario::LogtoForgot, 6),
    (Scenario::LogtoM2m, 50),
    (Scenario::LogtoSaml, 8),
    (Scenario::LogtoCaptcha, 8),
    (Scenario::LogtoBindMfa, 5),
];

#[derive(Clone, Copy)]
enum Scenario {
    GoogleSuccess,
    GoogleFailure,
    Stuffing,
    GoogleChallenge,
    Logout,
    AccountChange,
    Warning,
    LogtoSignIn,
    LogtoRefresh,
    LogtoRegister,
    LogtoForgot,
    LogtoM2m,
    LogtoSaml,
    LogtoCaptcha,
    LogtoBindMfa,
}

/// An address in one of the documentation ranges (RFC 5737), `a.b.c.d` with `c` drawn from `c`.
fn ip_v4(rng: &mut StdRng, a: u8, b: u8, c: std::ops::Range<u8>) -> String {
    format!(
        "{a}.{b}.{}.{}",
        rng.random_range(c),
        rng.random_range(1..255)
    )
}

impl Generator {
    /// `total` events spread over the `days` before `now_us`.
    pub fn new(seed: u64, total: u64, now_us: i64, days: u32) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let n_users = (total / 400).clamp(100, 20_000) as usize;
        let mut users = Vec::with_capacity(n_users);
        for i in 0..n_users {
            let f = FIRST[rng.random_range(0..FIRST.len())];
            let l = LAST[rng.random_range(0..LAST.len())];
            let n_ips = rng.random_range(1..=3);
            let ips = (0..n_ips)
                .map(|_| match rng.random_range(0..10) {
                    0 => format!(
                        "2001:db8:{:x}::{:x}",
                        rng.random_range(1..0xffff),
                        rng.random_range(1..0xffff)
                    ),
                    1..=4 => ip_v4(&mut rng, 198, 51, 100..101),
                    _ => ip_v4(&mut rng, 203, 0, 113..114),
                })
                .collect();
            users.push(User {
                email: format!("{f}.{l}{i}@example.com"),
                profile_id: format!("1{:020}", rng.random_range(0..u64::MAX / 10)),
                logto_id: format!("{:012x}", rng.random::<u64>() & 0xffff_ffff_ffff),
                ips,
                agent: rng.random_range(0..AGENTS.len()),
                mfa: rng.random_bool(0.35),
            });
        }
        // Zipf (s = 1): the busiest user is ten times busier than the tenth.
        let weights: Vec<f64> = (1..=n_users).map(|r| 1.0 / r as f64).collect();
        let botnet = (0..24).map(|_| ip_v4(&mut rng, 192, 0, 2..3)).collect();
        let span_us = i64::from(days.max(1)) * 86_400_000_000;
        Generator {
            rng,
            seed,
            users,
            pick_user: WeightedIndex::new(weights).expect("positive weights"),
            botnet,
            start_us: now_us - span_us,
            span_us,
            total,
            made: 0,
            buffer: Default::default(),
        }
    }

    fn time(&self, made: u64) -> i64 {
        self.start_us
            + (i128::from(self.span_us) * i128::from(made) / i128::from(self.total.max(1))) as i64
    }

    fn scenario(&mut self) {
        let weights: Vec<u32> = SCENARIOS.iter().map(|s| s.1).collect();
        let pick = WeightedIndex::new(weights)
            .expect("weights")
            .sample(&mut self.rng);
        let t = self.time(self.made + self.buffer.len() as u64);
        let u = self.pick_user.sample(&mut self.rng);
        match SCENARIOS[pick].0 {
            Scenario::GoogleSuccess => self.google_success(u, t),
            Scenario::GoogleFailure => self.google_failure(u, t, None),
            Scenario::Stuffing => {
                let ip = self.botnet[self.rng.random_range(0..self.botnet.len())].clone();
                for k in 0..self.rng.random_range(3..12) {
                    let victim = self.rng.random_range(0..self.users.len());
                    self.google_failure(victim, t + k * 1_500_000, Some(&ip));
                }
            }
            Scenario::GoogleChallenge => self.google_challenge(u, t),
            Scenario::Logout => {
                let a = self.google(
                    u,
                    t,
                    None,
                    "logout",
                    vec![json!({"name": "login_type", "value": "google_password"})],
                    None,
                );
                self.buffer.push_back(a);
            }
            Scenario::AccountChange => self.account_change(u, t),
            Scenario::Warning => self.warning(u, t),
            Scenario::LogtoSignIn => self.logto_sign_in(u, t),
            Scenario::LogtoRefresh => {
                let params = vec![
                    json!({"name": "tokenTypes", "multiValue": ["AccessToken", "RefreshToken"]}),
                    json!({"name": "scope", "value": "openid profile offline_access"}),
                ];
                let a = self.logto(u, t, None, "ExchangeTokenBy.RefreshToken", params, None);
                self.buffer.push_back(a);
            }
            Scenario::LogtoRegister => self.logto_flow(
                u,
                t,
                "Register",
                &[
                    "Interaction.Register.Verification.EmailVerificationCode.Create",
                    "Interaction.Register.Verification.EmailVerificationCode.Submit",
                    "Interaction.Register.Identifier.Submit",
                    "Interaction.Register.Verification.NewPasswordIdentity.Submit",
                ],
            ),
            Scenario::LogtoForgot => self.logto_flow(
                u,
                t,
                "ForgotPassword",
                &[
                    "Interaction.ForgotPassword.Verification.EmailVerificationCode.Create",
                    "Interaction.ForgotPassword.Verification.EmailVerificationCode.Submit",
                    "Interaction.ForgotPassword.Identifier.Submit",
                    "Interaction.ForgotPassword.Profile.Update",
                ],
            ),
            Scenario::LogtoM2m => {
                let app = M2M[self.rng.random_range(0..M2M.len())];
                let mut a = json!({
                    "id": {"applicationName": "logto", "time": ts(t)},
                    "actor": {"callerType": "KEY", "key": app},
                    "ipAddress": ip_v4(&mut self.rng, 198, 51, 100..101),
                    "clientApplicationId": app,
                    "events": [{"name": "ExchangeTokenBy.ClientCredentials", "parameters": [
                        {"name": "scope", "value": "read:reports"}]}],
                    "result": "success",
                });
                self.stamp(&mut a);
                self.buffer.push_back(a);
                if self.rng.random_bool(0.2) {
                    let mut j = json!({
                        "id": {"applicationName": "logto", "time": ts(t + 2_000)},
                        "actor": {"callerType": "KEY", "key": app},
                        "clientApplicationId": app,
                        "events": [{"name": "JwtCustomizer.ClientCredentials"}],
                        "result": "success",
                    });
                    self.stamp(&mut j);
                    self.buffer.push_back(j);
                }
            }
            Scenario::LogtoSaml => {
                let session = self.session();
                for (k, key) in ["SamlApplication.AuthnRequest", "SamlApplication.Callback"]
                    .iter()
                    .enumerate()
                {
                    let a =
                        self.logto(u, t + k as i64 * 800_000, Some(&session), key, vec![], None);
                    self.buffer.push_back(a);
                }
            }
            Scenario::LogtoCaptcha => {
                let ok = self.rng.random_bool(0.8);
                let a = self.logto(
                    u,
                    t,
                    Some(&self.session()),
                    "Interaction.Create.Captcha",
                    vec![],
                    Some(ok),
                );
                self.buffer.push_back(a);
            }
            Scenario::LogtoBindMfa => {
                let factor = ["Totp", "WebAuthn", "BackupCode"][self.rng.random_range(0..3)];
                let key = format!("Interaction.SignIn.BindMfa.{factor}.Submit");
                let a = self.logto(u, t, Some(&self.session()), &key, vec![], None);
                self.buffer.push_back(a);
            }
        }
    }

    fn session(&self) -> String {
        format!(
            "sess_{:016x}",
            self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (self.made + self.buffer.len() as u64)
        )
    }

    /// Gives the item an `eventId` unique to (seed, position), so reruns are idempotent.
    fn stamp(&self, a: &mut Value) {
        a["eventId"] = json!(format!(
            "demo-{}-{}",
            self.seed,
            self.made + self.buffer.len() as u64
        ));
    }

    fn home_ip(&mut self, u: usize) -> String {
        let ips = &self.users[u].ips;
        ips[self.rng.random_range(0..ips.len())].clone()
    }

    fn google(
        &mut self,
        u: usize,
        t: i64,
        ip: Option<&str>,
        name: &str,
        params: Vec<Value>,
        result: Option<bool>,
    ) -> Value {
        let ip = ip.map(String::from).unwrap_or_else(|| self.home_ip(u));
        let user = &self.users[u];
        let mut a = json!({
            "id": {"applicationName": "login", "time": ts(t)},
            "actor": {"email": user.email, "profileId": user.profile_id, "callerType": "USER"},
            "ipAddress": ip,
            "userAgent": AGENTS[user.agent],
            "events": [{"name": name, "parameters": params}],
        });
        if let Some(ok) = result {
            a["result"] = json!(if ok { "success" } else { "failure" });
        }
        self.stamp(&mut a);
        a
    }

    fn methods(&mut self, u: usize) -> Vec<&'static str> {
        if !self.users[u].mfa {
            return if self.rng.random_bool(0.9) {
                vec!["password"]
            } else {
                vec!["google_prompt"]
            };
        }
        match self.rng.random_range(0..10) {
            0..=4 => vec!["password", "google_authenticator"],
            5..=6 => vec!["password", "security_key"],
            7 => vec!["password", "password", "password", "security_key"],
            8 => vec!["passkey"],
            _ => vec!["password", "idv_preregistered_phone"],
        }
    }

    fn login_type(&mut self) -> &'static str {
        match self.rng.random_range(0..100) {
            0..=89 => "google_password",
            90..=94 => "saml",
            95..=97 => "exchange",
            _ => "reauth",
        }
    }

    fn google_success(&mut self, u: usize, t: i64) {
        let suspicious = self.rng.random_bool(0.02);
        let ip = suspicious.then(|| format!("2001:db8:bad::{:x}", self.rng.random_range(1..0xfff)));
        let methods = self.methods(u);
        let lt = self.login_type();
        let params = vec![
            json!({"name": "login_type", "value": lt}),
            json!({"name": "login_challenge_method", "multiValue": methods}),
            json!({"name": "is_suspicious", "boolValue": suspicious}),
        ];
        let a = self.google(u, t, ip.as_deref(), "login_success", params, None);
        self.buffer.push_back(a);
    }

    fn google_failure(&mut self, u: usize, t: i64, ip: Option<&str>) {
        let kind = match self.rng.random_range(0..20) {
            0..=15 => "login_failure_invalid_password",
            16 => "login_failure_account_disabled",
            17 => "login_failure_access_code_disallowed",
            _ => "login_failure_unknown",
        };
        let params = vec![
            json!({"name": "login_type", "value": "google_password"}),
            json!({"name": "login_challenge_method", "multiValue": ["password"]}),
            json!({"name": "login_failure_type", "value": kind}),
        ];
        let a = self.google(u, t, ip, "login_failure", params, None);
        self.buffer.push_back(a);
    }

    fn google_challenge(&mut self, u: usize, t: i64) {
        let passed = self.rng.random_bool(0.85);
        let status = if passed {
            "Challenge Passed."
        } else {
            "Challenge Failed."
        };
        let method = [
            "google_authenticator",
            "security_key",
            "idv_preregistered_phone",
            "backup_code",
        ][self.rng.random_range(0..4)];
        let c = self.google(
            u,
            t,
            None,
            "login_challenge",
            vec![
                json!({"name": "login_type", "value": "google_password"}),
                json!({"name": "login_challenge_method", "multiValue": [method]}),
                json!({"name": "login_challenge_status", "value": status}),
            ],
            Some(passed),
        );
        self.buffer.push_back(c);
        let v = self.google(
            u,
            t + 4_000_000,
            None,
            "login_verification",
            vec![
                json!({"name": "login_type", "value": "google_password"}),
                json!({"name": "login_challenge_method", "multiValue": ["password", method]}),
                json!({"name": "login_challenge_status", "value": status}),
                json!({"name": "is_second_factor", "boolValue": true}),
            ],
            Some(passed),
        );
        self.buffer.push_back(v);
    }

    fn account_change(&mut self, u: usize, t: i64) {
        let name = [
            "2sv_enroll",
            "2sv_enroll",
            "2sv_disable",
            "password_edit",
            "password_edit",
            "recovery_email_edit",
            "recovery_phone_edit",
            "recovery_secret_qa_edit",
            "titanium_enroll",
            "titanium_unenroll",
            "passkey_enrolled",
            "passkey_removed",
        ][self.rng.random_range(0..12)];
        let a = self.google(u, t, None, name, vec![], None);
        self.buffer.push_back(a);
    }

    fn warning(&mut self, u: usize, t: i64) {
        let email = self.users[u].email.clone();
        let affected = json!({"name": "affected_email_address", "value": email});
        let at = json!({"name": "login_timestamp", "intValue": (t - 60_000_000).to_string()});
        let (name, params, ip) = match self.rng.random_range(0..10) {
            0..=2 => (
                "suspicious_login",
                vec![affected, at],
                Some("2001:db8:bad::1"),
            ),
            3 => (
                "suspicious_login_less_secure_app",
                vec![affected, at],
                Some("2001:db8:bad::2"),
            ),
            4 => (
                "suspicious_programmatic_login",
                vec![affected, at],
                Some("2001:db8:bad::3"),
            ),
            5 => ("account_disabled_password_leak", vec![affected], None),
            6 => (
                "user_signed_out_due_to_suspicious_session_cookie",
                vec![affected],
                None,
            ),
            7 => {
                let action = SENSITIVE[self.rng.random_range(0..SENSITIVE.len())];
                (
                    "risky_sensitive_action_blocked",
                    vec![
                        json!({"name": "sensitive_action_name", "value": action}),
                        json!({"name": "is_suspicious", "boolValue": true}),
                        json!({"name": "login_type", "value": "google_password"}),
                    ],
                    None,
                )
            }
            8 => (
                "email_forwarding_out_of_domain",
                vec![
                    json!({"name": "email_forwarding_destination_address", "value": "exfil@example.net"}),
                ],
                None,
            ),
            _ => ("gov_attack_warning", vec![], None),
        };
        let a = self.google(u, t, ip, name, params, None);
        self.buffer.push_back(a);
    }

    fn logto(
        &mut self,
        u: usize,
        t: i64,
        session: Option<&str>,
        key: &str,
        mut params: Vec<Value>,
        ok: Option<bool>,
    ) -> Value {
        let ip = self.home_ip(u);
        let app = APPS[self.rng.random_range(0..APPS.len())];
        let user = &self.users[u];
        if key.starts_with("Interaction.") {
            params.push(json!({"name": "interactionId", "value": format!("int_{}", &session.unwrap_or("none")[5..].to_string())}));
        }
        let mut a = json!({
            "id": {"applicationName": "logto", "time": ts(t)},
            "actor": {"email": user.email, "profileId": user.logto_id, "callerType": "USER"},
            "ipAddress": ip,
            "userAgent": AGENTS[user.agent],
            "clientApplicationId": app,
            "events": [{"name": key, "parameters": params}],
            "result": if ok.unwrap_or(true) { "success" } else { "failure" },
        });
        if let Some(s) = session {
            a["sessionId"] = json!(s);
        }
        if ok == Some(false) {
            a["error"] =
                json!({"code": "session.invalid_credentials", "message": "Wrong credentials"});
        }
        self.stamp(&mut a);
        a
    }

    fn logto_sign_in(&mut self, u: usize, t: i64) {
        let session = self.session();
        let mut steps: Vec<(&str, bool)> = vec![
            ("Interaction.Create", true),
            ("Interaction.SignIn.Create", true),
            ("Interaction.SignIn.Identifier.Submit", true),
        ];
        let password_ok = self.rng.random_bool(0.9);
        steps.push((
            "Interaction.SignIn.Verification.Password.Submit",
            password_ok,
        ));
        if password_ok {
            if self.users[u].mfa {
                steps.push((
                    "Interaction.SignIn.Verification.Totp.Submit",
                    self.rng.random_bool(0.97),
                ));
            }
            steps.push(("Interaction.SignIn.Submit", true));
            steps.push(("Interaction.End", true));
            steps.push(("ExchangeTokenBy.AuthorizationCode", true));
        }
        for (k, (key, ok)) in steps.into_iter().enumerate() {
            let a = self.logto(
                u,
                t + k as i64 * 1_200_000,
                Some(&session),
                key,
                vec![],
                Some(ok),
            );
            self.buffer.push_back(a);
            if !ok {
                break;
            }
        }
    }

    fn logto_flow(&mut self, u: usize, t: i64, flow: &str, middle: &[&str]) {
        let session = self.session();
        let mut keys = vec![
            "Interaction.Create".to_string(),
            format!("Interaction.{flow}.Create"),
        ];
        keys.extend(middle.iter().map(|s| s.to_string()));
        keys.push(format!("Interaction.{flow}.Submit"));
        keys.push("Interaction.End".into());
        for (k, key) in keys.iter().enumerate() {
            let a = self.logto(
                u,
                t + k as i64 * 3_000_000,
                Some(&session),
                key,
                vec![],
                Some(true),
            );
            self.buffer.push_back(a);
        }
    }
}

fn ts(us: i64) -> String {
    format_rfc3339(us, Precision::Micros)
}

impl Iterator for Generator {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        if self.made >= self.total {
            return None;
        }
        while self.buffer.is_empty() {
            self.scenario();
        }
        self.made += 1;
        self.buffer.pop_front()
    }
}
