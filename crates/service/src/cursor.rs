//! Opaque page tokens. A cursor carries the last position of a page and the upper time bound the
//! first page froze, signed with a server secret and bound to the tenant, so that a client cannot
//! forge a position or replay another tenant's cursor (either is a 400, not a silent reposition).
//!
//! Only [`crate::paging`] calls this module: it is the one place that freezes, encodes and decodes
//! page positions.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use authtrail_model::{Position, Tenant};

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
const PAYLOAD_LEN: usize = 1 + 8 + 8 + 8;
/// Longest cursor text accepted before decoding.
const MAX_LEN: usize = 128;

/// What a cursor remembers between pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub after: Position,
    /// The exclusive end of the time window, frozen when the first page was served; `None` when
    /// the window is open-ended.
    pub end_us: Option<i64>,
}

fn mac(key: &[u8; 32], tenant: &Tenant, payload: &[u8]) -> [u8; MAC_LEN] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(payload);
    m.update(tenant.as_str().as_bytes());
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&full[..MAC_LEN]);
    out
}

pub fn encode(key: &[u8; 32], tenant: &Tenant, c: Cursor) -> String {
    let mut buf = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
    buf.push(VERSION);
    buf.extend_from_slice(&c.after.time_us.to_be_bytes());
    buf.extend_from_slice(&c.after.seq.to_be_bytes());
    // An open end is `i64::MAX` on the wire (no time reaches it), as cursors always encoded it.
    buf.extend_from_slice(&c.end_us.unwrap_or(i64::MAX).to_be_bytes());
    let tag = mac(key, tenant, &buf);
    buf.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Decodes a cursor minted by [`encode`] for the same tenant. The error is the message for a 400.
pub fn decode(key: &[u8; 32], tenant: &Tenant, text: &str) -> Result<Cursor, &'static str> {
    const BAD: &str = "is not a page token this server issued for this tenant";
    if text.len() > MAX_LEN {
        return Err(BAD);
    }
    let buf = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| BAD)?;
    if buf.len() != PAYLOAD_LEN + MAC_LEN || buf[0] != VERSION {
        return Err(BAD);
    }
    let (payload, tag) = buf.split_at(PAYLOAD_LEN);
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(payload);
    m.update(tenant.as_str().as_bytes());
    m.verify_truncated_left(tag).map_err(|_| BAD)?;
    let int = |i: usize| i64::from_be_bytes(payload[i..i + 8].try_into().expect("8 bytes"));
    Ok(Cursor {
        after: Position {
            time_us: int(1),
            seq: int(9),
        },
        end_us: Some(int(17)).filter(|&e| e != i64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_tampering_and_other_tenants() {
        let key = [9u8; 32];
        let t = Tenant::new("Ca").unwrap();
        let c = Cursor {
            after: Position {
                time_us: 123,
                seq: -4,
            },
            end_us: Some(999),
        };
        let s = encode(&key, &t, c);
        assert_eq!(decode(&key, &t, &s), Ok(c));
        assert!(
            decode(&key, &Tenant::new("Cb").unwrap(), &s).is_err(),
            "bound to the tenant"
        );
        assert!(
            decode(&[8u8; 32], &t, &s).is_err(),
            "bound to the server secret"
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&s).unwrap();
        bytes[5] ^= 1;
        assert!(
            decode(&key, &t, &URL_SAFE_NO_PAD.encode(bytes)).is_err(),
            "tampering is detected"
        );
        let open = Cursor { end_us: None, ..c };
        assert_eq!(decode(&key, &t, &encode(&key, &t, open)), Ok(open));
        for junk in ["", "Mg==", "!!!", &"A".repeat(500)] {
            assert!(decode(&key, &t, junk).is_err(), "{junk:?}");
        }
    }
}
