//! The one paging helper: a page's end is frozen into a signed cursor here, and a cursor a client
//! sends back is decoded here. Every front end that pages (native, Google, Logto, the console)
//! goes through [`Service::resume`] and the `next_cursor` of [`Service::list`].
//!
//! A cursor remembers two things: the last position served, and the end of the time window as
//! the first page fixed it (`None` when the window is open-ended), so that events arriving while
//! a client pages never shift what it sees.

use authtrail_model::{ActivityQuery, Position, Tenant};

use crate::Service;
use crate::cursor::{self, Cursor};
use crate::error::ServiceError;

impl Service {
    /// Continues `q` from a cursor a client sent in `field`: its position and its frozen window
    /// end replace the query's. A cursor not minted here for this tenant is `Invalid`.
    pub fn resume(
        &self,
        tenant: &Tenant,
        q: &mut ActivityQuery,
        field: &str,
        token: &str,
    ) -> Result<(), ServiceError> {
        let c = cursor::decode(&self.0.cursor_key, tenant, token)
            .map_err(|m| ServiceError::field(field, m))?;
        q.after = Some(c.after);
        q.end_us = c.end_us;
        Ok(())
    }

    /// The cursor that continues `q` after `after`, keeping the query's window end.
    pub fn cursor(&self, tenant: &Tenant, q: &ActivityQuery, after: Position) -> String {
        cursor::encode(
            &self.0.cursor_key,
            tenant,
            Cursor {
                after,
                end_us: q.end_us,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use authtrail_model::Stopwatch;

    use serde_json::json;

    use super::*;
    use crate::Source;
    use crate::testing::{NOW, fixture, tenant};

    #[tokio::test]
    async fn pages_follow_their_cursor_to_the_end_without_overlap() {
        let f = fixture().await;
        let t = tenant("Ca");
        let items: Vec<_> = (0..5)
            .map(|i| {
                json!({"id": {"applicationName": "login", "time": format!("2026-11-22T12:0{i}:00Z")},
                       "actor": {"email": "a@example.com"}, "events": [{"name": "login_success"}]})
            })
            .collect();
        let batch = f.service.validate(&t, Source::Cli, &items).unwrap();
        f.service
            .ingest(&t, Source::Cli, batch, Stopwatch::start())
            .await
            .unwrap();

        let mut q = ActivityQuery {
            limit: 2,
            ..ActivityQuery::default()
        };
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = f.service.list(&t, &q).await.unwrap();
            pages += 1;
            seen.extend(page.items.iter().map(|a| a.unique_qualifier));
            let Some(c) = page.next_cursor else { break };
            // An open-ended window stays open: the cursor carries `None`, not a sentinel.
            let mut next = ActivityQuery {
                limit: 2,
                ..ActivityQuery::default()
            };
            f.service.resume(&t, &mut next, "cursor", &c).unwrap();
            assert_eq!(next.end_us, None);
            assert_eq!(next.after, page.next);
            q = next;
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, vec![5, 4, 3, 2, 1]);

        // A frozen end is kept across pages.
        let q = ActivityQuery {
            end_us: Some(NOW),
            limit: 2,
            ..ActivityQuery::default()
        };
        let page = f.service.list(&t, &q).await.unwrap();
        let mut next = ActivityQuery::default();
        f.service
            .resume(
                &t,
                &mut next,
                "pageToken",
                page.next_cursor.as_deref().unwrap(),
            )
            .unwrap();
        assert_eq!(next.end_us, Some(NOW));

        // Another tenant's cursor, or a forged one, is invalid input naming the field.
        let e = f
            .service
            .resume(
                &tenant("Cb"),
                &mut next,
                "pageToken",
                page.next_cursor.as_deref().unwrap(),
            )
            .unwrap_err();
        assert_eq!(e.details()[0].field, "pageToken");
        let e = f
            .service
            .resume(&t, &mut next, "cursor", "junk")
            .unwrap_err();
        assert_eq!(e.details()[0].field, "cursor");
    }
}
