//! The syslog sink: RFC 5424 messages, octet-counted (RFC 6587 §3.4.1), over TCP or TLS (RFC
//! 5425), one message per activity. The message's structured data carries the tenant, the
//! sequence number and the previous one, so a collector can check that none is missing.
//!
//! Syslog has no acknowledgement: a message counts as delivered once written and flushed to
//! the connection. A connection that breaks makes the whole attempt fail and be sent again, so
//! a collector may see a message twice (at-least-once), never not at all.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use authtrail_formats::syslog::{Facility, Header, SdElement, frame, message, severity_of};
use authtrail_model::{Event, Outcome};
use authtrail_service::subscriptions::{Destination, DestinationPolicy};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::guard;
use crate::payload::Coverage;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to a collector, kept across deliveries.
pub struct SyslogSink {
    stream: Box<dyn AsyncWrite + Send + Sync + Unpin>,
    catalog: Option<Arc<authtrail_catalog::Catalog>>,
}

/// This host's name, for the messages' HOSTNAME.
fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

fn tls() -> TlsConnector {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Arc::new(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    });
    TlsConnector::from(config.clone())
}

impl SyslogSink {
    pub async fn connect(
        policy: DestinationPolicy,
        dest: &Destination,
        use_tls: bool,
    ) -> Result<SyslogSink, String> {
        let addrs = guard::resolve(policy, dest.host(), dest.port()).await?;
        let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect(addrs.as_slice()))
            .await
            .map_err(|_| format!("timed out connecting to {}", dest.host()))?
            .map_err(|e| format!("cannot connect to {}: {e}", dest.host()))?;
        let stream: Box<dyn AsyncWrite + Send + Sync + Unpin> = if use_tls {
            let name = ServerName::try_from(dest.host().to_string())
                .map_err(|_| format!("{} is not a TLS server name", dest.host()))?;
            let s = tokio::time::timeout(TIMEOUT, tls().connect(name, tcp))
                .await
                .map_err(|_| "timed out in the TLS handshake".to_string())?
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            Box::new(s)
        } else {
            Box::new(tcp)
        };
        Ok(SyslogSink {
            stream,
            catalog: None,
        })
    }

    /// Sets the catalogue that gives each event its severity.
    pub fn with_catalog(mut self, catalog: Arc<authtrail_catalog::Catalog>) -> SyslogSink {
        self.catalog = Some(catalog);
        self
    }

    /// Writes one activity's message and flushes it.
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &mut self,
        tenant: &str,
        coverage: Coverage,
        application: &str,
        event: Option<&Event>,
        result: Outcome,
        time_us: i64,
        item: &[u8],
    ) -> Result<(), String> {
        let severity = match (&self.catalog, event) {
            (Some(c), Some(e)) => severity_of(c, application, e, result),
            _ => authtrail_formats::syslog::Severity::Informational,
        };
        let header = Header {
            facility: Facility::LOG_AUDIT,
            severity,
            time_us,
            hostname: hostname(),
            msgid: event.map_or("", |e| e.name.as_str()),
        };
        let sd = [SdElement::authtrail(
            tenant,
            coverage.last,
            Some(coverage.previous),
        )];
        let msg = message(&header, &sd, &String::from_utf8_lossy(item));
        let bytes = frame(&msg);
        tokio::time::timeout(TIMEOUT, async {
            self.stream.write_all(&bytes).await?;
            self.stream.flush().await
        })
        .await
        .map_err(|_| "timed out writing to the collector".to_string())?
        .map_err(|e| format!("cannot write to the collector: {e}"))
    }
}
