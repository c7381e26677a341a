//! Where `ingest` and `query` send their work: a running server over HTTP, or a store (data
//! directory or PostgreSQL) opened in-process (for loading data before a server runs, or with no
//! server at all).

use std::sync::Arc;

use anyhow::bail;
use authtrail_catalog::Catalog;
use authtrail_model::{SystemClock, Tenant};
use authtrail_server::{AppState, Limits};

use crate::{DEFAULT_TENANT, StoreArgs};

#[derive(clap::Args, Clone)]
pub struct TargetArgs {
    /// The server's base URL (e.g. http://127.0.0.1:8080). Without it, the store (--data or
    /// --store) is opened directly.
    #[arg(long, env = "AUTHTRAIL_URL")]
    pub url: Option<String>,
    /// The API token for --url.
    #[arg(long, env = "AUTHTRAIL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// The tenant, when working straight on a store (no --url).
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
}

pub enum Target {
    Remote {
        http: reqwest::Client,
        url: String,
        token: String,
    },
    Local {
        state: AppState,
        tenant: Tenant,
    },
}

impl TargetArgs {
    pub async fn open(&self) -> anyhow::Result<Target> {
        if let Some(url) = &self.url {
            let Some(token) = &self.token else {
                bail!("--url needs --token (or AUTHTRAIL_TOKEN)");
            };
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(300))
                .build()?;
            return Ok(Target::Remote {
                http,
                url: url.trim_end_matches('/').to_string(),
                token: token.clone(),
            });
        }
        let tenant = Tenant::new(&self.tenant).map_err(anyhow::Error::msg)?;
        let clock = Arc::new(SystemClock);
        let store = self.store.open().await?;
        let catalog = Arc::new(Catalog::builtin()?);
        let state = AppState::new(store, catalog, clock, Limits::default()).await?;
        Ok(Target::Local { state, tenant })
    }
}

/// Turns an error response of the native API into a readable message.
pub async fn explain(resp: reqwest::Response) -> anyhow::Error {
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let mut msg = format!(
        "{status}: {}",
        body["error"]["message"].as_str().unwrap_or("(no message)")
    );
    if let Some(details) = body["error"]["details"].as_array() {
        for d in details.iter().take(20) {
            msg.push_str(&format!(
                "\n  {}: {}",
                d["field"].as_str().unwrap_or("?"),
                d["message"].as_str().unwrap_or("")
            ));
        }
    }
    anyhow::anyhow!(msg)
}
