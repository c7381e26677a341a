//! Witnesses of the transparency log (C2SP `tlog-cosignature`): parties outside authtrail that
//! check each checkpoint they see is consistent with the ones they saw before, and cosign it.
//! A client that trusts a quorum of witnesses cannot be shown a history that differs from the
//! one everybody else sees (a split view), even by someone who holds the log's key.
//!
//! - The operator registers a tenant's witnesses by their cosigner verifier keys (Ed25519,
//!   signature type 0x04), each change an admin event: [`Service::add_log_witness`],
//!   [`Service::remove_log_witness`].
//! - A witness submits its cosignature: the checkpoint it cosigned with its signature line(s)
//!   ([`Service::submit_cosignature`], `POST /v1/log/cosignature`). Every line is checked
//!   before any is stored; each witness's latest is kept.
//! - [`Service::log_checkpoint`] appends the cosignatures of exactly the served checkpoint.

use authtrail_integrity::cosignature::CosignatureVerifier;
use authtrail_integrity::note::{parse_signature_line, split_note};
use authtrail_integrity::{Checkpoint, NoteError};
use authtrail_model::Tenant;
use authtrail_model::store::{Cosignature, StoreErrorKind, Witness};

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;

/// Most witnesses a tenant's log may have.
pub const MAX_WITNESSES: usize = 16;
/// Longest cosigned checkpoint accepted (a checkpoint is about 100 bytes, a line about 130).
pub const MAX_COSIGNED_BYTES: usize = 8 * 1024;
/// Most witness lines in one submission.
pub const MAX_COSIGNATURES: usize = 16;
/// How far ahead of this node's clock a cosignature's timestamp may be (clocks drift).
pub const MAX_FUTURE_SECS: i64 = 600;

/// A cosignature that was checked, and whether it was kept (an older one than the stored one
/// of its witness is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub witness: String,
    pub size: u64,
    pub time: u64,
    pub stored: bool,
}

fn checkpoint_error(m: impl std::fmt::Display) -> ServiceError {
    ServiceError::field("checkpoint", m.to_string())
}

fn line_error(m: impl std::fmt::Display) -> ServiceError {
    ServiceError::field("cosignature", m.to_string())
}

impl Service {
    /// `tenant`'s registered witnesses, by name.
    pub async fn log_witnesses(&self, tenant: &Tenant) -> Result<Vec<Witness>, ServiceError> {
        Ok(self.store().witnesses(tenant).await?)
    }

    /// Registers the witness whose cosigner verifier key is `vkey` (or gives a registered
    /// witness a new key), and records it.
    pub async fn add_log_witness(
        &self,
        tenant: &Tenant,
        vkey: &str,
        actor: &AdminActor,
    ) -> Result<Witness, ServiceError> {
        let v = CosignatureVerifier::parse(vkey)
            .map_err(|e| ServiceError::field("vkey", e.to_string()))?;
        if v.name() == self.log_origin(tenant) {
            return Err(ServiceError::field(
                "vkey",
                "a witness's name cannot be the log's own origin",
            ));
        }
        let w = Witness {
            name: v.name().to_string(),
            vkey: v.vkey(),
        };
        match self
            .store()
            .add_witness(tenant, w.clone(), MAX_WITNESSES)
            .await
        {
            Err(e) if e.kind() == StoreErrorKind::Conflict => {
                return Err(ServiceError::Conflict(format!(
                    "a log has at most {MAX_WITNESSES} witnesses: remove one first"
                )));
            }
            r => r?,
        }
        self.audit(
            tenant,
            AdminEvent::new("log_witness.add", actor.clone())
                .string("witness", &w.name)
                .string("key_id", &hex::encode(v.key_id())),
        )
        .await?;
        Ok(w)
    }

    /// Removes the witness named `name` and its cosignature, and records it.
    pub async fn remove_log_witness(
        &self,
        tenant: &Tenant,
        name: &str,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        if !self.store().remove_witness(tenant, name).await? {
            return Err(ServiceError::NotFound(format!(
                "{name:?} is not a witness of this log"
            )));
        }
        self.audit(
            tenant,
            AdminEvent::new("log_witness.remove", actor.clone()).string("witness", name),
        )
        .await
    }

    /// Checks and keeps witnesses' cosignatures of one of `tenant`'s checkpoints. `note` is the
    /// checkpoint as the witness cosigned it: its text, a blank line, and signature lines;
    /// lines of the log's own key name are skipped, every other one must be a valid
    /// cosignature by a registered witness of exactly this checkpoint. Nothing is stored unless
    /// every line checks.
    pub async fn submit_cosignature(
        &self,
        tenant: &Tenant,
        note: &str,
    ) -> Result<Vec<Accepted>, ServiceError> {
        if note.len() > MAX_COSIGNED_BYTES {
            return Err(checkpoint_error(format!(
                "the cosigned checkpoint is longer than {MAX_COSIGNED_BYTES} bytes"
            )));
        }
        let (text, lines) = split_note(note).map_err(checkpoint_error)?;
        let cp = Checkpoint::parse_text(text).map_err(checkpoint_error)?;
        let origin = self.log_origin(tenant);
        if cp.origin != origin {
            return Err(checkpoint_error(format!(
                "its origin {:?} is not this log's {origin:?}",
                cp.origin
            )));
        }
        if cp.text() != text {
            return Err(checkpoint_error(
                "it has extension lines, which this log never signs",
            ));
        }
        let latest = self.store().checkpoint(tenant).await?.map_or(0, |c| c.size);
        if cp.size > latest {
            return Err(checkpoint_error(format!(
                "its size {} is beyond the latest checkpoint's {latest}",
                cp.size
            )));
        }
        let root = if cp.size == 0 {
            authtrail_integrity::merkle::empty_root()
        } else {
            self.frontier(tenant, cp.size).await?.root()
        };
        if root != cp.root {
            return Err(checkpoint_error(format!(
                "its root is not this log's root at size {}",
                cp.size
            )));
        }
        let witnesses = self.store().witnesses(tenant).await?;
        let now_s = self.now_us().div_euclid(1_000_000);
        let mut checked = Vec::new();
        for line in lines {
            let (name, _) = parse_signature_line(line).map_err(line_error)?;
            if name == origin {
                continue;
            }
            if checked.len() == MAX_COSIGNATURES {
                return Err(line_error(format!(
                    "at most {MAX_COSIGNATURES} cosignatures at a time"
                )));
            }
            let w = witnesses
                .iter()
                .find(|w| w.name == name)
                .ok_or_else(|| line_error(format!("{name:?} is not a witness of this log")))?;
            let v = CosignatureVerifier::parse(&w.vkey).map_err(ServiceError::internal)?;
            let time = v.verify(text, line).map_err(|e| match e {
                NoteError::NotSigned => line_error(format!(
                    "the line of {name:?} is not by its registered key (key ID {})",
                    hex::encode(v.key_id())
                )),
                e => line_error(format!("the cosignature of {name:?}: {e}")),
            })?;
            if time as i64 > now_s + MAX_FUTURE_SECS {
                return Err(line_error(format!(
                    "the cosignature of {name:?} is dated in the future ({time})"
                )));
            }
            checked.push(Cosignature {
                witness: w.name.clone(),
                size: cp.size,
                root: cp.root,
                time,
                line: line.to_string(),
            });
        }
        if checked.is_empty() {
            return Err(line_error("the checkpoint holds no witness's cosignature"));
        }
        let mut out = Vec::with_capacity(checked.len());
        for c in checked {
            let (witness, size, time) = (c.witness.clone(), c.size, c.time);
            let stored = self.store().save_cosignature(tenant, c).await?;
            out.push(Accepted {
                witness,
                size,
                time,
                stored,
            });
        }
        Ok(out)
    }
}
