//! The `authtrail` binary. Each subcommand lives in its own module; this file only parses flags
//! and dispatches.

mod client;
mod demo;
mod detect;
mod erase;
mod export;
mod ingest;
mod jobs;
mod log;
mod log_keys;
mod logto;
mod query;
mod retention;
mod sealing;
mod serve;
mod token;
mod user;
mod verify;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// jemalloc rather than glibc's malloc: the server frees on one thread what another allocated (a
/// request's events are parsed on a runtime worker and stored by the writer thread), and glibc's
/// per-thread arenas keep such freed memory. Same bench, 1M events: the server's peak RSS during
/// ingest was 345 MiB with glibc, 254 MiB with jemalloc at the same throughput; glibc limited to
/// two arenas kept 219 MiB but ingested 0.77× as fast (docs/performance.md, issue #18).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The tenant used when none is given. Google's clients check `customerId` against `C.+`, so the
/// default tenant id has that shape; `my_customer` also always means "the token's tenant".
pub const DEFAULT_TENANT: &str = "Cdefault";

#[derive(Parser)]
#[command(
    name = "authtrail",
    version,
    about = "The audit trail of everything that happens around sign-in"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub struct DataDir {
    /// The data directory of the embedded store.
    #[arg(
        long = "data",
        env = "AUTHTRAIL_DATA",
        default_value = "./authtrail-data"
    )]
    pub dir: PathBuf,
}

/// Where the store is: a data directory (the embedded default), or PostgreSQL with --store.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// PostgreSQL instead of the data directory, e.g. postgres://user@host:5432/db.
    #[arg(long = "store", env = "AUTHTRAIL_STORE")]
    pub store: Option<String>,
    /// The sealing key file (64 hex digits) that seals the store's secrets: the server's
    /// `sealing_key_file`. Default: `sealing.key` in the data directory; required with --store.
    #[arg(long = "sealing-key-file", env = "AUTHTRAIL_SEALING_KEY_FILE")]
    pub sealing_key_file: Option<PathBuf>,
}

impl StoreArgs {
    pub async fn open(&self) -> anyhow::Result<std::sync::Arc<dyn authtrail_model::Store>> {
        let clock = std::sync::Arc::new(authtrail_model::SystemClock);
        Ok(match &self.store {
            Some(url) => {
                std::sync::Arc::new(authtrail_store_postgres::PgStore::connect(url, clock).await?)
            }
            None => std::sync::Arc::new(authtrail_store_sqlite::SqliteStore::open(
                &self.data.dir,
                clock,
            )?),
        })
    }

    /// This node's sealing key (see `sealing::load`), for commands that open the service.
    pub fn sealing_key(&self) -> anyhow::Result<authtrail_service::sealing::SealingKey> {
        let dir = self.store.is_none().then_some(self.data.dir.as_path());
        sealing::load(self.sealing_key_file.as_deref(), dir)
    }

    /// Where the store is, for messages (never the URL: it may hold a password).
    pub fn describe(&self) -> String {
        match &self.store {
            Some(_) => "PostgreSQL (--store)".into(),
            None => self.data.dir.display().to_string(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::Args),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::Command),
    /// Load activities from an NDJSON file (or - for stdin), over HTTP or straight into a store.
    Ingest(ingest::Args),
    /// Query activities and print them as NDJSON.
    Query(query::Args),
    /// Create, list and delete web console users, and change their passwords.
    #[command(subcommand)]
    User(user::Command),
    /// Fill a store with realistic sign-in traffic.
    Demo(demo::Args),
    /// Suspicious-sign-in detection (serve --detect runs it): measure it on labelled traffic.
    #[command(subcommand)]
    Detect(detect::Command),
    /// Remove activities older than N days now (serve --retention-days does it periodically).
    Retention(retention::Args),
    /// Put a tenant under legal hold (no purge or erasure), release it, or show it.
    #[command(subcommand)]
    LegalHold(retention::HoldCommand),
    /// Erase one person's personal fields (e-mail, profile id, IP) from a tenant's trail; the
    /// transparency log stays verifiable.
    Erase(erase::Args),
    /// Write every activity (of one tenant or all) to an NDJSON file, optionally zstd-compressed.
    Export(export::Args),
    /// Load an export into a store, keeping every uniqueQualifier; --verify checks it afterwards.
    Import(export::ImportArgs),
    /// Check that a store holds exactly the activities of an export (counts and digests).
    VerifyExport(verify::Args),
    /// Hash new activities into each tenant's log and sign a checkpoint now (serve does it
    /// continuously); prints each tenant's tree size and verifier key.
    Checkpoint(log::CheckpointArgs),
    /// Check an export offline against a signed checkpoint and the tenant's verifier key, naming
    /// the first edited, missing or moved activity; or, with --url, a running server's log.
    Verify(log::VerifyArgs),
    /// The transparency log's signing keys (rotation) and witnesses.
    #[command(subcommand)]
    Log(log_keys::Command),
    /// Logto integration settings (the webhook signing key).
    #[command(subcommand)]
    Logto(logto::Command),
    /// Bring a PostgreSQL database to the newest schema (serve also does this at start).
    Migrate {
        /// postgres://user@host:5432/db
        #[arg(long = "store", env = "AUTHTRAIL_STORE")]
        store: String,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: a log file or a collector gets plain text.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(a) => serve::run(a).await,
            Command::Token(c) => token::run(c).await,
            Command::Ingest(a) => ingest::run(a).await,
            Command::Query(a) => query::run(a).await,
            Command::Demo(a) => demo::run(a).await,
            Command::Detect(c) => detect::command(c).await,
            Command::Retention(a) => retention::run(a).await,
            Command::LegalHold(c) => retention::hold(c).await,
            Command::Erase(a) => erase::run(a).await,
            Command::Export(a) => export::run(a).await,
            Command::Import(a) => export::import(a).await,
            Command::VerifyExport(a) => verify::run(a).await,
            Command::Checkpoint(a) => log::checkpoint(a).await,
            Command::Verify(a) => log::verify(a).await,
            Command::Log(c) => log_keys::run(c).await,
            Command::Logto(c) => logto::run(c).await,
            Command::User(c) => user::run(c).await,
            Command::Migrate { store } => {
                let m = authtrail_store_postgres::PgStore::migrate(&store).await?;
                eprintln!("schema version {} → {}", m.from, m.to);
                Ok(())
            }
        }
    })
}
