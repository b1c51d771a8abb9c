//! libp2p PeerIds of secp256k1 identities, computed without libp2p (core has no networking
//! dependency), and the way back from a PeerId to a discv5 node id.

use std::fmt;
use std::str::FromStr;

use enr::k256::ecdsa::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::base58;
use crate::primitives::NodeId;

/// Protobuf `PublicKey { Type = Secp256k1 (2), Data = 33 bytes }` header: field 1 varint 2,
/// field 2 length 33.
const PROTOBUF_SECP256K1_PREFIX: [u8; 4] = [0x08, 0x02, 0x12, 0x21];
/// Identity multihash (code 0x00) of 37 bytes.
const IDENTITY_MULTIHASH_PREFIX: [u8; 2] = [0x00, 0x25];

/// Keys checked on the curve most recently, per thread (33 bytes each): checking a point
/// (a square root mod p) costs several microseconds, and the same peers come back in event
/// after event, e.g. when a consumer decodes JSON events. Cleared when full.
const KNOWN_VALID_CAPACITY: usize = 16_384;

thread_local! {
    static KNOWN_VALID: std::cell::RefCell<std::collections::HashSet<[u8; 33]>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

/// A PeerId that is not a secp256k1 libp2p identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PeerIdError {
    /// Not base58btc text.
    #[error("PeerId is not base58btc")]
    NotBase58,
    /// Not an identity multihash of a protobuf secp256k1 key.
    #[error("PeerId is not an identity multihash of a secp256k1 key")]
    NotSecp256k1,
    /// The key is not 33 bytes.
    #[error("secp256k1 key must be 33 compressed bytes, got {len}")]
    KeyLength {
        /// Length found.
        len: usize,
    },
    /// The bytes are not a point on the curve.
    #[error("not a valid compressed secp256k1 public key")]
    InvalidKey,
}

/// A libp2p PeerId of a secp256k1 key, kept as the key itself and shown in base58btc
/// (`16Uiu2HA…`), the text form every client logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    compressed_key: [u8; 33],
}

impl PeerId {
    /// The PeerId of a 33-byte compressed secp256k1 public key. Fails when the bytes are not a
    /// point on the curve.
    pub fn from_secp256k1(compressed: &[u8]) -> Result<Self, PeerIdError> {
        let key: [u8; 33] = compressed.try_into().map_err(|_| PeerIdError::KeyLength {
            len: compressed.len(),
        })?;
        if !KNOWN_VALID.with(|known| known.borrow().contains(&key)) {
            VerifyingKey::from_sec1_bytes(&key).map_err(|_| PeerIdError::InvalidKey)?;
            KNOWN_VALID.with(|known| {
                let mut known = known.borrow_mut();
                if known.len() >= KNOWN_VALID_CAPACITY {
                    known.clear();
                }
                known.insert(key);
            });
        }
        Ok(Self {
            compressed_key: key,
        })
    }

    /// The compressed public key.
    pub fn public_key(&self) -> &[u8; 33] {
        &self.compressed_key
    }

    /// The multihash bytes (`00 25 08 02 12 21 ‖ key`, 39 bytes): libp2p's binary PeerId.
    pub fn to_bytes(&self) -> [u8; 39] {
        let mut out = [0u8; 39];
        out[..2].copy_from_slice(&IDENTITY_MULTIHASH_PREFIX);
        out[2..6].copy_from_slice(&PROTOBUF_SECP256K1_PREFIX);
        out[6..].copy_from_slice(&self.compressed_key);
        out
    }

    /// Parses the binary form (see [`PeerId::to_bytes`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PeerIdError> {
        if bytes.len() != 39
            || bytes[..2] != IDENTITY_MULTIHASH_PREFIX
            || bytes[2..6] != PROTOBUF_SECP256K1_PREFIX
        {
            return Err(PeerIdError::NotSecp256k1);
        }
        Self::from_secp256k1(&bytes[6..])
    }

    /// The discv5 node id of the same key: `keccak256` of the uncompressed key (as Lighthouse's
    /// `peer_id_to_node_id`).
    pub fn node_id(&self) -> NodeId {
        let key = VerifyingKey::from_sec1_bytes(&self.compressed_key)
            .expect("checked to be a valid point when built");
        NodeId(enr::NodeId::from(key).raw())
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; base58::MAX_TEXT];
        let n = base58::encode(&self.to_bytes(), &mut text).expect("39 bytes fit");
        f.write_str(std::str::from_utf8(&text[..n]).expect("the base58 alphabet is ASCII"))
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

impl FromStr for PeerId {
    type Err = PeerIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // 39 bytes are 53 or 54 base58 characters; refuse anything much longer before decoding.
        if s.len() > 64 {
            return Err(PeerIdError::NotSecp256k1);
        }
        let mut bytes = [0u8; 2 * base58::MAX_BYTES];
        let n = base58::decode(s.as_bytes(), &mut bytes).map_err(|e| match e {
            base58::DecodeError::NotBase58 => PeerIdError::NotBase58,
            base58::DecodeError::TooLong => PeerIdError::NotSecp256k1,
        })?;
        Self::from_bytes(&bytes[..n])
    }
}

impl Serialize for PeerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PeerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_the_reference() {
        // EF bootnode 3.17.30.69.
        let key = hex::decode("028b55714e869dae5fa8de4f40efbc3a4f714f0558c8d0751e3032e391321a57db")
            .unwrap();
        let peer = PeerId::from_secp256k1(&key).unwrap();
        assert_eq!(
            peer.to_string(),
            "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
        );
        assert_eq!(
            peer.node_id().to_string(),
            "ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269"
        );
        let back: PeerId = "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
            .parse()
            .unwrap();
        assert_eq!(back, peer);
        assert_eq!(serde_json::to_string(&peer).unwrap(), format!("\"{peer}\""));
    }

    #[test]
    fn bad_peer_ids_are_typed_errors() {
        assert_eq!("0OIl".parse::<PeerId>(), Err(PeerIdError::NotBase58));
        // an Ed25519 PeerId (12D3KooW…) is not a secp256k1 one
        assert_eq!(
            "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA".parse::<PeerId>(),
            Err(PeerIdError::NotSecp256k1)
        );
        assert_eq!(
            PeerId::from_secp256k1(&[2u8; 32]),
            Err(PeerIdError::KeyLength { len: 32 })
        );
        assert_eq!(
            PeerId::from_secp256k1(&[5u8; 33]),
            Err(PeerIdError::InvalidKey)
        );
    }
}
