//! What every console page shares: language, viewer, rendering and error pages.

use authtrail_catalog::Lang;
use authtrail_formats::display;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Environment;
use time::UtcOffset;

use super::i18n::{self, LANG_COOKIE};
use super::routes::{Console, environment};
use super::session::{self, Viewer};
use crate::error::ApiError;

/// The viewer's time zone: `tz=` in the URL (an IANA name), else UTC. Every time a page shows,
/// every time its form reads and every chart bucket is in it.
#[derive(Clone)]
pub struct Zone {
    pub name: String,
    pub tz: jiff::tz::TimeZone,
    /// True when the URL named it (links then carry it on).
    pub chosen: bool,
}

impl Zone {
    fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
            chosen: false,
        }
    }

    /// The zone's offset at `us`, for display.
    pub fn offset(&self, us: i64) -> UtcOffset {
        display::offset_in(&self.tz, us)
    }

    /// `Asia/Taipei (UTC+08:00)` at `us`; `UTC` alone.
    pub fn label(&self, us: i64) -> String {
        let off = display::zone(self.offset(us));
        if self.name == off {
            off
        } else {
            format!("{} ({off})", self.name)
        }
    }
}

pub struct Ctx {
    pub lang: Lang,
    pub zone: Zone,
    /// A `tz=` that is not an IANA zone: refused (naming `tz`) once the viewer is known.
    zone_error: Option<String>,
    /// `Some` when `?lang=` chose the language: the response remembers it in a cookie.
    pub chosen: Option<Lang>,
    pub viewer: Option<Viewer>,
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl Ctx {
    pub fn anonymous(headers: &HeaderMap, raw: Option<&str>) -> Ctx {
        let query: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .into_owned()
            .take(64)
            .collect();
        let q_lang = query
            .iter()
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.as_str());
        // An empty `tz=` (the form's field left blank) means no choice.
        let (zone, zone_error) = match query.iter().find(|(k, v)| k == "tz" && !v.is_empty()) {
            None => (Zone::utc(), None),
            Some((_, name)) => match authtrail_service::aggregate::time_zone(name, "tz") {
                Ok(tz) => (
                    Zone {
                        name: name.clone(),
                        tz,
                        chosen: true,
                    },
                    None,
                ),
                Err(e) => (
                    Zone::utc(),
                    Some(
                        e.details()
                            .first()
                            .map(|d| d.message.clone())
                            .unwrap_or_default(),
                    ),
                ),
            },
        };
        Ctx {
            lang: i18n::negotiate(q_lang, headers),
            zone,
            zone_error,
            chosen: q_lang.and_then(Lang::from_tag),
            viewer: None,
            path: String::new(),
            query,
        }
    }

    /// The signed-in viewer's context, or a redirect to the sign-in page.
    pub async fn signed_in(
        console: &Console,
        headers: &HeaderMap,
        path: &str,
        raw: Option<&str>,
    ) -> Result<Ctx, Response> {
        let mut ctx = Ctx::anonymous(headers, raw);
        ctx.path = path.to_string();
        match session::viewer(&console.app, headers).await {
            Ok(Some(v)) => {
                ctx.viewer = Some(v);
                match ctx.zone_error.take() {
                    Some(m) => Err(ctx.api_error(ApiError::field("tz", m))),
                    None => Ok(ctx),
                }
            }
            // Back here after signing in: a shared link keeps its filters through sign-in.
            Ok(None) => {
                let here = match raw.filter(|r| !r.is_empty()) {
                    Some(q) => format!("/console{path}?{q}"),
                    None => format!("/console{path}"),
                };
                let to = match super::signin::safe_next(&here) {
                    Some(next) => {
                        let q: String = form_urlencoded::Serializer::new(String::new())
                            .append_pair("next", next)
                            .finish();
                        format!("/console/login?{q}")
                    }
                    None => "/console/login".to_string(),
                };
                Err(Redirect::to(&to).into_response())
            }
            Err(e) => Err(ctx.api_error(e)),
        }
    }

    pub fn viewer(&self) -> &Viewer {
        self.viewer.as_ref().expect("signed_in sets the viewer")
    }

    /// This page's URL with `lang` set, for the language switch.
    fn lang_url(&self, lang: Lang) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.query.iter().filter(|(k, _)| k != "lang") {
            s.append_pair(k, v);
        }
        s.append_pair("lang", lang.tag());
        format!("/console{}?{}", self.path, s.finish())
    }

    /// Renders `template` with the shared context plus `extra`.
    pub fn render(
        &self,
        console: &Console,
        template: &str,
        page: &str,
        extra: minijinja::Value,
    ) -> Response {
        let viewer = self.viewer.as_ref().map(|v| {
            minijinja::context! { username => v.username, tenant => v.tenant.as_str(), csrf => v.csrf }
        });
        let ctx = minijinja::context! {
            lang => self.lang.tag(),
            t => i18n::strings(self.lang),
            viewer => viewer,
            page => page,
            lang_en => self.lang_url(Lang::En),
            lang_zh => self.lang_url(Lang::ZhTw),
            tz => self.zone.name,
            tz_chosen => self.zone.chosen,
            // For links between pages: `?tz=…` when the URL named a zone.
            tz_query => if self.zone.chosen {
                format!("?{}", form_urlencoded::Serializer::new(String::new()).append_pair("tz", &self.zone.name).finish())
            } else {
                String::new()
            },
            ..extra
        };
        match console
            .env
            .get_template(template)
            .and_then(|t| t.render(ctx))
        {
            Ok(html) => self.html(StatusCode::OK, html),
            Err(e) => {
                tracing::error!(error = %e, template, "console template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    pub fn html(&self, status: StatusCode, html: String) -> Response {
        let mut resp = (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::REFERRER_POLICY, "same-origin"),
            ],
            html,
        )
            .into_response();
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        );
        if let Some(l) = self.chosen {
            // Readable by no script; lasts a year. Not a secret, so not Secure-only.
            let v = format!(
                "{LANG_COOKIE}={}; Path=/console; Max-Age=31536000; SameSite=Lax",
                l.tag()
            );
            if let Ok(v) = header::HeaderValue::from_str(&v) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        resp
    }

    /// An error page naming the bad field, with the status the API would answer.
    pub fn error_page(&self, status: StatusCode, field: Option<&str>, message: &str) -> Response {
        let heading = if status == StatusCode::NOT_FOUND {
            i18n::text(self.lang, "not_found")
        } else {
            i18n::text(self.lang, "error")
        };
        let env = environment_cached();
        let viewer = self.viewer.as_ref().map(|v| {
            minijinja::context! { username => v.username, tenant => v.tenant.as_str(), csrf => v.csrf }
        });
        let ctx = minijinja::context! {
            lang => self.lang.tag(), t => i18n::strings(self.lang), viewer => viewer,
            lang_en => self.lang_url(Lang::En), lang_zh => self.lang_url(Lang::ZhTw),
            heading => heading, field => field, message => message,
        };
        let html = env
            .get_template("error.html")
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|_| message.to_string());
        self.html(status, html)
    }

    /// An [`ApiError`] as an error page (its status, its field).
    pub fn api_error(&self, e: ApiError) -> Response {
        let details = e.details();
        let (field, message) = match details.first() {
            Some(d) => (
                Some(super::filters::console_field(&d.field)),
                d.message.clone(),
            ),
            None => (None, e.message()),
        };
        self.error_page(e.status(), field, &message)
    }
}

fn environment_cached() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(environment)
}
