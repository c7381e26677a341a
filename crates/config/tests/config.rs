//! The four layers and their errors. `figment::Jail` gives each test its own environment and
//! working directory (and serialises the tests that change them).

#![allow(
    clippy::result_large_err,
    reason = "figment::Jail's closures return figment's own (large) error"
)]

use std::path::Path;

use authtrail_config::{ConfigError, Flags, ServerConfig, load};
use figment::Jail;

fn invalid(r: Result<authtrail_config::Loaded, ConfigError>) -> String {
    match r {
        Err(ConfigError::Invalid(msg)) => msg,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "authtrail.toml",
            r#"
                max_batch = 10         # overridden by the environment and a flag
                per_token_rps = 11     # overridden by the environment
                per_ip_rps = 12        # from the file
                listen = "0.0.0.0:9000"
            "#,
        )?;
        jail.set_env("AUTHTRAIL_MAX_BATCH", 20);
        jail.set_env("AUTHTRAIL_PER_TOKEN_RPS", 21);
        let flags = Flags {
            max_batch: Some(30),
            ..Flags::default()
        };
        let c = load(Some(Path::new("authtrail.toml")), &flags)
            .unwrap()
            .config;
        assert_eq!(c.max_batch, 30, "flag");
        assert_eq!(c.per_token_rps, 21, "environment");
        assert_eq!(c.per_ip_rps, 12, "file");
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000", "file");
        let d = ServerConfig::default();
        assert_eq!(c.max_connections, d.max_connections, "default");
        assert_eq!(c.limits().max_batch, 30);
        Ok(())
    });
}

#[test]
fn the_old_forms_of_variables_still_work() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("AUTHTRAIL_CATALOG", "ours.toml, theirs.toml");
        jail.set_env("AUTHTRAIL_TRUSTED_PROXIES", "10.0.0.0/8,192.168.0.0/16");
        jail.set_env("AUTHTRAIL_METRICS_OPEN", "1");
        jail.set_env("AUTHTRAIL_DATA", "/var/lib/authtrail");
        jail.set_env("AUTHTRAIL_STORE", "postgres://authtrail:pw@db/authtrail");
        jail.set_env("AUTHTRAIL_RETENTION_DAYS", 365);
        let c = load(None, &Flags::default()).unwrap().config;
        assert_eq!(c.catalog.len(), 2);
        assert_eq!(c.catalog[1], Path::new("theirs.toml"));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.metrics_open);
        assert_eq!(c.data, Path::new("/var/lib/authtrail"));
        assert_eq!(c.retention_days, Some(365));
        let url = c.store.as_ref().unwrap();
        assert_eq!(url.0, "postgres://authtrail:pw@db/authtrail");
        assert!(
            !format!("{c:?}").contains("pw@"),
            "a store URL never prints"
        );

        jail.set_env("AUTHTRAIL_METRICS_OPEN", "off");
        assert!(!load(None, &Flags::default()).unwrap().config.metrics_open);
        Ok(())
    });
}

#[test]
fn an_unknown_key_in_the_file_names_the_key_and_the_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("authtrail.toml", "max_batch = 5\nmax_batchh = 6\n")?;
        let msg = invalid(load(Some(Path::new("authtrail.toml")), &Flags::default()));
        assert!(msg.contains("`max_batchh`"), "{msg}");
        assert!(msg.contains("authtrail.toml"), "{msg}");
        assert!(msg.contains("max_batch,"), "lists the known keys: {msg}");
        Ok(())
    });
}

#[test]
fn a_bad_value_names_the_key_and_where_it_came_from() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("authtrail.toml", "per_ip_rps = \"fast\"\n")?;
        let msg = invalid(load(Some(Path::new("authtrail.toml")), &Flags::default()));
        assert!(msg.contains("per_ip_rps"), "{msg}");
        assert!(msg.contains("authtrail.toml"), "{msg}");

        jail.create_file("authtrail.toml", "")?;
        jail.set_env("AUTHTRAIL_MAX_BATCH", "lots");
        let msg = invalid(load(Some(Path::new("authtrail.toml")), &Flags::default()));
        assert!(msg.contains("AUTHTRAIL_MAX_BATCH"), "{msg}");

        jail.clear_env();
        jail.set_env("AUTHTRAIL_TRUSTED_PROXIES", "10.0.0.0/8,not-a-net");
        let msg = invalid(load(None, &Flags::default()));
        assert!(msg.contains("AUTHTRAIL_TRUSTED_PROXIES"), "{msg}");
        assert!(msg.contains("not-a-net"), "{msg}");

        // Parses, but out of range: still named with its source.
        jail.clear_env();
        jail.create_file("authtrail.toml", "retention_days = 0\n")?;
        let msg = invalid(load(Some(Path::new("authtrail.toml")), &Flags::default()));
        assert!(msg.starts_with("retention_days (from the file "), "{msg}");
        assert!(msg.contains("authtrail.toml"), "{msg}");
        jail.set_env("AUTHTRAIL_RETENTION_INTERVAL_SECS", 5);
        jail.create_file("authtrail.toml", "")?;
        let msg = invalid(load(Some(Path::new("authtrail.toml")), &Flags::default()));
        assert!(
            msg.starts_with(
                "retention_interval_secs (from the environment variable AUTHTRAIL_RETENTION_INTERVAL_SECS)"
            ),
            "{msg}"
        );
        // The log origin becomes a signed-note key name: no spaces, no '+'.
        jail.clear_env();
        jail.create_file("authtrail.toml", "log_origin = \"audit example\"\n")?;
        let msg = invalid(load(Some(Path::new("authtrail.toml")), &Flags::default()));
        assert!(msg.starts_with("log_origin (from the file "), "{msg}");
        Ok(())
    });
}

#[test]
fn a_missing_file_is_an_error_and_unknown_variables_are_warnings() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let err = load(Some(Path::new("nope.toml")), &Flags::default()).unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }));
        assert!(err.to_string().contains("nope.toml"), "{err}");

        jail.set_env("AUTHTRAIL_MAX_BACH", 5);
        jail.set_env("AUTHTRAIL_TOKEN", "read by the client commands");
        let loaded = load(None, &Flags::default()).unwrap();
        assert_eq!(loaded.config, ServerConfig::default());
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].starts_with("AUTHTRAIL_MAX_BACH "));
        Ok(())
    });
}

/// The commented example in docs/operations.md is a real configuration file: it parses, it sets
/// exactly the defaults, and it mentions every key.
#[test]
fn the_documented_example_file_parses_and_lists_every_key() {
    let doc = include_str!("../../../docs/operations.md");
    let start = doc
        .find("```toml\n# authtrail.toml")
        .expect("the example in docs/operations.md");
    let body = &doc[start + "```toml\n".len()..];
    let example = &body[..body.find("```").expect("the end of the example")];
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("authtrail.toml", example)?;
        let loaded = load(Some(Path::new("authtrail.toml")), &Flags::default()).unwrap();
        assert_eq!(loaded.config, ServerConfig::default());
        for key in authtrail_config::keys() {
            assert!(
                example.contains(&format!("\n{key} = "))
                    || example.contains(&format!("# {key} = ")),
                "the example documents {key}"
            );
        }
        Ok(())
    });
}

#[test]
fn the_postgresql_timeouts_are_read_and_zero_is_refused() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("AUTHTRAIL_STORE_STATEMENT_TIMEOUT_SECS", 5);
        let flags = Flags {
            store_connect_timeout_secs: Some(3),
            ..Flags::default()
        };
        let c = load(None, &flags).unwrap().config;
        assert_eq!(
            c.store_timeouts(),
            (
                std::time::Duration::from_secs(3),
                std::time::Duration::from_secs(5)
            )
        );
        jail.set_env("AUTHTRAIL_STORE_STATEMENT_TIMEOUT_SECS", 0);
        let msg = invalid(load(None, &Flags::default()));
        assert!(
            msg.starts_with("store_statement_timeout_secs (from the environment variable"),
            "{msg}"
        );
        Ok(())
    });
}
