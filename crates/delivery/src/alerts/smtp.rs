//! Alert e-mail through SMTP (lettre): STARTTLS or implicit TLS over rustls, authentication,
//! a plain-text and an HTML part. lettre writes non-ASCII headers as RFC 2047 encoded words
//! and the bodies as UTF-8 (quoted-printable or base64), so zh-TW reads as written.
//!
//! The server is the operator's (`smtp_url`), not a rule's: it is not subject to the
//! destination policy. Its password never leaves [`Mailer`]: not in logs, errors or `Debug`.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;

/// How long one SMTP conversation may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(20);

/// An SMTP server and the sender of alerts.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `smtp://host:port` without credentials: what logs and errors may name.
    shown: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.shown)
            .finish()
    }
}

/// How the connection is secured, from the URL: `smtps://` is TLS from the first byte (port
/// 465); `smtp://` upgrades with STARTTLS and refuses a server that cannot (port 587), unless
/// `?tls=opportunistic` (upgrade when offered) or `?tls=none` (a local relay; never with a
/// password).
fn security(url: &Url, host: &str) -> Result<(Tls, u16), String> {
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let params = || {
        TlsParameters::new(host.to_string())
            .map_err(|e| format!("smtp_url: cannot set up TLS for {host}: {e}"))
    };
    match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => Ok((Tls::Wrapper(params()?), 465)),
        ("smtp", None | Some("required")) => Ok((Tls::Required(params()?), 587)),
        ("smtp", Some("opportunistic")) => Ok((Tls::Opportunistic(params()?), 587)),
        ("smtp", Some("none")) => {
            if url.password().is_some() {
                return Err(
                    "smtp_url: a password is never sent without TLS (drop ?tls=none)".into(),
                );
            }
            Ok((Tls::None, 25))
        }
        (scheme, tls) => Err(format!(
            "smtp_url: use smtp:// (STARTTLS; ?tls=opportunistic or ?tls=none) or smtps:// (TLS), not {scheme}:// with tls={tls:?}"
        )),
    }
}

impl Mailer {
    /// `smtp://user:pass@host:port` (user and password percent-encoded) and the sender,
    /// `alerts@example.com` or `authtrail <alerts@example.com>`.
    pub fn new(smtp_url: &str, from: &str) -> Result<Mailer, String> {
        // Never echo the URL: it may hold the password.
        let url = Url::parse(smtp_url).map_err(|e| format!("smtp_url is not a URL ({e})"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("smtp_url names no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let (tls, default_port) = security(&url, &host)?;
        let port = url.port().unwrap_or(default_port);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if let Some(password) = url.password() {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| "smtp_url: the user or password is not UTF-8".to_string())
            };
            builder =
                builder.credentials(Credentials::new(decode(url.username())?, decode(password)?));
        }
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("alert_from {from:?} is not an e-mail address ({e})"))?;
        Ok(Mailer {
            transport: builder.build(),
            from,
            shown: format!("{}://{host}:{port}", url.scheme()),
        })
    }

    pub fn server(&self) -> &str {
        &self.shown
    }

    /// Sends one message to one address. `Ok` only once the server accepted it for delivery
    /// (a 2xx answer to the end of DATA).
    pub async fn send(
        &self,
        to: &str,
        display_name: &str,
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("{to:?} is not an e-mail address ({e})"))?;
        // Header text comes partly from activities: no line break may reach a header.
        let one_line = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        };
        let from = Mailbox::new(Some(one_line(display_name)), self.from.email.clone());
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(one_line(subject))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text.to_string()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html.to_string()),
                    ),
            )
            .map_err(|e| format!("cannot build the message: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", self.shown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_security_and_never_show_the_password() {
        let m = Mailer::new("smtp://u:s3cret@mail.example.com", "a@example.com").unwrap();
        assert_eq!(m.server(), "smtp://mail.example.com:587");
        assert!(!format!("{m:?}").contains("s3cret"));
        let m = Mailer::new("smtps://u:p@mail.example.com", "a@example.com").unwrap();
        assert_eq!(m.server(), "smtps://mail.example.com:465");
        let m = Mailer::new("smtp://127.0.0.1:2525?tls=none", "a@example.com").unwrap();
        assert_eq!(m.server(), "smtp://127.0.0.1:2525");
        for bad in [
            "smtp://u:s3cret@h?tls=none",
            "http://h",
            "smtp://h?tls=maybe",
            "not a url",
        ] {
            let e = Mailer::new(bad, "a@example.com").unwrap_err();
            assert!(!e.contains("s3cret"), "{e}");
        }
        assert!(Mailer::new("smtp://h", "not an address").is_err());
    }
}
