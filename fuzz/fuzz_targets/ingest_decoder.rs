//! The ingest decoder: body framing (JSON array or NDJSON) then per-item validation, on
//! arbitrary bytes. Must never panic; whatever validates must serialize back to wire JSON.
#![no_main]

use std::sync::LazyLock;

use authtrail_catalog::Catalog;
use authtrail_model::Tenant;
use authtrail_model::validate::{Context, validate_wire};
use authtrail_server::ingest::{Format, parse_items};
use libfuzzer_sys::fuzz_target;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::builtin().unwrap());
static TENANT: LazyLock<Tenant> = LazyLock::new(|| Tenant::new("Cfuzz").unwrap());

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let format = if first & 1 == 0 {
        Format::JsonArray
    } else {
        Format::Ndjson
    };
    let Ok(items) = parse_items(format, body, 1000) else {
        return;
    };
    let ctx = Context {
        catalog: &CATALOG,
        tenant: &TENANT,
        now_us: 1_795_392_000_000_000,
    };
    for (i, item) in items.iter().enumerate() {
        if let Ok(activity) = validate_wire(&ctx, i, item) {
            serde_json::to_vec(&activity.body).expect("a valid activity serializes");
        }
    }
});
