//! Small fixed-size values shared by every module: epochs, slots and roots, fork digests and
//! versions, node ids, and the hex parsing behind them. (The subnet bitfields live in `subnets`,
//! beside the spec constants they are sized by.)

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use thiserror::Error;

/// An epoch number.
pub type Epoch = u64;
/// A slot number.
pub type Slot = u64;
/// A 32-byte root (hash tree root or block root).
pub type Root = [u8; 32];

/// A hex string that is not the expected fixed-size value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseHexError {
    /// Wrong number of hex digits.
    #[error("expected {expected} bytes ({} hex digits), got {got_digits} digits", expected * 2)]
    Length {
        /// Expected length in bytes.
        expected: usize,
        /// Number of hex digits found (after any `0x`).
        got_digits: usize,
    },
    /// A character is not a hex digit.
    #[error("not a hex string")]
    NotHex,
}

/// Parses `len` bytes of hex, with or without a `0x` prefix.
pub(crate) fn parse_hex_array<const N: usize>(s: &str) -> Result<[u8; N], ParseHexError> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.len() != 2 * N {
        return Err(ParseHexError::Length {
            expected: N,
            got_digits: digits.len(),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|_| ParseHexError::NotHex)?;
    Ok(out)
}

macro_rules! hex_newtype {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // On the stack: these are written for every event (JSON, Parquet columns).
                let mut text = [0u8; 2 * $len];
                hex::encode_to_slice(self.0, &mut text).expect("two digits a byte");
                f.write_str(std::str::from_utf8(&text).expect("hex digits are ASCII"))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = ParseHexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex_array(s).map(Self)
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_newtype!(
    /// A 4-byte fork digest, shown as 8 lowercase hex digits without `0x` (as in topic names).
    ForkDigest,
    4
);
hex_newtype!(
    /// A 4-byte fork version, shown as 8 lowercase hex digits.
    Version,
    4
);
hex_newtype!(
    /// A discv5 node id: `keccak256` of the uncompressed secp256k1 public key.
    NodeId,
    32
);

impl NodeId {
    /// The node id as a big-endian 256-bit integer, split into four `u64` limbs (most significant
    /// first), as the spec's `NodeID = uint256` reads it.
    pub fn to_be_limbs(&self) -> [u64; 4] {
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
            *limb = u64::from_be_bytes(b);
        }
        limbs
    }
}

impl From<enr::NodeId> for NodeId {
    fn from(id: enr::NodeId) -> Self {
        Self(id.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_digest_text_forms() {
        let d: ForkDigest = "0x8c9f62fe".parse().unwrap();
        assert_eq!(d.to_string(), "8c9f62fe");
        assert_eq!("8C9F62FE".parse::<ForkDigest>().unwrap(), d);
        assert!("8c9f62".parse::<ForkDigest>().is_err());
        assert!("zz9f62fe".parse::<ForkDigest>().is_err());
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"8c9f62fe\"");
    }
}
