//! The server under test: the real `authtrail serve` binary as a child process, so that its peak
//! RSS is its own (read from `/proc/<pid>/status`), not the benchmark's, which holds the whole
//! data set in memory.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// The tenant every benchmark event goes to.
pub const TENANT: &str = "Cbench";

pub struct Server {
    child: Child,
    pub base: String,
    pub token: String,
    pub engine: &'static str,
}

/// `authtrail` next to this binary (both are built by `cargo build -p authtrail -p authtrail-bench`).
pub fn default_binary() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("authtrail")
}

impl Server {
    /// Creates a token, then starts `authtrail serve` on `store_args` (`--data DIR` or
    /// `--store URL`) on a free port, its log going to `log`.
    pub fn start(
        bin: &Path,
        engine: &'static str,
        store_args: &[String],
        log: &Path,
    ) -> anyhow::Result<Server> {
        Server::start_with(bin, engine, store_args, log, "ingest,read", &[])
    }

    /// [`Server::start`] with a token of `scopes` and more `serve` flags.
    pub fn start_with(
        bin: &Path,
        engine: &'static str,
        store_args: &[String],
        log: &Path,
        scopes: &str,
        extra: &[&str],
    ) -> anyhow::Result<Server> {
        let out = Command::new(bin)
            .args(["token", "create"])
            .args(store_args)
            .args(["--tenant", TENANT, "--scopes", scopes])
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {} (build it first)", bin.display()))?;
        if !out.status.success() {
            bail!("authtrail token create failed");
        }
        let token = String::from_utf8(out.stdout)?.trim().to_string();
        let mut child = Command::new(bin)
            .arg("serve")
            .args(store_args)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            // The bench measures the engine and the HTTP path, not the abuse limits: one token
            // from one IP sends thousands of requests a second here, which the default per-token
            // and per-IP rates would (rightly) refuse.
            .args([
                "--per-ip-rps",
                "0",
                "--per-token-rps",
                "0",
                "--max-in-flight",
                "4096",
            ])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().expect("piped");
        let mut file = std::fs::File::create(log)?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the log until the server exits: the first "listening on" line gives the port.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if let Some(i) = line.find("listening on http://") {
                    let addr = line[i + "listening on ".len()..].trim().to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                bail!("authtrail serve did not start; see {}", log.display());
            }
        };
        Ok(Server {
            child,
            base,
            token,
            engine,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmHWM` is the peak RSS so far).
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        text.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
    }

    /// SIGKILL: the server dies at once, mid-request, as in a crash or an OOM kill.
    pub fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM (the server finishes in-flight requests and closes its store), then waits.
    pub fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()?;
        for _ in 0..300 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        bail!("authtrail serve did not stop within 30 s")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only if stop() was not called (an error path): never leave the child running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
