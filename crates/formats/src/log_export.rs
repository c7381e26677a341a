//! The log file of `authtrail export --log`: for each tenant, its latest signed checkpoint and
//! the leaf hashes of its Merkle tree, as NDJSON lines of at most [`LEAVES_PER_LINE`] leaves.
//! `authtrail verify --log` reads it back to name the row at fault: the leaves come from the
//! tree the store keeps apart from the rows, and are checked against the signed root before they
//! are believed.
//!
//! A line: `{"tenant":"acme","from":0,"leaves":["<hex>",...],"checkpoint":"<signed note>"}`;
//! `checkpoint` is on a tenant's first line only, and `from` is the index of the line's first
//! leaf (lines of a tenant follow each other in order).

use serde::{Deserialize, Serialize};

use authtrail_model::Tenant;

/// Leaves per line (a line is then about 68 KiB).
pub const LEAVES_PER_LINE: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogLine {
    pub tenant: Tenant,
    pub from: u64,
    /// SHA-256 leaf hashes, lower-case hex.
    pub leaves: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

impl LogLine {
    pub fn new(
        tenant: &Tenant,
        from: u64,
        leaves: &[[u8; 32]],
        checkpoint: Option<String>,
    ) -> Self {
        LogLine {
            tenant: tenant.clone(),
            from,
            leaves: leaves.iter().map(hex::encode).collect(),
            checkpoint,
        }
    }

    /// The leaf hashes; an error names the first one that is not 64 hex digits.
    pub fn hashes(&self) -> Result<Vec<[u8; 32]>, String> {
        self.leaves
            .iter()
            .enumerate()
            .map(|(i, h)| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        format!("leaf {} is not a hex SHA-256 hash", self.from + i as u64)
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_bad_hashes_are_named() {
        let t = Tenant::new("acme").unwrap();
        let line = LogLine::new(&t, 5, &[[1; 32], [2; 32]], Some("note\n".into()));
        let json = serde_json::to_string(&line).unwrap();
        let back: LogLine = serde_json::from_str(&json).unwrap();
        assert_eq!(back, line);
        assert_eq!(back.hashes().unwrap(), vec![[1; 32], [2; 32]]);
        let mut bad = line.clone();
        bad.leaves[1] = "zz".into();
        assert_eq!(
            bad.hashes().unwrap_err(),
            "leaf 6 is not a hex SHA-256 hash"
        );
        let no_cp = LogLine::new(&t, 0, &[], None);
        assert!(
            !serde_json::to_string(&no_cp)
                .unwrap()
                .contains("checkpoint")
        );
    }
}
