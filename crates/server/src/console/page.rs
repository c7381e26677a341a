//! What every console page shares: language, viewer, rendering and error pages.

use authtrail_catalog::Lang;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Environment;

use super::i18n::{self, LANG_COOKIE};
use super::routes::{Console, environment};
use super::session::{self, Viewer};
use crate::error::ApiError;

pub struct Ctx {
    pub lang: Lang,
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
        Ctx {
            lang: i18n::negotiate(q_lang, headers),
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
                Ok(ctx)
            }
            Ok(None) => Err(Redirect::to("/console/login").into_response()),
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
