//! The server's configuration, one typed value built from four layers, each overriding the one
//! before:
//!
//! 1. defaults ([`ServerConfig::default`], the limits from `authtrail_server::Limits::default`);
//! 2. a TOML file (`serve --config FILE`), whose keys are the fields of [`ServerConfig`];
//! 3. `AUTHTRAIL_<KEY>` environment variables (`AUTHTRAIL_MAX_BATCH` for `max_batch`);
//! 4. command-line flags (`--max-batch`), see [`Flags`].
//!
//! Every key has exactly one environment variable and one flag, named after it (the exceptions
//! are older names kept as contracts: `--trusted-proxy` for `trusted_proxies`). An unknown key in
//! the file is an error naming the key and the file; a bad value names the key and where it came
//! from; an `AUTHTRAIL_*` variable that nothing reads is returned as a warning for the log.
//!
//! The layering is [figment](https://docs.rs/figment)'s; this crate adds the key table, the
//! value checks and the wording of errors.

mod de;
mod flags;
mod load;
mod server;

pub use flags::Flags;
pub use load::{ConfigError, ENV_PREFIX, Loaded, keys, load};
pub use server::{
    DEFAULT_RETENTION_FLOOR_DAYS, MAX_RETENTION_DAYS, RETENTION_INTERVAL_SECS, ServerConfig,
    SmtpUrl, StoreUrl,
};
