//! Where a subscription delivers, and which addresses it may never reach.
//!
//! A destination is a URL whose scheme names the sink:
//! - `https://…` (or `http://…` where private destinations are allowed): a webhook;
//! - `syslog+tls://host:port` or `syslog+tcp://host:port`: RFC 5424 over TCP, octet-counted
//!   (RFC 5425 framing over TLS);
//! - `nats://host:port/subject`: a NATS JetStream subject.
//!
//! The address policy is the SSRF guard: an authtrail node sits inside the operator's network,
//! so a tenant admin who could point a subscription at `127.0.0.1`, `10.x`, `169.254.169.254`
//! (cloud metadata) or the like could make it probe or post to internal services. Such
//! addresses are refused unless the operator allows them (`allow_private_destinations`). The
//! check here refuses literal addresses when a subscription is written; the delivery engine
//! checks every address a name resolves to when it connects, so a DNS name that later resolves
//! to an internal address (rebinding) is refused too.

use std::net::IpAddr;

use url::Url;

use crate::error::ServiceError;

/// Longest destination URL.
pub const MAX_URL_BYTES: usize = 2048;

/// The kind of sink a destination names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Webhook,
    Syslog { tls: bool },
    Nats,
}

/// A checked destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub url: Url,
    pub sink: Sink,
}

impl Destination {
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or("")
    }

    /// The port, the scheme's default when the URL gives none.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(match self.sink {
            Sink::Syslog { tls: true } => 6514,
            Sink::Syslog { tls: false } => 601,
            Sink::Nats => 4222,
            Sink::Webhook => 443,
        })
    }

    /// The NATS subject (the URL's path without its slash).
    pub fn subject(&self) -> &str {
        self.url.path().trim_start_matches('/')
    }
}

/// Which destinations this node may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Allow loopback, private, link-local and other internal addresses, and plain `http://`
    /// (`serve --allow-private-destinations`): for tests and closed networks only.
    pub allow_private: bool,
}

impl DestinationPolicy {
    /// Parses and checks `raw`, naming `field` in every refusal.
    pub fn check(&self, raw: &str, field: &str) -> Result<Destination, ServiceError> {
        let bad = |m: String| ServiceError::field(field, m);
        if raw.len() > MAX_URL_BYTES {
            return Err(bad(format!("is longer than {MAX_URL_BYTES} bytes")));
        }
        let url = Url::parse(raw).map_err(|e| bad(format!("{raw:?} is not a URL ({e})")))?;
        let sink = match url.scheme() {
            "https" => Sink::Webhook,
            "http" if self.allow_private => Sink::Webhook,
            "http" => {
                return Err(bad(
                    "must use https (plain http is allowed only with allow_private_destinations)"
                        .into(),
                ));
            }
            "syslog+tls" => Sink::Syslog { tls: true },
            "syslog+tcp" if self.allow_private => Sink::Syslog { tls: false },
            "syslog+tcp" => {
                return Err(bad(
                    "must use syslog+tls (plain TCP is allowed only with allow_private_destinations)"
                        .into(),
                ));
            }
            "nats" => Sink::Nats,
            other => {
                return Err(bad(format!(
                    "scheme {other:?} is not a sink: use https, syslog+tls, syslog+tcp or nats"
                )));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "must not carry credentials (they would be stored and shown in clear)".into(),
            ));
        }
        let Some(host) = url.host() else {
            return Err(bad("has no host".into()));
        };
        let literal: Option<IpAddr> = match host {
            url::Host::Ipv4(a) => Some(a.into()),
            url::Host::Ipv6(a) => Some(a.into()),
            url::Host::Domain(d) => {
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") {
                    Some(IpAddr::from([127, 0, 0, 1]))
                } else {
                    None
                }
            }
        };
        if let Some(ip) = literal {
            self.allows(ip).map_err(bad)?;
        }
        if url.fragment().is_some() {
            return Err(bad("must not have a #fragment".into()));
        }
        if sink == Sink::Nats {
            let subject = url.path().trim_start_matches('/');
            if subject.is_empty()
                || subject.len() > 255
                || !subject.split('.').all(|t| {
                    !t.is_empty()
                        && t.bytes()
                            .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>')
                })
            {
                return Err(bad(
                    "a nats destination is nats://host:port/subject, with a subject of dot-separated tokens and no wildcards"
                        .into(),
                ));
            }
        } else if matches!(sink, Sink::Syslog { .. })
            && (!url.path().trim_start_matches('/').is_empty() || url.query().is_some())
        {
            return Err(bad(
                "a syslog destination is syslog+tls://host:port, with no path".into(),
            ));
        }
        Ok(Destination { url, sink })
    }

    /// Whether a connection to `ip` is allowed; the refusal says why.
    pub fn allows(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(format!(
                "{ip} is a loopback, private, link-local or otherwise internal address; \
                 destinations must be public unless the operator sets allow_private_destinations"
            ))
        }
    }
}

/// True for an address on the public Internet: not loopback, private (RFC 1918, ULA), shared
/// (RFC 6598), link-local (which holds cloud metadata services at 169.254.169.254),
/// unspecified, multicast, broadcast, documentation or reserved ranges.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10, carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24, IETF protocol assignments
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // fc00::/7, unique local
                || (s[0] & 0xffc0) == 0xfe80 // fe80::/10, link-local
                || (s[0] & 0xffc0) == 0xfec0 // fec0::/10, site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64: could reach an internal IPv4
                || s[0] == 0x2002) // 6to4: likewise
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::ffff:127.0.0.1",
            "fd00::1",
            "fe80::1",
            "64:ff9b::a00:1",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn destinations_are_checked_and_name_their_field() {
        let strict = DestinationPolicy::default();
        let open = DestinationPolicy {
            allow_private: true,
        };
        assert_eq!(
            strict
                .check("https://siem.example.com/hook", "destination")
                .unwrap()
                .sink,
            Sink::Webhook
        );
        for bad in [
            "http://siem.example.com/hook",
            "https://127.0.0.1/hook",
            "https://localhost:8443/",
            "https://[::1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://user:pw@siem.example.com/",
            "ftp://siem.example.com/",
            "not a url",
            "syslog+tcp://siem.example.com:601",
            "nats://broker.example.com:4222/",
            "nats://broker.example.com:4222/audit.*",
        ] {
            let e = strict.check(bad, "destination").unwrap_err();
            assert_eq!(e.details()[0].field, "destination", "{bad}");
        }
        assert!(
            open.check("http://127.0.0.1:9000/hook", "destination")
                .is_ok()
        );
        let d = open
            .check("nats://127.0.0.1:4222/audit.events", "d")
            .unwrap();
        assert_eq!(
            (d.sink, d.subject(), d.port()),
            (Sink::Nats, "audit.events", 4222)
        );
        let d = strict.check("syslog+tls://siem.example.com", "d").unwrap();
        assert_eq!((d.sink, d.port()), (Sink::Syslog { tls: true }, 6514));
    }
}
