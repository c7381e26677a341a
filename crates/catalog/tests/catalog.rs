//! The built-in catalogue checked against the two source documents it was written from
//! (`catalog/sources/`, copies of the team's seeds) and against the rules in `catalog/SCHEMA.md`.

use std::collections::BTreeMap;

use authtrail_catalog::{Catalog, Lang, ParamKind, ResultHint, Tag, placeholders};

const LOGTO_SEED: &str =
    include_str!("../../../catalog/sources/logto-audit-log-event-types.zh-TW.txt");
const GOOGLE_SEED: &str =
    include_str!("../../../catalog/sources/google-reports-login-activity-events.zh-TW.txt");
/// Logto's key list from its schema package, @logto/schemas (scripts/logto-keys/ extracts it;
/// scripts/test.sh checks the committed copy against the package at the version it names).
const LOGTO_SCHEMAS_KEYS: &str =
    include_str!("../../../catalog/sources/logto-schemas-log-keys.json");

/// One category of the Logto seed: (zh-TW, en) and its (key, zh-TW name, en name) rows.
type SeedCategory = ((String, String), Vec<(String, String, String)>);

/// The Logto seed's categories, in the seed's order.
fn logto_seed() -> Vec<SeedCategory> {
    let lines: Vec<&str> = LOGTO_SEED.lines().collect();
    let mut out: Vec<SeedCategory> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "Key | Name |" {
            let (zh, en) = split_bilingual(lines[i - 1]);
            out.push(((zh, en), Vec::new()));
        } else if let Some((key, name)) = line.split_once(" | ") {
            if key == "---|---|" || !key.contains('.') && !key.starts_with("Unknown") {
                continue;
            }
            let (zh, en) =
                split_bilingual(name.trim_end_matches(" |").trim_end_matches('|').trim());
            out.last_mut()
                .unwrap()
                .1
                .push((key.trim().to_string(), zh, en));
        }
    }
    out
}

/// "以授權碼交換權杖 (Exchange token by Code)" → ("以授權碼交換權杖", "Exchange token by Code"). The
/// split is at the last " (" whose group runs to the end, since zh-TW names may hold "(SSO)".
fn split_bilingual(s: &str) -> (String, String) {
    let s = s.trim();
    let mut depth = 0;
    for (i, c) in s.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return (s[..i].trim().to_string(), s[i + 1..s.len() - 1].to_string());
                }
            }
            _ => {}
        }
    }
    panic!("no English part in {s:?}");
}

/// The zh-TW title of each event of the Google seed: the first line of its block, after the
/// type's `傳回。` or after the previous block's closing `|` (unless a type header follows,
/// in which case that line was the type's title).
fn google_seed_titles() -> BTreeMap<String, String> {
    let lines: Vec<&str> = GOOGLE_SEED.lines().collect();
    let mut out = BTreeMap::new();
    let (mut expect_title, mut title) = (false, None::<String>);
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t.starts_with("這種類型的事件會以 type=") {
            title = None;
        } else if t == "|" || t == "傳回。" {
            expect_title = true;
        } else if expect_title && !t.is_empty() {
            title = Some(t.to_string());
            expect_title = false;
        } else if t == "事件名稱 |" {
            let name = lines[i + 1].trim().trim_end_matches('|').trim().to_string();
            out.insert(name, title.clone().expect("a title before each event"));
        }
    }
    out
}

/// type → [(event name, English template)], in the seed's order.
fn google_seed() -> BTreeMap<String, Vec<(String, String)>> {
    let lines: Vec<&str> = GOOGLE_SEED.lines().collect();
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current = String::new();
    let mut pending: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(t) = line.strip_prefix("這種類型的事件會以 type=") {
            current = t.trim().to_string();
        } else if line.trim() == "事件名稱 |" {
            pending = Some(lines[i + 1].trim().trim_end_matches('|').trim().to_string());
        } else if line.trim() == "管理控制台郵件格式 |" {
            let template = lines[i + 1].trim().to_string();
            let name = pending.take().expect("a template follows an event name");
            out.entry(current.clone())
                .or_default()
                .push((name, template));
        }
    }
    out
}

#[test]
fn every_logto_seed_key_is_in_its_category_with_the_seeds_names() {
    let catalog = Catalog::builtin().unwrap();
    let logto = catalog.application("logto").unwrap();
    let seed = logto_seed();
    assert_eq!(seed.len(), 9, "the seed has nine categories");
    let expected_counts = [4, 2, 2, 19, 25, 13, 12, 2, 1];
    for (((zh, en), keys), want) in seed.iter().zip(expected_counts) {
        assert_eq!(keys.len(), want, "keys in seed category {en}");
        let ty = logto
            .types
            .iter()
            .find(|t| t.names.en == *en)
            .unwrap_or_else(|| panic!("category {en} is a type in the catalogue"));
        assert_eq!(ty.names.zh_tw, *zh);
        for (key, zh_name, en_name) in keys {
            let ev = logto.event(key).unwrap_or_else(|| panic!("{key} resolves"));
            assert_eq!(ev.event_type, ty.id, "{key} is in category {en}");
            assert_eq!(ev.names.get(Lang::ZhTw), zh_name, "{key} zh-TW name");
            assert_eq!(ev.names.get(Lang::En), en_name, "{key} en name");
        }
    }
    assert_eq!(seed.iter().map(|(_, k)| k.len()).sum::<usize>(), 80);
}

#[test]
fn logto_keys_missing_from_the_seed_are_in_the_catalogue() {
    let catalog = Catalog::builtin().unwrap();
    let logto = catalog.application("logto").unwrap();
    let mut missing = vec![
        "ExchangeTokenBy.DeviceCode",
        "ExchangeTokenBy.Unknown",
        "RevokeToken",
        "RevokeGrants",
        "JwtCustomizer.ClientCredentials",
        "TrustedDevice.Created",
        "TrustedDevice.Used",
        "Unknown",
        "Action.PostFirstFactorVerification",
        "Action.PostSignIn",
        "Interaction.SignIn.Verification.SignInPasskey.Create",
        "Interaction.SignIn.Verification.SignInPasskey.Submit",
        "TriggerHook.PostSignIn",
        "TriggerHook.User.Created",
        "TriggerHook.Grant.LimitExceeded",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    for e in ["SignIn", "Register", "ForgotPassword"] {
        missing.push(format!("Interaction.{e}.SignInPasskey.Submit"));
        missing.push(format!("Interaction.{e}.Verification.OneTimeToken.Submit"));
        for f in [
            "Totp",
            "WebAuthn",
            "BackupCode",
            "EmailVerificationCode",
            "PhoneVerificationCode",
        ] {
            missing.push(format!("Interaction.{e}.BindMfa.{f}.Submit"));
        }
    }
    for key in &missing {
        let ev = logto
            .event(key)
            .unwrap_or_else(|| panic!("{key} is in the catalogue"));
        assert_eq!(&ev.name, key, "{key} is canonical, not an alias");
    }
    let hooks = logto
        .events
        .iter()
        .filter(|e| e.name.starts_with("TriggerHook."))
        .count();
    assert_eq!(hooks, 31, "one TriggerHook key per webhook event");
    let webhook_events = logto
        .events
        .iter()
        .filter(|e| e.event_type.starts_with("hook_"))
        .count();
    assert_eq!(logto.events.len() - webhook_events, 169, "Logto's log keys");
    // Every webhook event Logto can deliver is an event of its own (TrustedDevice.Created is
    // also a log key, so it is the one webhook event without a hook_ type).
    for e in logto.events.iter() {
        if let Some(hook) = e.name.strip_prefix("TriggerHook.") {
            let ev = logto
                .event(hook)
                .unwrap_or_else(|| panic!("webhook event {hook} is in the catalogue"));
            assert!(
                ev.event_type.starts_with("hook_") || ev.name == "TrustedDevice.Created",
                "{hook}"
            );
        }
    }
    assert_eq!(webhook_events, 30);
}

/// The fixture's shape: `keys` are the keys Logto's code logs, `not_logged` the rest of the
/// package's key types (scripts/logto-keys/extract.js says which and why).
#[derive(serde::Deserialize)]
struct LogtoSchemasKeys {
    package: String,
    version: String,
    keys: Vec<String>,
    not_logged: Vec<String>,
}

fn logto_schemas_keys() -> LogtoSchemasKeys {
    serde_json::from_str(LOGTO_SCHEMAS_KEYS).expect("logto-schemas-log-keys.json parses")
}

/// Issue #19: 26 keys that current Logto logs were missing, so real Logto traffic with them was
/// stored as `Unknown`. Every key of Logto's own list must resolve, as a name or an alias.
#[test]
fn every_key_logto_logs_is_in_the_catalogue() {
    let fixture = logto_schemas_keys();
    assert_eq!(fixture.package, "@logto/schemas");
    assert!(
        fixture.keys.len() > 150,
        "the fixture holds Logto's keys ({})",
        fixture.keys.len()
    );
    let catalog = Catalog::builtin().unwrap();
    let logto = catalog.application("logto").unwrap();
    let missing: Vec<&str> = fixture
        .keys
        .iter()
        .filter(|k| logto.event(k).is_none())
        .map(String::as_str)
        .collect();
    assert!(
        missing.is_empty(),
        "{} key(s) that {}@{} logs are missing from catalog/logto.toml:\n  {}",
        missing.len(),
        fixture.package,
        fixture.version,
        missing.join("\n  ")
    );
}

/// The other direction: the catalogue's Logto log keys are Logto's, none invented, and none of
/// the keys the package types but Logto's code never logs. A key found in real traffic that the
/// fixture calls `not_logged` means extract.js's tables are out of date: fix them first.
#[test]
fn the_catalogues_logto_log_keys_are_the_ones_logto_logs() {
    let fixture = logto_schemas_keys();
    let catalog = Catalog::builtin().unwrap();
    let logto = catalog.application("logto").unwrap();
    let invented: Vec<&str> = logto
        .events
        .iter()
        .filter(|e| !e.event_type.starts_with("hook_") && !fixture.keys.contains(&e.name))
        .map(|e| e.name.as_str())
        .collect();
    assert!(
        invented.is_empty(),
        "log keys of catalog/logto.toml that {}@{} does not log: {invented:?}",
        fixture.package,
        fixture.version
    );
    let typed_only: Vec<&str> = fixture
        .not_logged
        .iter()
        .filter(|k| logto.event(k).is_some())
        .map(String::as_str)
        .collect();
    assert!(
        typed_only.is_empty(),
        "keys Logto's code never logs are in catalog/logto.toml: {typed_only:?}"
    );
}

/// The 26 keys of issue #19 sit in the categories of their neighbours: a verification of an MFA
/// factor or a passkey under MFA whatever the flow, the others under their flow.
#[test]
fn the_keys_added_from_logtos_list_are_in_their_neighbours_categories() {
    let catalog = Catalog::builtin().unwrap();
    let logto = catalog.application("logto").unwrap();
    let mut want: Vec<(String, &str)> = Vec::new();
    for f in ["BackupCode", "Totp", "WebAuthn", "SignInPasskey"] {
        for a in ["Create", "Submit"] {
            want.push((
                format!("Interaction.ForgotPassword.Verification.{f}.{a}"),
                "mfa",
            ));
        }
    }
    for f in ["Social", "EnterpriseSso"] {
        for a in ["Create", "Submit"] {
            let key = format!("Interaction.ForgotPassword.Verification.{f}.{a}");
            want.push((key, "forgot_password"));
        }
    }
    for f in ["Password", "NewPasswordIdentity"] {
        let key = format!("Interaction.ForgotPassword.Verification.{f}.Submit");
        want.push((key, "forgot_password"));
    }
    for a in ["Create", "Submit"] {
        let key = format!("Interaction.Register.Verification.SignInPasskey.{a}");
        want.push((key, "mfa"));
    }
    // The legacy /api/interaction routes.
    for k in ["Identifier.Password.Submit", "Identifier.Social.Create"] {
        want.push((format!("Interaction.Register.{k}"), "register"));
    }
    for e in ["SignIn", "Register"] {
        for f in ["Totp", "WebAuthn"] {
            want.push((format!("Interaction.{e}.BindMfa.{f}.Create"), "mfa"));
        }
    }
    for k in [
        "WebAuthn.Create",
        "Totp.Submit",
        "WebAuthn.Submit",
        "BackupCode.Submit",
    ] {
        want.push((format!("Interaction.SignIn.Mfa.{k}"), "mfa"));
    }
    assert_eq!(want.len(), 26);
    for (key, ty) in &want {
        let ev = logto
            .event(key)
            .unwrap_or_else(|| panic!("{key} is in the catalogue"));
        assert_eq!(&ev.name, key, "{key} is canonical");
        assert_eq!(ev.event_type, *ty, "{key}'s category");
    }
}

#[test]
fn seed_and_code_spellings_resolve_to_one_event() {
    let catalog = Catalog::builtin().unwrap();
    let pairs = [
        (
            "JwtCustomizer.ClientCredential",
            "JwtCustomizer.ClientCredentials",
        ),
        (
            "Interaction.SignIn.Verification.SmsVerificationCode.Submit",
            "Interaction.SignIn.Verification.PhoneVerificationCode.Submit",
        ),
        (
            "Interaction.Register.Verification.NewPassword.Submit",
            "Interaction.Register.Verification.NewPasswordIdentity.Submit",
        ),
        (
            "Interaction.SignIn.Verification.Webauthn.Create",
            "Interaction.SignIn.Verification.WebAuthn.Create",
        ),
    ];
    for (seed, code) in pairs {
        let a = catalog.event("logto", seed).unwrap();
        let b = catalog.event("logto", code).unwrap();
        assert_eq!(a.name, code);
        assert!(std::ptr::eq(a, b), "{seed} and {code} are one event");
    }
}

#[test]
fn every_google_seed_event_is_in_its_type_with_the_seeds_template() {
    let catalog = Catalog::builtin().unwrap();
    let login = catalog.application("login").unwrap();
    let seed = google_seed();
    let counts: BTreeMap<&str, usize> = seed.iter().map(|(t, e)| (t.as_str(), e.len())).collect();
    let want: BTreeMap<&str, usize> = [
        ("2sv_change", 2),
        ("password_change", 1),
        ("recovery_info_change", 3),
        ("account_warning", 9),
        ("titanium_change", 2),
        ("attack_warning", 1),
        ("blocked_sender_change", 1),
        ("email_forwarding_change", 1),
        ("login", 7),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, want, "events per type in the seed");
    for (ty, events) in &seed {
        assert!(login.event_type(ty).is_some(), "type {ty}");
        for (name, template) in events {
            let ev = login
                .event(name)
                .unwrap_or_else(|| panic!("{name} is in the catalogue"));
            assert_eq!(&ev.event_type, ty, "{name}");
            assert_eq!(
                ev.template.en, *template,
                "{name}: the admin-console template"
            );
        }
    }
    // Each event's zh-TW name is the seed's title for it, to the character (issue #19:
    // blocked_sender had lost its final 。).
    let titles = google_seed_titles();
    assert_eq!(titles.len(), 27, "every seed event has a title");
    for (name, title) in &titles {
        let ev = login.event(name).unwrap();
        assert_eq!(ev.names.zh_tw, *title, "{name}: the seed's zh-TW title");
    }
    // Plus the two the seed lacks (reference §5): passkey_enrolled, passkey_removed.
    for name in ["passkey_enrolled", "passkey_removed"] {
        assert_eq!(login.event(name).unwrap().event_type, "account_warning");
    }
    assert_eq!(login.events.len(), 29);
}

#[test]
fn google_parameters_are_typed_as_google_delivers_them() {
    let catalog = Catalog::builtin().unwrap();
    let login = catalog.application("login").unwrap();
    let kind = |n: &str| login.parameters[n].kind;
    assert_eq!(kind("login_challenge_method"), ParamKind::MultiString);
    assert_eq!(kind("is_suspicious"), ParamKind::Bool);
    assert_eq!(kind("is_second_factor"), ParamKind::Bool);
    assert_eq!(kind("login_timestamp"), ParamKind::Int64);
    assert_eq!(kind("login_type"), ParamKind::String);
    let methods = login.parameters["login_challenge_method"]
        .values
        .as_ref()
        .unwrap();
    assert!(methods.len() >= 16 && methods.contains(&"security_key".to_string()));
    let status = login.parameters["login_challenge_status"]
        .values
        .as_ref()
        .unwrap();
    assert!(status.contains(&"Challenge Passed.".to_string()) && status.contains(&String::new()));
    let success = login.event("login_success").unwrap();
    assert_eq!(success.parameters.len(), 3);
}

#[test]
fn every_template_placeholder_is_actor_or_a_parameter_of_its_event() {
    let catalog = Catalog::builtin().unwrap();
    let mut checked = 0;
    for app in catalog.applications() {
        for ev in &app.events {
            for lang in Lang::ALL {
                for ph in placeholders(ev.template.get(lang)) {
                    assert!(
                        ph == "actor" || ev.parameters.iter().any(|p| p == ph),
                        "{}.{}: {{{ph}}} in the {} template",
                        app.name,
                        ev.name,
                        lang.tag()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked > 300,
        "placeholders were found and checked ({checked})"
    );
}

#[test]
fn a_user_file_adds_an_application_and_cannot_redefine_an_event() {
    let mine = r#"
[application]
name = "vpn"
names = { en = "VPN", zh-TW = "VPN" }
[[types]]
id = "session"
names = { en = "Session", zh-TW = "工作階段" }
[parameters.gateway]
type = "string"
names = { en = "Gateway", zh-TW = "閘道" }
[[events]]
name = "vpn_connect"
type = "session"
parameters = ["gateway"]
names = { en = "VPN connected", zh-TW = "VPN 已連線" }
template = { en = "{actor} connected through {gateway}", zh-TW = "{actor} 已透過 {gateway} 連線" }
"#;
    let builtin = Catalog::builtin().unwrap();
    let sources = builtin_sources().chain([("mine.toml".to_string(), mine.to_string())]);
    let c = Catalog::from_sources(sources).unwrap();
    assert_eq!(
        c.event("vpn", "vpn_connect").unwrap().parameters,
        vec!["gateway"]
    );

    let clash = mine
        .replace("name = \"vpn\"", "name = \"login\"")
        .replace("vpn_connect", "login_success");
    let clash = clash
        .replace("id = \"session\"", "id = \"session2\"")
        .replace("type = \"session\"", "type = \"session2\"");
    let err =
        Catalog::from_sources(builtin_sources().chain([("clash.toml".into(), clash)])).unwrap_err();
    assert!(err.message.contains("login_success"), "{err}");

    let bad = mine.replace("{gateway}", "{gateway_typo}");
    let err = Catalog::from_sources([("bad.toml".to_string(), bad)]).unwrap_err();
    assert!(err.message.contains("gateway_typo"), "{err}");
    drop(builtin);
}

/// Sign-in outcomes are the attempts' results, not their steps or sign-outs; warnings and
/// logouts are their own tags; a tag the format does not know is refused, naming the event.
#[test]
fn the_overviews_tags_pick_outcomes_not_steps() {
    let c = Catalog::builtin().unwrap();
    let of = |tag| {
        let mut v: Vec<String> = c
            .events_with_tag(tag)
            .map(|(a, e)| format!("{}/{}", a.name, e.name))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        of(Tag::SignInAttempt),
        vec![
            "admin/console.sign_in",
            "login/login_failure",
            "login/login_success",
            "logto/Interaction.SignIn.Submit"
        ]
    );
    assert_eq!(of(Tag::SignInFailure), vec!["login/login_failure"]);
    assert_eq!(
        of(Tag::Logout),
        vec![
            "admin/console.sign_out",
            "login/logout",
            "login/user_signed_out_due_to_suspicious_session_cookie"
        ]
    );
    let warnings = of(Tag::AccountWarning);
    assert!(warnings.contains(&"login/suspicious_login".to_string()));
    assert!(warnings.contains(&"logto/Identifier.Lockout".to_string()));
    assert!(!warnings.iter().any(|w| w.contains("passkey")));
    let mfa = of(Tag::MfaChallenge);
    assert!(mfa.contains(&"login/login_verification".to_string()));
    assert!(mfa.contains(&"logto/Interaction.SignIn.Mfa.Totp.Submit".to_string()));

    let bad = include_str!("../../../catalog/admin.toml")
        .replace("tags = [\"sign_in_attempt\"]", "tags = [\"maybe\"]");
    let err = Catalog::from_sources([("bad.toml".to_string(), bad)]).unwrap_err();
    assert!(
        err.message.contains("console.sign_in") && err.message.contains("tag \"maybe\""),
        "{err}"
    );
}

/// Issue #20: every event is tagged, or says why it is not; an empty reason is no reason.
#[test]
fn every_event_is_tagged_or_says_why_not() {
    let c = Catalog::builtin().unwrap();
    let mut untagged = 0;
    for app in c.applications() {
        for e in &app.events {
            match (&e.tags[..], &e.untagged) {
                ([], Some(reason)) => {
                    assert!(
                        reason.trim().len() > 10,
                        "{}/{}: {reason:?}",
                        app.name,
                        e.name
                    );
                    untagged += 1;
                }
                ([], None) => panic!("{}/{} has neither tags nor a reason", app.name, e.name),
                (_, None) => {}
                (_, Some(_)) => panic!("{}/{} has tags and a reason", app.name, e.name),
            }
        }
    }
    assert!(untagged > 0 && untagged < 200, "{untagged} untagged");

    let mine = r#"
[application]
name = "vpn"
names = { en = "VPN", zh-TW = "VPN" }
[[types]]
id = "session"
names = { en = "Session", zh-TW = "工作階段" }
[[events]]
name = "vpn_connect"
type = "session"
tags = []
untagged = " "
names = { en = "VPN connected", zh-TW = "VPN 已連線" }
template = { en = "{actor} connected", zh-TW = "{actor} 已連線" }
"#;
    let err = Catalog::from_sources([("mine.toml".to_string(), mine.to_string())]).unwrap_err();
    assert!(err.message.contains("needs a reason"), "{err}");
    let both = mine.replace("tags = []", "tags = [\"logout\"]");
    let err = Catalog::from_sources([("mine.toml".to_string(), both)]).unwrap_err();
    assert!(err.message.contains("has tags"), "{err}");
}

/// The tags agree with each other, with the result an event implies, and with the OCSF class
/// they are exported as (docs/ocsf.md's table).
#[test]
fn tags_are_consistent_with_results_and_ocsf_ids() {
    let c = Catalog::builtin().unwrap();
    for app in c.applications() {
        for e in &app.events {
            let name = format!("{}/{}", app.name, e.name);
            let ids = e.ocsf.unwrap_or_else(|| panic!("{name} has OCSF ids"));
            let (class, activity) = ids.names().unwrap_or_else(|m| panic!("{name}: {m}"));
            let outcome = e.has(Tag::SignInSuccess) || e.has(Tag::SignInFailure);
            if outcome {
                assert!(e.has(Tag::SignInAttempt), "{name}");
            }
            assert!(
                !(e.has(Tag::SignInSuccess) && e.has(Tag::SignInFailure)),
                "{name}"
            );
            if e.has(Tag::SignInFailure) {
                assert_ne!(e.result, Some(ResultHint::Success), "{name}");
            }
            if e.has(Tag::SignInSuccess) {
                assert_ne!(e.result, Some(ResultHint::Failure), "{name}");
            }
            if e.has(Tag::SignInAttempt) {
                assert_eq!((class, activity), ("Authentication", "Logon"), "{name}");
            } else if e.has(Tag::Logout) {
                assert_eq!((class, activity), ("Authentication", "Logoff"), "{name}");
            } else if e.has(Tag::MfaChallenge) {
                assert_eq!(class, "Authentication", "{name}");
            } else if e.has(Tag::CredentialChange) {
                assert_eq!(class, "Account Change", "{name}");
                assert!(!matches!(activity, "Create" | "Delete"), "{name}");
            }
        }
    }
    let ids = |app: &str, ev: &str| {
        let o = c.event(app, ev).unwrap().ocsf.unwrap();
        (o.class_uid, o.activity_id)
    };
    assert_eq!(ids("login", "password_edit"), (3001, 3));
    assert_eq!(ids("login", "2sv_enroll"), (3001, 10));
    assert_eq!(ids("login", "2sv_disable"), (3001, 11));
    assert_eq!(ids("login", "recovery_phone_edit"), (3001, 99));
    assert_eq!(ids("login", "account_disabled_hijacked"), (3001, 5));
    assert_eq!(ids("login", "suspicious_login"), (3002, 99));
    assert_eq!(ids("logto", "Interaction.SignIn.Submit"), (3002, 1));
    assert_eq!(
        ids("logto", "Interaction.SignIn.Identifier.Submit"),
        (3002, 99)
    );
    assert_eq!(ids("logto", "Interaction.ForgotPassword.Submit"), (3001, 4));
    assert_eq!(
        ids("logto", "Interaction.SignIn.BindMfa.Totp.Submit"),
        (3001, 10)
    );
    assert_eq!(ids("admin", "retention.change"), (0, 99));

    // A contradiction is refused when the file loads, naming the event.
    let bad = include_str!("../../../catalog/google-login.toml").replace(
        "tags = [\"sign_in_attempt\", \"sign_in_failure\"]",
        "tags = [\"sign_in_attempt\", \"sign_in_success\"]",
    );
    let err = Catalog::from_sources([("bad.toml".to_string(), bad)]).unwrap_err();
    assert!(
        err.message.contains("login_failure") && err.message.contains("result"),
        "{err}"
    );
    let bad = include_str!("../../../catalog/google-login.toml").replace(
        "ocsf = { class_uid = 3001, activity_id = 10 }",
        "ocsf = { class_uid = 3001, activity_id = 42 }",
    );
    let err = Catalog::from_sources([("bad.toml".to_string(), bad)]).unwrap_err();
    assert!(err.message.contains("activity_id 42"), "{err}");
}

/// Files written before tags keep loading: `class` reads as the tag it meant.
#[test]
fn the_old_class_field_reads_as_a_tag() {
    let old = include_str!("../../../catalog/admin.toml")
        .replace("tags = [\"sign_in_attempt\"]", "class = \"sign_in\"");
    let c = Catalog::from_sources([("old.toml".to_string(), old)]).unwrap();
    let e = c.event("admin", "console.sign_in").unwrap();
    assert_eq!(e.tags, vec![Tag::SignInAttempt]);
}

fn builtin_sources() -> impl Iterator<Item = (String, String)> {
    [
        (
            "google-login.toml",
            include_str!("../../../catalog/google-login.toml"),
        ),
        ("logto.toml", include_str!("../../../catalog/logto.toml")),
        ("admin.toml", include_str!("../../../catalog/admin.toml")),
        (
            "detection.toml",
            include_str!("../../../catalog/detection.toml"),
        ),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
}

/// docs/catalog.md's table states how many events and types each application has; it must say
/// what the files hold (issue #19: it had drifted). Counts are read out of the table's rows.
#[test]
fn the_documented_counts_are_the_catalogues() {
    let doc = include_str!("../../../docs/catalog.md");
    let catalog = Catalog::builtin().unwrap();
    let row = |app: &str| {
        doc.lines()
            .find(|l| l.starts_with(&format!("| `{app}` |")))
            .unwrap_or_else(|| panic!("a row for {app}"))
            .split('|')
            .nth(3)
            .unwrap()
            .trim()
            .to_string()
    };
    let number = |s: &str| -> usize {
        s.split(|c: char| !c.is_ascii_digit())
            .find(|w| !w.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    for app in catalog.applications() {
        let cell = row(&app.name);
        assert_eq!(
            number(&cell),
            app.events.len(),
            "{}: events in {cell:?}",
            app.name
        );
        if let Some((_, types)) = cell.split_once(" in ") {
            assert_eq!(
                number(types),
                app.types.len(),
                "{}: types in {cell:?}",
                app.name
            );
        }
    }
}

/// Enum values have names in both languages (the console shows them), only for values the
/// parameter lists; Logto's common payload fields are typed.
#[test]
fn enum_values_are_named_in_both_languages_and_logtos_common_fields_are_typed() {
    let c = Catalog::builtin().unwrap();
    let login = c.application("login").unwrap();
    let lft = &login.parameters["login_failure_type"];
    assert_eq!(
        lft.value_name("login_failure_invalid_password", Lang::ZhTw),
        Some("密碼無效")
    );
    assert_eq!(
        lft.value_name("login_failure_invalid_password", Lang::En),
        Some("Invalid password")
    );
    // Every value the seed documents is named.
    for (param, values) in google_seed_values() {
        let def = &login.parameters[&param];
        for v in values {
            assert!(def.value_name(&v, Lang::En).is_some(), "{param}={v}");
        }
    }
    let logto = c.application("logto").unwrap();
    for (p, kind) in [
        ("interactionId", "string"),
        ("interactionEvent", "string"),
        ("params", "json"),
    ] {
        assert_eq!(logto.parameters[p].kind.as_str(), kind, "{p}");
    }
    let bad = r#"
[application]
name = "vpn"
names = { en = "VPN", zh-TW = "VPN" }
[parameters.mode]
type = "string"
values = ["full"]
names = { en = "Mode", zh-TW = "模式" }
value_names.split = { en = "Split", zh-TW = "分割" }
"#;
    let err = Catalog::from_sources([("bad.toml".to_string(), bad.to_string())]).unwrap_err();
    assert!(err.message.contains("\"split\""), "{err}");
}

/// The enumerations the Google seed documents ("可能的值包括:" lists): parameter → values.
fn google_seed_values() -> Vec<(String, Vec<String>)> {
    let seed =
        include_str!("../../../catalog/sources/google-reports-login-activity-events.zh-TW.txt");
    let lines: Vec<&str> = seed.lines().collect();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if !l.starts_with("可能的值包括") || i < 3 {
            continue;
        }
        let param = lines[i - 3].trim_end_matches(" |").trim().to_string();
        if param == "is_suspicious"
            || param == "is_second_factor"
            || out.iter().any(|o| o.0 == param)
        {
            continue;
        }
        let values = lines[i + 1..]
            .iter()
            .take_while(|v| !v.starts_with('|'))
            .filter_map(|v| v.split_whitespace().next().map(str::to_string))
            .collect();
        out.push((param, values));
    }
    assert!(out.len() >= 3, "{out:?}");
    out
}
