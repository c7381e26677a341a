//! The web console in a real browser: headless Debian Chromium driven through chromedriver
//! (WebDriver), against the real `authtrail` binary serving demo data.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (apt packages `chromium` and
//! `chromium-driver`; `scripts/test.sh` installs them). Without them the test skips loudly, except
//! under CI (`CI` set), where it fails. Screenshots go to `target/browser-screenshots/`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

// tokio's instant: a deadline in async code, on the runtime's clock.
use tokio::time::Instant;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const USER: &str = "secadmin@example.com";
const PASSWORD: &str = "correct horse battery staple";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The real binary: `$AUTHTRAIL_BIN` when set (scripts/test.sh passes the one its workspace
/// build made), else built here. A `cargo build -p authtrail` from inside `cargo test` resolves
/// features without the dev-dependencies, so it compiles a second copy of the dependency tree.
fn authtrail() -> PathBuf {
    if let Some(bin) = std::env::var_os("AUTHTRAIL_BIN") {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "--quiet", "-p", "authtrail"])
        .current_dir(workspace())
        .status()
        .expect("running cargo build")
        .success();
    assert!(ok, "cargo build -p authtrail failed");
    target_dir().join("debug/authtrail")
}

/// A child process killed when the test ends, pass or fail.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(bin: &Path, args: &[&str], stdin: Option<&str>) {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "authtrail {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `authtrail serve` on a free port; returns the process and its base URL.
fn serve(bin: &Path, data: &Path) -> (Proc, String) {
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn,authtrail::serve=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server exits before listening")
            .unwrap();
        if let Some(at) = line.find("http://127.0.0.1:") {
            break line[at..].split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), url)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn chromedriver() -> (Proc, Client) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let proc = Proc(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=en-US"],
            "prefs": {"intl.accept_languages": "en-US,en"},
        }),
    );
    let started = Instant::now();
    loop {
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match c {
            Ok(c) => return (proc, c),
            Err(e) if started.elapsed() > Duration::from_secs(20) => panic!("chromedriver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

struct Ui {
    c: Client,
    base: String,
    shots: PathBuf,
}

impl Ui {
    async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }
    async fn text(&self, css: &str) -> String {
        self.c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }
    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.c.find_all(Locator::Css(css)).await.unwrap() {
            out.push(e.text().await.unwrap());
        }
        out
    }
    async fn click(&self, css: &str) {
        self.c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }
    async fn fill(&self, css: &str, text: &str) {
        let e = self.c.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }
    /// Waits (up to 15 s) until a JavaScript condition holds: a click that submits a form or
    /// follows a link returns before the next page has loaded.
    async fn until(&self, condition: &str) {
        let started = Instant::now();
        loop {
            let v = self
                .c
                .execute(&format!("return !!({condition})"), vec![])
                .await;
            if matches!(v, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "timed out waiting for {condition}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    async fn url(&self) -> String {
        self.c.current_url().await.unwrap().to_string()
    }
    async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
    async fn sign_in(&self, user: &str, pw: &str) {
        self.go("/console/login").await;
        self.fill("#username", user).await;
        self.fill("#password", pw).await;
        self.click("#sign-in").await;
    }
    async fn rows(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in self
            .c
            .find_all(Locator::Css("#events tbody tr"))
            .await
            .unwrap()
        {
            out.push(e.attr("data-uq").await.unwrap().unwrap_or_default());
        }
        out
    }
}

fn browser_available() -> bool {
    let have = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser tests: install chromium and chromium-driver (scripts/test.sh does)"
        );
        eprintln!(
            "\n*** SKIPPING the browser tests: {CHROMIUM} or {CHROMEDRIVER} is missing ***\n*** apt-get install -y chromium chromium-driver ***\n"
        );
    }
    have
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_admin_uses_the_console_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let bin = authtrail();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    run(
        &bin,
        &["demo", "--data", data, "--events", "3000", "--days", "3"],
        None,
    );
    run(
        &bin,
        &["user", "create", "--data", data, USER],
        Some(&format!("{PASSWORD}\n")),
    );
    let (_server, base) = serve(&bin, dir.path());
    let (_driver, c) = chromedriver().await;
    let shots = target_dir().join("browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let ui = Ui { c, base, shots };

    // The console sends a signed-out visitor to the sign-in form, remembering where they were
    // going (they come back there after signing in).
    ui.go("/console/logs").await;
    assert!(
        ui.url()
            .await
            .ends_with("/console/login?next=%2Fconsole%2Flogs")
    );

    // A wrong password fails.
    ui.sign_in(USER, "not the password").await;
    ui.until("document.getElementById('login-error')").await;
    assert_eq!(ui.text("#login-error").await, "Wrong username or password.");
    assert!(ui.url().await.ends_with("/console/login"));
    ui.shot("01-wrong-password").await;

    // A forged CSRF token fails, even with the right password.
    ui.go("/console/login").await;
    ui.c.execute(
        "document.querySelector('input[name=csrf]').value = 'forged'",
        vec![],
    )
    .await
    .unwrap();
    ui.fill("#username", USER).await;
    ui.fill("#password", PASSWORD).await;
    ui.click("#sign-in").await;
    ui.until("document.getElementById('login-error')").await;
    assert!(
        ui.text("#login-error")
            .await
            .contains("did not come from this console")
    );
    assert!(
        ui.c.find(Locator::Css("#sign-out")).await.is_err(),
        "not signed in"
    );
    ui.shot("02-forged-csrf").await;

    // Sign in: the audit log, newest first.
    ui.sign_in(USER, PASSWORD).await;
    ui.until("location.pathname === '/console/logs'").await;
    assert_eq!(ui.text("main h1").await, "Audit log");
    let first = ui.rows().await;
    assert_eq!(first.len(), 50);
    assert_eq!(
        ui.text("#events tbody tr:first-child .ev").await,
        "Console sign-in",
        "our own sign-in, newest"
    );
    ui.shot("03-audit-log").await;

    // Keyboard: the first Tab stop skips to the content, and every control is reachable.
    let tab = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Tab.into(),
        })
        .then(KeyAction::Up {
            value: Key::Tab.into(),
        });
    ui.c.perform_actions(tab).await.unwrap();
    let focused =
        ui.c.execute("return document.activeElement.className", vec![])
            .await
            .unwrap();
    assert_eq!(focused, json!("skip"));

    // Switch to zh-TW and filter by an event type chosen by its zh-TW name.
    ui.click("#lang-zh").await;
    ui.until("document.documentElement.lang === 'zh-TW'").await;
    assert_eq!(ui.text("main h1").await, "稽核記錄");
    let option = ui
        .c
        .execute("return [...document.querySelectorAll('#event-list option')].find(o => o.value === 'login_failure').label", vec![])
        .await
        .unwrap();
    assert_eq!(
        option,
        json!("登入 › 登入 › 登入失敗"),
        "the picker shows the zh-TW names, grouped"
    );
    ui.fill("#f-event", "登入失敗").await;
    ui.click("#apply").await;
    ui.until("location.search.includes('event=')").await;
    assert!(
        ui.url()
            .await
            .contains("event=%E7%99%BB%E5%85%A5%E5%A4%B1%E6%95%97"),
        "the filter is in the URL"
    );
    let names = ui.texts("#events tbody .ev").await;
    assert!(
        !names.is_empty() && names.iter().all(|n| n == "登入失敗"),
        "{names:?}"
    );
    ui.shot("04-filtered-zh-tw").await;

    // Page to older events: new rows, the filter kept.
    let page1 = ui.rows().await;
    ui.click("#next").await;
    ui.until("location.search.includes('cursor=')").await;
    let page2 = ui.rows().await;
    assert!(
        !page2.is_empty() && page2.iter().all(|r| !page1.contains(r)),
        "keyset paging"
    );
    assert!(
        ui.texts("#events tbody .ev")
            .await
            .iter()
            .all(|n| n == "登入失敗")
    );
    assert!(ui.c.find(Locator::Css("#newest")).await.is_ok());

    // Open a detail: the catalogue message in zh-TW, parameters and the raw JSON.
    ui.click("#events tbody tr:first-child .ev").await;
    ui.until("document.getElementById('event-title')").await;
    assert_eq!(ui.text("#event-title").await, "登入失敗");
    let message = ui.text("#event-message").await;
    assert!(
        message.ends_with("登入失敗") && message.contains("@example.com"),
        "{message}"
    );
    assert!(ui.text("#raw-json").await.contains("\"login_failure\""));
    ui.shot("05-detail-zh-tw").await;

    // Switch language on the detail page.
    ui.click("#lang-en").await;
    ui.until("document.documentElement.lang === 'en'").await;
    assert_eq!(ui.text("#event-title").await, "Failed login");
    assert!(ui.text("#event-message").await.ends_with("failed to login"));

    // The overview draws its charts as SVG.
    ui.go("/console/overview").await;
    let charts = ui.c.find_all(Locator::Css(".charts svg")).await.unwrap();
    assert!(charts.len() >= 4, "{} charts", charts.len());
    assert!(ui.text("#basis").await.starts_with("Based on"));
    ui.shot("06-overview").await;

    // Usable at 375 px: nothing but the table scrolls sideways.
    ui.c.set_window_size(375, 800).await.unwrap();
    ui.go("/console/logs").await;
    let overflow =
        ui.c.execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page overflows at 375 px by {overflow}"
    );
    ui.shot("07-mobile-375").await;
    ui.c.set_window_size(1280, 900).await.unwrap();

    // Sign out: back at the sign-in form, and the log is closed again.
    ui.click("#sign-out").await;
    ui.until("location.pathname === '/console/login'").await;
    assert_eq!(ui.text(".notice").await, "You have signed out.");
    ui.go("/console/logs").await;
    assert!(
        ui.url()
            .await
            .ends_with("/console/login?next=%2Fconsole%2Flogs")
    );
    ui.shot("08-signed-out").await;
    ui.c.close().await.unwrap();
}

/// Issue #17 in a real browser, in both languages and at 1440 and 390 px: the time zone typed
/// and shown, a pivot from a detail page, a shared link through sign-in, a parameter filter, a
/// chart whose bar opens a list of the same count, and a CSV download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_investigator_queries_pivots_and_exports_in_both_languages_and_sizes() {
    if !browser_available() {
        return;
    }
    let bin = authtrail();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    run(
        &bin,
        &["demo", "--data", data, "--events", "3000", "--days", "3"],
        None,
    );
    run(
        &bin,
        &["user", "create", "--data", data, USER],
        Some(&format!("{PASSWORD}\n")),
    );
    let (_server, base) = serve(&bin, dir.path());
    let downloads = tempfile::tempdir().unwrap();
    let (_driver, c) = chromedriver_with_downloads(downloads.path()).await;
    let shots = target_dir().join("browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let ui = Ui { c, base, shots };

    ui.sign_in(USER, PASSWORD).await;
    ui.until("location.pathname === '/console/logs'").await;
    for (lang, width) in [("en", 1440), ("zh-TW", 390), ("zh-TW", 1440), ("en", 390)] {
        investigate(&ui, lang, width, downloads.path()).await;
    }
    ui.c.close().await.unwrap();
}

/// Headless Chromium that saves downloads into `dir` without asking.
async fn chromedriver_with_downloads(dir: &Path) -> (Proc, Client) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let proc = Proc(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1440,900", "--lang=en-US"],
            "prefs": {
                "intl.accept_languages": "en-US,en",
                "download.default_directory": dir.to_str().unwrap(),
                "download.prompt_for_download": false,
            },
        }),
    );
    let started = Instant::now();
    loop {
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match c {
            Ok(c) => return (proc, c),
            Err(e) if started.elapsed() > Duration::from_secs(20) => panic!("chromedriver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

impl Ui {
    async fn js(&self, script: &str) -> serde_json::Value {
        self.c.execute(script, vec![]).await.unwrap()
    }
    async fn count(&self) -> i64 {
        self.until("document.getElementById('match-count')").await;
        self.js("return +document.getElementById('match-count').dataset.count")
            .await
            .as_i64()
            .unwrap()
    }
    /// Nothing but the page itself scrolls: no sideways scrolling of the page or the list.
    async fn fits(&self, what: &str) {
        let over = self
            .js(
                "const d = document.documentElement, t = document.getElementById('events'),
                       w = t && t.parentElement;
                 return Math.max(d.scrollWidth - d.clientWidth, w ? w.scrollWidth - w.clientWidth : 0)",
            )
            .await;
        assert!(over.as_i64().unwrap() <= 0, "{what}: overflows by {over}");
    }
}

async fn investigate(ui: &Ui, lang: &str, width: u32, downloads: &Path) {
    let zh = lang == "zh-TW";
    let tag = format!("{lang}-{width}");
    ui.c.set_window_size(width, 900).await.unwrap();

    // Time zone: typed in the form, kept in the URL, shown beside From/To and on every row.
    ui.go(&format!("/console/logs?lang={lang}")).await;
    ui.until("document.getElementById('f-tz')").await;
    ui.fill("#f-tz", "Asia/Taipei").await;
    ui.click("#apply").await;
    ui.until("location.search.includes('tz=Asia%2FTaipei')")
        .await;
    assert!(
        ui.text("label[for=f-from]")
            .await
            .contains("Asia/Taipei (UTC+08:00)")
    );
    let times = ui.texts("#events tbody time").await;
    assert!(
        !times.is_empty() && times.iter().all(|t| t.ends_with("UTC+08:00")),
        "{times:?}"
    );
    let date_sep = if zh { '/' } else { '-' };
    assert_eq!(times[0].chars().nth(4), Some(date_sep), "{}", times[0]);
    // At 390 px the list is cards: time, event, actor and result visible, nothing scrolls sideways.
    ui.fits(&format!("{tag} list")).await;
    let visible = ui
        .js("const r = document.querySelector('#events tbody tr');
             return [1, 2, 3, 5].every(i => { const c = r.children[i - 1].getBoundingClientRect();
                 return c.width > 0 && c.right <= document.documentElement.clientWidth; })")
        .await;
    assert_eq!(
        visible,
        json!(true),
        "{tag}: a row's time, event, actor or result is off-screen"
    );
    ui.shot(&format!("10-{tag}-zone")).await;

    // A parameter filter: typed as Google's grammar, the count capped as the API's.
    let all = ui.count().await;
    ui.fill("#f-filters", "is_suspicious==true").await;
    ui.click("#apply").await;
    ui.until("location.search.includes('filters=is_suspicious')")
        .await;
    let suspicious = ui.count().await;
    assert!(suspicious > 0 && suspicious < all, "{suspicious} of {all}");
    assert_eq!(ui.rows().await.len() as i64, suspicious.min(50));
    ui.shot(&format!("11-{tag}-parameter-filter")).await;

    // A pivot from a detail page: the value "is suspicious" is itself a filter, and the actor
    // opens the list narrowed to them, keeping the zone and the filters.
    ui.click("#events tbody tr:first-child .ev").await;
    ui.until("document.getElementById('event-title')").await;
    let yes = if zh { "是" } else { "Yes" };
    let cells = ui.texts(".params td").await;
    assert!(cells.iter().any(|c| c.starts_with(yes)), "{tag}: {cells:?}");
    let actor = ui
        .js("return [...document.querySelectorAll('.fields a.pivot')].find(a => a.href.includes('actor='))?.textContent")
        .await;
    let actor = actor.as_str().expect("an actor pivot").to_string();
    ui.shot(&format!("12-{tag}-detail")).await;
    ui.js("[...document.querySelectorAll('.fields a.pivot')].find(a => a.href.includes('actor=')).click()")
        .await;
    ui.until("location.pathname === '/console/logs' && location.search.includes('actor=')")
        .await;
    let url = ui.url().await;
    assert!(
        url.contains("tz=Asia%2FTaipei") && url.contains("filters=is_suspicious"),
        "{url}"
    );
    let actors = ui.texts("#events tbody td:nth-child(3)").await;
    assert!(
        !actors.is_empty() && actors.iter().all(|a| *a == actor),
        "{actors:?}"
    );

    // A chart bar opens the list of its hour and series, with the bar's count: the largest bar
    // of failed sign-ins (none of which this test adds while it runs).
    let failure = if zh { "失敗" } else { "Failure" };
    ui.go(&format!(
        "/console/overview?lang={lang}&range=7d&tz=Asia%2FTaipei"
    ))
    .await;
    ui.until("document.querySelector('.charts a.bar')").await;
    let bar_count = ui
        .js(&format!(
            "const b = [...document.querySelectorAll('.charts figure:nth-child(2) a.bar')]
                 .filter(b => b.querySelector('title').textContent.includes(' {failure}: '))
                 .sort((x, y) => y.dataset.count - x.dataset.count)[0];
             b.setAttribute('id', 'picked-bar'); return +b.dataset.count"
        ))
        .await
        .as_i64()
        .unwrap();
    ui.fits(&format!("{tag} overview")).await;
    ui.shot(&format!("13-{tag}-overview")).await;
    ui.js("location.href = document.getElementById('picked-bar').getAttribute('href')")
        .await;
    ui.until("location.pathname === '/console/logs' && location.search.includes('from=')")
        .await;
    assert_eq!(ui.count().await, bar_count, "{tag}: the list of a bar");

    // A CSV download of that list: UTF-8 with a byte order mark, a header and one line per row.
    for f in std::fs::read_dir(downloads).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    ui.click("#download-csv").await;
    let started = Instant::now();
    let csv = loop {
        let done: Vec<PathBuf> = std::fs::read_dir(downloads)
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .collect();
        if let Some(p) = done.first() {
            break std::fs::read(p).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{tag}: no CSV downloaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        csv.starts_with(b"\xEF\xBB\xBFtime,"),
        "{tag}: BOM and header"
    );
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(
        text.lines().count() as i64,
        bar_count + 1,
        "{tag}: one line per event"
    );
    // Every line is a failed sign-in, named in the page's language.
    let second = text.lines().nth(1).unwrap();
    assert!(second.contains(",failure,"), "{tag}: {second}");
    assert_eq!(
        second
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        zh,
        "{tag}: {second}"
    );

    // A shared link survives sign-in: signed out, the link leads through the sign-in form back
    // to the same filtered, zoned list.
    let shared = ui.url().await;
    let shared_path = shared[shared.find("/console/").unwrap()..].to_string();
    ui.click("#sign-out").await;
    ui.until("location.pathname === '/console/login'").await;
    ui.go(&shared_path).await;
    ui.until("location.pathname === '/console/login' && location.search.includes('next=')")
        .await;
    ui.fill("#username", USER).await;
    ui.fill("#password", PASSWORD).await;
    ui.click("#sign-in").await;
    ui.until("location.pathname === '/console/logs'").await;
    let back = ui.url().await;
    assert_eq!(
        &back[back.find("/console/").unwrap()..],
        shared_path,
        "{tag}"
    );
    assert_eq!(ui.count().await, bar_count, "{tag}: the shared list");
    let h1 = if zh { "稽核記錄" } else { "Audit log" };
    assert_eq!(ui.text("main h1").await, h1);
}
