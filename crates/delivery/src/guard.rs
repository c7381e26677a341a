//! Name resolution under the destination policy: every address a destination's name resolves
//! to is checked when connecting, not only when the subscription was written, so a name that
//! is later pointed at an internal address (DNS rebinding) reaches nothing. Every sink connects
//! through here: the HTTP client as its resolver, syslog and NATS before they dial.

use std::net::SocketAddr;
use std::sync::Arc;

use authtrail_service::subscriptions::DestinationPolicy;

/// The allowed addresses of `host:port`, or why there are none.
pub async fn resolve(
    policy: DestinationPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, String> {
    // A bracketed IPv6 literal comes from a URL as `[::1]`.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut refused = None;
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| match policy.allows(a.ip()) {
            Ok(()) => true,
            Err(why) => {
                refused = Some(why);
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(refused.unwrap_or_else(|| format!("{host} resolves to no address")));
    }
    Ok(allowed)
}

/// The HTTP client's resolver.
#[derive(Clone)]
pub struct GuardedResolver(pub DestinationPolicy);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let addrs = resolve(policy, name.as_str(), 0).await?;
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// An HTTP client that never follows a redirect, resolves only allowed addresses and gives up
/// on slow destinations (so one cannot hold its subscription's lease, or anything else, long).
pub fn http_client(policy: DestinationPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver(policy)))
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("authtrail/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the TLS backend and resolver are built in")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_names_resolve_to_nothing_unless_allowed() {
        let strict = DestinationPolicy::default();
        let e = resolve(strict, "localhost", 80).await.unwrap_err();
        assert!(e.contains("internal"), "{e}");
        let open = DestinationPolicy {
            allow_private: true,
        };
        assert!(!resolve(open, "localhost", 80).await.unwrap().is_empty());
    }
}
