//! Where `ingest` and `query` send their work: a running server over HTTP, or a store (data
//! directory or PostgreSQL) opened in-process (for loading data before a server runs, or with no
//! server at all).

use std::sync::Arc;

use anyhow::bail;
use authtrail_catalog::Catalog;
use authtrail_model::{SystemClock, Tenant};
use authtrail_service::Service;

use crate::{DEFAULT_TENANT, StoreArgs};

/// The application layer over the store of `args` (a data directory or PostgreSQL), with the
/// built-in catalogue: what every command that works straight on a store calls.
pub async fn service(args: &StoreArgs) -> anyhow::Result<Service> {
    let store = args.open().await?;
    let catalog = Arc::new(Catalog::builtin()?);
    let sealing = args.sealing_key()?;
    Ok(Service::open(store, catalog, Arc::new(SystemClock), sealing).await?)
}

/// A tenant named on the command line.
pub fn tenant(t: &str) -> anyhow::Result<Tenant> {
    Tenant::new(t).map_err(anyhow::Error::msg)
}

#[derive(clap::Args, Clone)]
pub struct TargetArgs {
    /// The server's base URL, http:// or https:// (e.g. http://127.0.0.1:8080). Without it, the
    /// store (--data or --store) is opened directly.
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
        service: Service,
        tenant: Tenant,
    },
}

impl TargetArgs {
    pub async fn open(&self) -> anyhow::Result<Target> {
        if let Some(url) = &self.url {
            let Some(token) = &self.token else {
                bail!("--url needs --token (or AUTHTRAIL_TOKEN)");
            };
            let url = base_url(url)?;
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(300))
                .build()?;
            return Ok(Target::Remote {
                http,
                url,
                token: token.clone(),
            });
        }
        let tenant = tenant(&self.tenant)?;
        let service = service(&self.store).await?;
        Ok(Target::Local { service, tenant })
    }
}

/// The server's base URL without a trailing `/`, refused before any request unless it is
/// http:// or https:// (the only schemes the client speaks; https through rustls).
fn base_url(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        anyhow::anyhow!("--url {url:?} is not a URL ({e}); e.g. https://authtrail.example.com")
    })?;
    match parsed.scheme() {
        "http" | "https" => Ok(url.trim_end_matches('/').to_string()),
        other => bail!("--url {url:?}: the scheme must be http or https, not {other}"),
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

#[cfg(test)]
mod tests {
    use super::base_url;

    #[test]
    fn base_url_takes_http_and_https_only() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            base_url("https://a.example/x/").unwrap(),
            "https://a.example/x"
        );
        let e = base_url("ftp://a.example").unwrap_err().to_string();
        assert!(e.contains("must be http or https, not ftp"), "{e}");
        let e = base_url("127.0.0.1:8080").unwrap_err().to_string();
        assert!(e.contains("--url"), "{e}");
        let e = base_url("localhost").unwrap_err().to_string();
        assert!(e.contains("not a URL"), "{e}");
    }
}
