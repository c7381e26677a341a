//! The web console through the real router: sessions, CSRF, throttling, languages, filters and
//! every bad input (a clear 4xx naming the field, nothing stored).

use crate::support;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, ConsoleUser, Tenant};
use authtrail_server::console::password;
use authtrail_server::router;
use support::{Harness, NOW, activity};

pub(crate) const PW: &str = "correct horse battery";

pub(crate) struct Browser {
    app: Router,
    cookies: Vec<(String, String)>,
    ip: SocketAddr,
    pub(crate) headers: Vec<(&'static str, String)>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub(crate) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
    /// The `href` of the element with this id, unescaped.
    pub(crate) fn href(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!("id=\"{id}\""))?;
        let tag = self.body[..at].rfind('<')?;
        let h = self.body[tag..].find("href=\"")? + tag + 6;
        Some(unescape(self.body[h..].split('"').next()?))
    }
    pub(crate) fn rows(&self) -> Vec<String> {
        self.body
            .match_indices("<tr data-uq=\"")
            .map(|(i, _)| {
                let r = &self.body[i + 13..];
                r[..r.find('"').unwrap()].to_string()
            })
            .collect()
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/").replace("&amp;", "&")
}

impl Browser {
    pub(crate) fn new(h: &Harness) -> Browser {
        Browser {
            app: router(h.state.clone()),
            cookies: Vec::new(),
            ip: "198.51.100.7:4000".parse().unwrap(),
            headers: Vec::new(),
        }
    }

    pub(crate) async fn send(&mut self, method: &str, path: &str, form: Option<String>) -> Page {
        let mut req = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, c.join("; "));
        }
        for (k, v) in &self.headers {
            req = req.header(*k, v);
        }
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let mut req = req
            .body(form.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(self.ip));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = String::from_utf8(
            resp.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        let page = Page {
            status,
            headers,
            body,
        };
        for c in page.set_cookies() {
            let (kv, attrs) = c.split_once(';').unwrap_or((&c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        page
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None).await
    }

    pub(crate) async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        self.send("POST", path, Some(s.finish())).await
    }

    pub(crate) async fn sign_in(&mut self, user: &str, pw: &str) -> Page {
        let form = self.get("/console/login").await;
        let csrf = form.csrf();
        self.post(
            "/console/login",
            &[("csrf", &csrf), ("username", user), ("password", pw)],
        )
        .await
    }
}

pub(crate) async fn with_user(h: &Harness, name: &str, tenant: &str) {
    let u = ConsoleUser {
        username: name.into(),
        tenant: Tenant::new(tenant).unwrap(),
        password_hash: password::hash(PW).unwrap(),
        created_us: NOW,
    };
    assert!(h.store.put_console_user(&u).await.unwrap());
}

/// The admin events of a tenant, newest first: (name, actor, result, failure reason).
async fn admin_events(h: &Harness, tenant: &str) -> Vec<(String, String, String, String)> {
    let q = ActivityQuery {
        application: Some("admin".into()),
        limit: 100,
        ..Default::default()
    };
    let page = h
        .store
        .list(&Tenant::new(tenant).unwrap(), &q)
        .await
        .unwrap();
    page.items
        .iter()
        .map(|a| {
            let e = &a.body.events[0];
            (
                e.name.clone(),
                a.body.actor.display().unwrap_or("").to_string(),
                a.body.result.as_str().to_string(),
                e.param("login_failure_reason")
                    .map(|v| v.display())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

pub(crate) async fn ingest(h: &Harness, items: Vec<serde_json::Value>) {
    let token = h.token(&["ingest"]).await;
    let (s, _) = h.post_json(&token, json!(items)).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn sign_in_sets_a_hardened_session_cookie_and_is_recorded() {
    let h = Harness::new().await;
    with_user(&h, "alice@example.com", "Ctest").await;
    let mut b = Browser::new(&h);
    let p = b.sign_in("alice@example.com", PW).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), "/console/logs");
    let cookie = p
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("atr_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP keeps working: {cookie}"
    );
    let page = b.get("/console/logs").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("alice@example.com · Ctest"));
    // Only the hash of the session id is stored.
    let id = b
        .cookies
        .iter()
        .find(|c| c.0 == "atr_session")
        .unwrap()
        .1
        .clone();
    assert!(
        h.store
            .console_session(&authtrail_server::console::session::hash_id(&id))
            .await
            .unwrap()
            .is_some()
    );
    let events = admin_events(&h, "Ctest").await;
    assert_eq!(events[0].0, "console.sign_in");
    assert_eq!(
        (events[0].1.as_str(), events[0].2.as_str()),
        ("alice@example.com", "success")
    );
    let a = &h
        .store
        .list(
            &Tenant::new("Ctest").unwrap(),
            &ActivityQuery {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items[0];
    assert_eq!(a.body.ip_address.as_deref(), Some("198.51.100.7"));

    // Behind a TLS-terminating proxy the cookie is Secure.
    let mut b = Browser::new(&h);
    b.headers.push(("x-forwarded-proto", "https".into()));
    let p = b.sign_in("alice@example.com", PW).await;
    assert!(
        p.set_cookies()
            .iter()
            .any(|c| c.starts_with("atr_session=") && c.ends_with("; Secure"))
    );
}

#[tokio::test]
async fn a_wrong_password_fails_and_is_recorded_an_unknown_user_stores_nothing() {
    let h = Harness::new().await;
    with_user(&h, "bob", "Ctest").await;
    let mut b = Browser::new(&h);
    let p = b.sign_in("bob", "wrong password!").await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("Wrong username or password."));
    assert!(!b.cookies.iter().any(|c| c.0 == "atr_session"));
    assert_eq!(
        admin_events(&h, "Ctest").await,
        vec![(
            "console.sign_in".into(),
            "bob".into(),
            "failure".into(),
            "wrong_password".into()
        )]
    );
    let p = b.sign_in("nobody", PW).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        admin_events(&h, "Ctest").await.len(),
        1,
        "no tenant to record it in"
    );
    assert_eq!(b.get("/console/logs").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forged_csrf_tokens_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    with_user(&h, "carol", "Ctest").await;
    let mut b = Browser::new(&h);
    b.get("/console/login").await;
    for forged in [
        "",
        "00",
        &"a".repeat(64),
        &authtrail_server::console::session::csrf_token("someone-else"),
    ] {
        let p = b
            .post(
                "/console/login",
                &[("csrf", forged), ("username", "carol"), ("password", PW)],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{forged:?}");
        assert!(p.body.contains("did not come from this console"));
    }
    // No pre-session cookie at all: also refused.
    let mut fresh = Browser::new(&h);
    let p = fresh
        .post(
            "/console/login",
            &[("csrf", "x"), ("username", "carol"), ("password", PW)],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(
        admin_events(&h, "Ctest").await.is_empty(),
        "nothing recorded"
    );
    assert!(!b.cookies.iter().any(|c| c.0 == "atr_session"));

    // Sign-out with a forged token keeps the session.
    assert_eq!(b.sign_in("carol", PW).await.status, StatusCode::SEE_OTHER);
    let p = b
        .post("/console/logout", &[("csrf", &"f".repeat(64))])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/console/logs").await.status, StatusCode::OK);
    assert_eq!(admin_events(&h, "Ctest").await.len(), 1, "only the sign-in");
}

#[tokio::test]
async fn sign_out_ends_the_session_for_every_copy_of_the_cookie() {
    let h = Harness::new().await;
    with_user(&h, "dave", "Ctest").await;
    let mut b = Browser::new(&h);
    b.sign_in("dave", PW).await;
    let stolen = b.cookies.clone();
    let csrf = b.get("/console/logs").await.csrf();
    let p = b.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), "/console/login?signed_out=1");
    let mut other = Browser::new(&h);
    other.cookies = stolen;
    let p = other.get("/console/logs").await;
    assert_eq!(
        (p.status, p.location()),
        (
            StatusCode::SEE_OTHER,
            "/console/login?next=%2Fconsole%2Flogs"
        )
    );
    assert_eq!(admin_events(&h, "Ctest").await[0].0, "console.sign_out");
}

#[tokio::test]
async fn password_change_deletion_and_expiry_end_sessions() {
    let h = Harness::new().await;
    with_user(&h, "erin", "Ctest").await;
    let mut b = Browser::new(&h);
    b.sign_in("erin", PW).await;
    h.store
        .set_console_password("erin", &password::hash("another password").unwrap())
        .await
        .unwrap();
    assert_eq!(b.get("/console/logs").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.sign_in("erin", "another password").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get("/console/logs").await.status, StatusCode::OK);
    h.clock
        .advance(authtrail_server::console::session::SESSION_TTL_US);
    assert_eq!(
        b.get("/console/logs").await.status,
        StatusCode::SEE_OTHER,
        "expired"
    );
    b.sign_in("erin", "another password").await;
    h.store.delete_console_user("erin").await.unwrap();
    assert_eq!(b.get("/console/logs").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_username_and_per_ip() {
    let h = Harness::new().await;
    with_user(&h, "frank", "Ctest").await;
    let mut b = Browser::new(&h);
    for i in 0..5 {
        b.ip = format!("198.51.100.{}:1", 10 + i).parse().unwrap();
        assert_eq!(
            b.sign_in("frank", "nope nope nope").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    b.ip = "198.51.100.99:1".parse().unwrap();
    let p = b.sign_in("frank", PW).await;
    assert_eq!(
        p.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert_eq!(p.headers.get(header::RETRY_AFTER).unwrap(), "900");
    assert!(p.body.contains("Too many failed sign-ins"));
    assert_eq!(admin_events(&h, "Ctest").await[0].3, "throttled");
    h.clock
        .advance(authtrail_server::console::throttle::WINDOW_US);
    assert_eq!(b.sign_in("frank", PW).await.status, StatusCode::SEE_OTHER);

    // One address spraying many usernames.
    let mut s = Browser::new(&h);
    s.ip = "192.0.2.66:1".parse().unwrap();
    for i in 0..20 {
        assert_eq!(
            s.sign_in(&format!("user{i}"), "guess guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        s.sign_in("frank", PW).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    s.ip = "192.0.2.67:1".parse().unwrap();
    assert_eq!(s.sign_in("frank", PW).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn language_follows_the_switch_then_the_cookie_then_accept_language() {
    let h = Harness::new().await;
    let mut b = Browser::new(&h);
    b.headers
        .push(("accept-language", "zh-TW,zh;q=0.9,en;q=0.5".into()));
    let p = b.get("/console/login").await;
    assert!(p.body.contains("<html lang=\"zh-TW\">") && p.body.contains("使用者名稱"));
    let p = b.get("/console/login?lang=en").await;
    assert!(p.body.contains("<html lang=\"en\">") && p.body.contains("Username"));
    assert!(p.set_cookies().iter().any(|c| c.starts_with("atr_lang=en")));
    let p = b.get("/console/login").await;
    assert!(
        p.body.contains("<html lang=\"en\">"),
        "the cookie outranks Accept-Language"
    );
    assert_eq!(
        p.href("lang-zh").as_deref(),
        Some("/console/login?lang=zh-TW"),
        "the switch"
    );
}

#[tokio::test]
async fn pages_need_a_session() {
    let h = Harness::new().await;
    let mut b = Browser::new(&h);
    for path in [
        "/console/",
        "/console/logs",
        "/console/logs/1",
        "/console/overview",
        "/console/tail",
    ] {
        let p = b.get(path).await;
        // Each page sends its own address along, to come back to after signing in.
        let login = match path {
            "/console/" => "/console/login".to_string(),
            _ => format!(
                "/console/login?next={}",
                form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
            ),
        };
        assert_eq!(
            (p.status, p.location()),
            (StatusCode::SEE_OTHER, login.as_str()),
            "{path}"
        );
    }
    let p = b.post("/console/logout", &[("csrf", "x")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.get("/console/static/console.css").await.status,
        StatusCode::OK
    );
    // Issue #19: the console has an icon, linked from every page.
    let icon = b.get("/console/static/favicon.svg").await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(icon.headers["content-type"], "image/svg+xml");
    assert!(icon.body.starts_with("<svg"));
    let login = b.get("/console/login").await;
    assert!(
        login
            .body
            .contains(r#"rel="icon" href="/console/static/favicon.svg""#)
    );
    assert_eq!(
        b.get("/console/static/../../etc/passwd").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn filters_pages_and_details_show_the_tenants_events_in_the_viewers_language() {
    let h = Harness::new().await;
    with_user(&h, "gina", "Ctest").await;
    let mut items = Vec::new();
    for i in 0..60 {
        let mut a = activity(
            &format!("u{i}@example.com"),
            if i % 2 == 0 {
                "login_failure"
            } else {
                "login_success"
            },
        );
        a["ipAddress"] = json!(format!("203.0.113.{i}"));
        a["id"]["time"] = json!(format!("2026-11-22T12:{:02}:00Z", i));
        items.push(a);
    }
    ingest(&h, items).await;
    let token = h.token_for("Cother", &["ingest"]).await;
    let (s, _) = h
        .post_json(&token, json!([activity("x@example.com", "login_failure")]))
        .await;
    assert_eq!(s, StatusCode::OK);

    let mut b = Browser::new(&h);
    b.headers.push(("accept-language", "zh-TW".into()));
    b.sign_in("gina", PW).await;
    // An event chosen by its zh-TW name.
    let p = b
        .get("/console/logs?event=%E7%99%BB%E5%85%A5%E5%A4%B1%E6%95%97")
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.rows().len(), 30);
    assert!(
        p.body
            .contains("title=\"login_failure\" class=\"ev\">登入失敗</a>")
    );
    assert!(p.body.contains("<datalist id=\"event-list\">"));
    // A CIDR block and an exact address.
    let p = b.get("/console/logs?ip=203.0.113.0/28").await;
    assert_eq!(p.rows().len(), 16);
    let p = b.get("/console/logs?ip=203.0.113.5&result=success").await;
    assert_eq!(p.rows().len(), 1);
    // Keyset paging: 50 + 11 (60 logins and the sign-in), no overlap.
    let first = b.get("/console/logs").await;
    assert_eq!(first.rows().len(), 50);
    let next = first.href("next").expect("an Older link");
    let second = b.get(&next).await;
    assert_eq!(second.rows().len(), 11);
    assert!(second.rows().iter().all(|r| !first.rows().contains(r)));
    assert!(!second.body.contains("id=\"next\""));
    // Detail: the catalogue message in zh-TW, parameters, related events, raw JSON.
    let uq = &p.rows()[0];
    let d = b.get(&format!("/console/logs/{uq}")).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(
        d.body
            .contains("<p class=\"message\" id=\"event-message\">u5@example.com 已登入</p>")
    );
    assert!(d.body.contains("203.0.113.5"));
    assert!(d.body.contains("id=\"raw-json\""));
    // Another tenant's event is not found.
    let d = b.get("/console/logs/999").await;
    assert_eq!(d.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_inputs_get_a_clear_4xx_naming_the_field_and_store_nothing() {
    let h = Harness::new().await;
    with_user(&h, "hank", "Ctest").await;
    let mut b = Browser::new(&h);
    b.sign_in("hank", PW).await;
    let before = h.count("").await;
    for (path, status, field) in [
        ("/console/logs?result=maybe", 400, "result"),
        ("/console/logs?range=2w", 400, "range"),
        ("/console/logs?ip=not-an-ip", 400, "ip"),
        ("/console/logs?ip=10.0.0.0/99", 400, "ip"),
        ("/console/logs?event=no.such.event", 400, "event"),
        ("/console/logs?application=nope", 400, "application"),
        ("/console/logs?range=custom&from=tomorrow", 400, "from"),
        ("/console/logs?range=custom&to=2026-13-01T00:00", 400, "to"),
        ("/console/logs?cursor=forged", 400, "cursor"),
        ("/console/logs?colour=blue", 400, "colour"),
        ("/console/logs?actor=%FF", 400, "actor"),
        ("/console/logs/abc", 400, "uniqueQualifier"),
        ("/console/logs/0", 400, "uniqueQualifier"),
        ("/console/overview?range=1y", 400, "range"),
        ("/console/tail?after=-1", 400, "after"),
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status.as_u16(), status, "{path}");
        assert!(
            p.body.contains(&format!("<code>{field}</code>")),
            "{path}: {}",
            p.body
        );
    }
    let long = format!("/console/logs?actor={}", "a".repeat(400));
    assert_eq!(b.get(&long).await.status, StatusCode::BAD_REQUEST);
    let huge = format!("/console/logs?event={}", "a".repeat(9000));
    assert_eq!(b.get(&huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Forms: size and type.
    let p = b
        .send(
            "POST",
            "/console/login",
            Some(format!("username={}", "a".repeat(10_000))),
        )
        .await;
    assert_eq!(p.status, StatusCode::PAYLOAD_TOO_LARGE);
    let csrf = b.get("/console/logs").await.csrf();
    let mut req_b = Browser::new(&h);
    req_b.cookies = b.cookies.clone();
    let p = req_b
        .send("POST", "/console/logout", Some(format!("csrf={csrf}")))
        .await;
    assert_eq!(
        p.status,
        StatusCode::SEE_OTHER,
        "the control: a good form works"
    );
    assert_eq!(
        h.count("").await,
        before + 1,
        "only the sign-out was stored"
    );
}

#[tokio::test]
async fn a_sign_in_form_missing_a_field_names_it_and_stores_nothing() {
    let h = Harness::new().await;
    with_user(&h, "ivan", "Ctest").await;
    let mut b = Browser::new(&h);
    let csrf = b.get("/console/login").await.csrf();
    let p = b
        .post("/console/login", &[("csrf", &csrf), ("password", PW)])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("<code>username</code>: is required"));
    let p = b
        .post("/console/login", &[("csrf", &csrf), ("username", "ivan")])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("<code>password</code>: is required"));
    let p = b.send("POST", "/console/login", None).await;
    assert_eq!(p.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(admin_events(&h, "Ctest").await.is_empty());
    assert!(!b.cookies.iter().any(|c| c.0 == "atr_session"));
}

#[tokio::test]
async fn the_live_tail_streams_new_matching_rows_as_server_sent_events() {
    let h = Harness::new().await;
    with_user(&h, "judy", "Ctest").await;
    let mut b = Browser::new(&h);
    b.sign_in("judy", PW).await;
    ingest(
        &h,
        vec![
            activity("a@example.com", "login_success"),
            activity("b@example.com", "login_failure"),
        ],
    )
    .await;
    let mut req = Request::builder().uri("/console/tail?after=1&result=failure");
    let c: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    req = req.header(header::COOKIE, c.join("; "));
    let resp = b
        .app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body();
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .expect("a row within the first poll")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(
        text.starts_with("event: row\ndata: <tr data-uq=\"3\">"),
        "{text}"
    );
    assert!(text.contains("b@example.com") && !text.contains("a@example.com"));
}

/// Issue #17: a blocked or warning event is neither ✔ nor ✘. The outcome a row shows comes from
/// the catalogue's `account_warning` tag first, then the result.
#[tokio::test]
async fn warnings_show_neither_success_nor_failure() {
    let h = Harness::new().await;
    with_user(&h, "wren", "Ctest").await;
    ingest(
        &h,
        vec![
            activity("a@example.com", "suspicious_login"),
            activity("b@example.com", "login_failure"),
            activity("c@example.com", "login_success"),
        ],
    )
    .await;
    let mut b = Browser::new(&h);
    b.sign_in("wren", PW).await;
    for (lang, warning) in [("en", "Warning"), ("zh-TW", "警示")] {
        let page = b.get(&format!("/console/logs?lang={lang}")).await;
        assert_eq!(page.status, StatusCode::OK);
        let row = |email: &str| {
            page.body
                .split("<tr data-uq=")
                .find(|r| r.contains(email))
                .unwrap_or_else(|| panic!("a row for {email}"))
                .to_string()
        };
        let suspicious = row("a@example.com");
        assert!(
            suspicious.contains(r#"class="warn""#) && suspicious.contains(warning),
            "{suspicious}"
        );
        assert!(
            !suspicious.contains('✔') && !suspicious.contains('✘'),
            "{suspicious}"
        );
        assert!(row("b@example.com").contains('✘'));
        assert!(row("c@example.com").contains('✔'));
    }
}

/// Issue #17: a parameter the catalogue does not declare (Logto's payloads are open) shows the
/// type it arrived as, marked as not in the catalogue, instead of a bare "undeclared".
#[tokio::test]
async fn undeclared_parameters_show_the_type_they_arrived_as() {
    let h = Harness::new().await;
    with_user(&h, "ula", "Ctest").await;
    ingest(
        &h,
        vec![
            json!({"id": {"applicationName": "logto"}, "actor": {"profileId": "u1"},
            "events": [{"name": "RevokeToken", "parameters": [
                {"name": "customNote", "value": "hook9"},
                {"name": "attempt", "intValue": "3"},
                {"name": "interactionEvent", "value": "SignIn"}]}]}),
        ],
    )
    .await;
    let mut b = Browser::new(&h);
    b.sign_in("ula", PW).await;
    let page = b.get("/console/logs/1?lang=en").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // Each value is also a "filter by this" link (issue #17's pivots).
    let cell = |kind: &str, value: &str| {
        page.body.split("<td>").any(|c| c.starts_with(kind))
            && page
                .body
                .contains(&format!("{kind}</td><td><a class=\"pivot\""))
            && page.body.contains(&format!("\">{value}</a></td></tr>"))
    };
    assert!(
        cell("string (not in the catalogue)", "hook9"),
        "{}",
        page.body
    );
    assert!(cell("int64 (not in the catalogue)", "3"));
    // Logto's common payload fields are typed by the catalogue, their values named.
    assert!(
        page.body.contains(
            "<td>Interaction event</td><td><code>interactionEvent</code></td><td>string</td>"
        ),
        "{}",
        page.body
    );
    let page = b.get("/console/logs/1?lang=zh-TW").await;
    assert!(page.body.contains("<td>string (未列於目錄)</td>"));
    assert!(page.body.contains("互動事件"), "{}", page.body);
    assert!(
        page.body.contains(">登入</a> <code>SignIn</code>"),
        "{}",
        page.body
    );
}

/// Issue #17: `login_timestamp` (microseconds since the epoch) reads as a date and time in the
/// viewer's zone, with the raw value kept beside it.
#[tokio::test]
async fn microsecond_timestamps_read_as_times_in_the_viewers_zone() {
    let h = Harness::new().await;
    with_user(&h, "tess", "Ctest").await;
    let mut a = activity("t@example.com", "suspicious_login");
    a["events"][0]["parameters"] = json!([
        {"name": "login_timestamp", "intValue": "1795300000000000"}
    ]);
    ingest(&h, vec![a]).await;
    let mut b = Browser::new(&h);
    b.sign_in("tess", PW).await;
    let uq = b
        .get("/console/logs?lang=en")
        .await
        .body
        .split("<tr data-uq=\"")
        .find(|r| r.contains("t@example.com"))
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let page = b
        .get(&format!("/console/logs/{uq}?lang=en&tz=Asia/Taipei"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // 2026-11-21T22:26:40Z is 06:26:40 the next morning in Taipei.
    assert!(
        page.body
            .contains("2026-11-22 06:26:40 UTC+08:00 (1795300000000000)"),
        "{}",
        page.body
    );
}

/// Issue #17: a shared link keeps its filters through sign-in (`/console/login?next=…`), and
/// `next` can only lead to a console page of this server.
#[tokio::test]
async fn a_shared_link_survives_sign_in_and_next_stays_on_the_console() {
    let h = Harness::new().await;
    with_user(&h, "nia", "Ctest").await;
    let mut b = Browser::new(&h);
    let shared = "/console/logs?result=failure&tz=Asia/Taipei";
    let p = b.get(shared).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        p.location(),
        "/console/login?next=%2Fconsole%2Flogs%3Fresult%3Dfailure%26tz%3DAsia%2FTaipei"
    );
    let form = b.get(p.location()).await;
    let csrf = form.csrf();
    assert!(
        form.body.contains(
            r#"name="next" value="&#x2f;console&#x2f;logs?result=failure&amp;tz=Asia&#x2f;Taipei""#
        ),
        "{}",
        form.body
    );
    let wrong = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "nia"),
                ("password", "wrong"),
                ("next", shared),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains(r#"name="next""#),
        "kept after a wrong password"
    );
    let ok = b
        .post(
            "/console/login",
            &[
                ("csrf", &wrong.csrf()),
                ("username", "nia"),
                ("password", PW),
                ("next", shared),
            ],
        )
        .await;
    assert_eq!((ok.status, ok.location()), (StatusCode::SEE_OTHER, shared));

    // Anywhere else: the audit log.
    for evil in [
        "https://evil.example/console/logs",
        "//evil.example/console/logs",
        "/console/../admin",
        "/console\\\\evil",
        "/consolex",
        "/console/login?next=/console/logs",
    ] {
        let mut b = Browser::new(&h);
        let form = b.get("/console/login").await;
        let p = b
            .post(
                "/console/login",
                &[
                    ("csrf", &form.csrf()),
                    ("username", "nia"),
                    ("password", PW),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(
            (p.status, p.location()),
            (StatusCode::SEE_OTHER, "/console/logs"),
            "{evil}"
        );
    }
}

/// Issue #17: the actor, IP and application of a row are "filter by this" links that keep the
/// viewer's zone, and following one lists exactly that actor's events.
#[tokio::test]
async fn actor_ip_and_application_pivot_to_their_events() {
    let h = Harness::new().await;
    with_user(&h, "pia", "Ctest").await;
    let mut x = activity("x+1@example.com", "login_failure");
    x["ipAddress"] = json!("198.51.100.4");
    ingest(&h, vec![x, activity("y@example.com", "login_success")]).await;
    let mut b = Browser::new(&h);
    b.sign_in("pia", PW).await;
    let page = b.get("/console/logs?lang=en&tz=Asia/Taipei").await;
    // As the template escapes an attribute (`&` and `/`).
    let attr = |href: &str| {
        format!(
            r#"class="pivot" href="{}""#,
            href.replace('&', "&amp;").replace('/', "&#x2f;")
        )
    };
    let actor = "/console/logs?actor=x%2B1%40example.com&tz=Asia%2FTaipei";
    for href in [
        actor,
        "/console/logs?ip=198.51.100.4&tz=Asia%2FTaipei",
        "/console/logs?application=login&tz=Asia%2FTaipei",
    ] {
        assert!(page.body.contains(&attr(href)), "{href}: {}", page.body);
    }
    let pivoted = b.get(actor).await;
    assert_eq!(pivoted.status, StatusCode::OK);
    assert!(pivoted.body.contains("x+1@example.com"));
    assert!(
        !pivoted.body.contains("y@example.com"),
        "only that actor's events"
    );
}

/// Issue #17: "Back" from a detail page returns to the list it was opened from, filters, page
/// and zone included.
#[tokio::test]
async fn back_from_a_detail_page_returns_to_the_filtered_list() {
    let h = Harness::new().await;
    with_user(&h, "bea", "Ctest").await;
    ingest(&h, vec![activity("z@example.com", "login_failure")]).await;
    let mut b = Browser::new(&h);
    b.sign_in("bea", PW).await;
    let list = b.get("/console/logs?result=failure&tz=Asia/Taipei").await;
    let row = list
        .body
        .split("<tr data-uq=")
        .find(|r| r.contains("z@example.com"))
        .unwrap();
    let href = row
        .split(r#"class="ev""#)
        .next()
        .and_then(|r| r.rsplit("href=\"").next())
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    assert!(href.ends_with("?result=failure&tz=Asia%2FTaipei"), "{href}");
    let detail = b.get(&href).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(
        detail.body.contains(
            r#"href="&#x2f;console&#x2f;logs?result=failure&amp;tz=Asia%2FTaipei" id="back""#
        ),
        "{}",
        detail.body
    );
}

/// Issue #17: the overview's top-N rows open the list of their events.
#[tokio::test]
async fn top_rows_on_the_overview_open_their_events() {
    let h = Harness::new().await;
    with_user(&h, "olga", "Ctest").await;
    let mut a = activity("fail@example.com", "login_failure");
    a["ipAddress"] = json!("192.0.2.77");
    ingest(&h, vec![a]).await;
    let mut b = Browser::new(&h);
    b.sign_in("olga", PW).await;
    let page = b.get("/console/overview?lang=en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"<a href="/console/logs?ip=192.0.2.77">"#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<a href="/console/logs?actor=fail%40example.com&amp;result=failure">"#)
    );
}

#[tokio::test]
async fn the_deliveries_page_shows_each_subscriptions_ledger_in_the_viewers_language() {
    let h = Harness::new().await;
    with_user(&h, "olga", "Ctest").await;
    let mut b = Browser::new(&h);
    b.sign_in("olga", PW).await;
    let empty = b.get("/console/deliveries?lang=en").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(
        empty.body.contains("No subscriptions yet."),
        "{}",
        empty.body
    );
    let input = authtrail_service::subscriptions::NewSubscription::from_json(&json!({
        "destination": "nats://broker.example.com:4222/audit.events",
        "format": "ocsf", "description": "SOC stream"}))
    .unwrap();
    let (sub, secret) = h
        .state
        .service
        .create_subscription(
            &Tenant::new("Ctest").unwrap(),
            input,
            &authtrail_service::AdminActor::System,
        )
        .await
        .unwrap();
    assert!(secret.is_none(), "a NATS subscription keeps no secret");
    ingest(&h, vec![activity("a@example.com", "login_success")]).await;
    let page = b.get("/console/deliveries?lang=zh-TW").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!(r#"id="sub-{}""#, sub.id)),
        "{}",
        page.body
    );
    assert!(unescape(&page.body).contains("nats://broker.example.com:4222/audit.events"));
    assert!(page.body.contains("推送傳遞") && page.body.contains("SOC stream"));
    assert!(page.body.contains("正常"), "a new subscription is active");
    // Another tenant's viewer sees none of it.
    with_user(&h, "otto", "Cother").await;
    let mut other = Browser::new(&h);
    other.sign_in("otto", PW).await;
    let page = other.get("/console/deliveries?lang=en").await;
    assert!(!page.body.contains(&sub.id));
}
