//! C2SP checkpoints (`c2sp.org/tlog-checkpoint`): the note text `origin\nsize\nbase64(root)\n`,
//! signed as a signed note by a key whose name is the origin.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::merkle::Hash;
use crate::note::{NoteError, NoteSigner, NoteVerifier};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("the checkpoint text is malformed: {0}")]
    Malformed(&'static str),
    #[error("the checkpoint's origin {got:?} is not the key's {want:?}")]
    WrongOrigin { got: String, want: String },
}

impl Checkpoint {
    /// The note text (three lines, no extension lines).
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a checkpoint's note text; extension lines are allowed and ignored.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::Malformed("fewer than three lines"));
        };
        if origin.is_empty() {
            return Err(CheckpointError::Malformed("the origin is empty"));
        }
        let size_ok = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size = size
            .parse()
            .ok()
            .filter(|_| size_ok)
            .ok_or(CheckpointError::Malformed(
                "the size is not a decimal number",
            ))?;
        let root = B64
            .decode(root)
            .ok()
            .and_then(|r| Hash::try_from(r).ok())
            .ok_or(CheckpointError::Malformed(
                "the root is not a base64 SHA-256 hash",
            ))?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// The signed note of this checkpoint. The signer's name should be the origin.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, CheckpointError> {
        Ok(signer.sign(&self.text())?)
    }

    /// Verifies a signed checkpoint with `verifier` and reads it. Its origin must be the key's
    /// name, as the checkpoint specification recommends and authtrail always signs.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, CheckpointError> {
        let cp = Checkpoint::parse_text(verifier.open(note)?)?;
        if cp.origin != verifier.name() {
            return Err(CheckpointError::WrongOrigin {
                got: cp.origin,
                want: verifier.name().to_string(),
            });
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_are_checked() {
        let s = NoteSigner::new("log.example/acme", &[3; 32]).unwrap();
        let cp = Checkpoint {
            origin: "log.example/acme".into(),
            size: 20852163,
            root: [9; 32],
        };
        let note = cp.sign(&s).unwrap();
        assert!(note.starts_with(
            "log.example/acme\n20852163\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n\n\u{2014} log.example/acme "
        ));
        assert_eq!(Checkpoint::open(&note, &s.verifier()).unwrap(), cp);
        let other = NoteSigner::new("log.example/other", &[3; 32]).unwrap();
        let foreign = Checkpoint {
            origin: "log.example/acme".into(),
            ..cp.clone()
        }
        .sign(&other)
        .unwrap();
        assert!(matches!(
            Checkpoint::open(&foreign, &other.verifier()),
            Err(CheckpointError::WrongOrigin { .. })
        ));
    }

    #[test]
    fn the_specifications_example_text_parses() {
        let cp = Checkpoint::parse_text(
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        )
        .unwrap();
        assert_eq!(cp.size, 20852163);
        assert_eq!(
            cp.text(),
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        for bad in [
            "o\n01\nAA==\n",
            "o\n1\nAA==\n",
            "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n",
        ] {
            assert!(Checkpoint::parse_text(bad).is_err(), "{bad:?}");
        }
    }
}
