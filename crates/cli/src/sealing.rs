//! This node's sealing key (`sealing_key_file`), which encrypts every secret the store keeps
//! (`authtrail_service::sealing`, `authtrail_service::secrets`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use authtrail_service::sealing::SealingKey;

/// The key file's name beside an embedded database, when no file is named.
pub const DEFAULT_FILE: &str = "sealing.key";

/// Reads the key from `file`, or from `sealing.key` in `sqlite_dir` when no file is named,
/// making the file (readable by its owner only) if it does not exist yet. With neither (a
/// PostgreSQL store and no file) it refuses: the store's secrets are kept sealed, so every node
/// needs the same key file.
pub fn load(file: Option<&Path>, sqlite_dir: Option<&Path>) -> anyhow::Result<SealingKey> {
    let path = match (file, sqlite_dir) {
        (Some(f), _) => f.to_path_buf(),
        (None, Some(dir)) => dir.join(DEFAULT_FILE),
        (None, None) => anyhow::bail!(
            "a PostgreSQL store needs a sealing key file: the store keeps its secrets (cursor and \
             log signing keys, webhook keys) sealed with it. Set sealing_key_file \
             (AUTHTRAIL_SEALING_KEY_FILE, --sealing-key-file) to the same file on every node; \
             make one with: head -c 32 /dev/urandom | xxd -p -c 64 > sealing.key"
        ),
    };
    // `create_new` so that two nodes starting at once on a shared file agree on one key.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut f) => {
            f.write_all(SealingKey::generate_file().as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("writing the new sealing key {}", path.display()))?;
            tracing::info!(file = %path.display(), "made a new sealing key; back it up with the data, apart from it");
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e).with_context(|| format!("creating the sealing key {}", path.display()));
        }
    }
    let meta = std::fs::metadata(&path)?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "the sealing key file is readable by others than its owner; chmod 600 it");
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the sealing key {}", path.display()))?;
    SealingKey::parse_file(&text).map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))
}
