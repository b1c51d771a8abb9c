//! The subnet bitfields a node advertises in its ENR and MetaData (`attnets`, `syncnets`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::constants::{ATTESTATION_SUBNET_COUNT, SYNC_COMMITTEE_SUBNET_COUNT};

/// The attestation subnets a node advertises (`attnets`, SSZ `Bitvector[64]`).
///
/// Subnet `i` is bit `i % 8` (least significant first) of byte `i / 8`. Serialized (serde) as the
/// sorted list of subnet ids, never as opaque bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AttestationSubnets(pub [u8; 8]);

impl AttestationSubnets {
    /// No subnet.
    pub const NONE: Self = Self([0; 8]);
    /// All 64 subnets.
    pub const ALL: Self = Self([0xff; 8]);

    /// Builds a bitfield from subnet ids; ids `>= 64` are ignored.
    pub fn from_subnets(ids: impl IntoIterator<Item = u64>) -> Self {
        let mut out = Self::NONE;
        for id in ids {
            out.insert(id);
        }
        out
    }

    /// Sets subnet `id` (ignored when `id >= 64`).
    pub fn insert(&mut self, id: u64) {
        if id < ATTESTATION_SUBNET_COUNT {
            self.0[(id / 8) as usize] |= 1 << (id % 8);
        }
    }

    /// Clears subnet `id`.
    pub fn remove(&mut self, id: u64) {
        if id < ATTESTATION_SUBNET_COUNT {
            self.0[(id / 8) as usize] &= !(1 << (id % 8));
        }
    }

    /// Whether subnet `id` is set.
    pub fn contains(&self, id: u64) -> bool {
        id < ATTESTATION_SUBNET_COUNT && self.0[(id / 8) as usize] & (1 << (id % 8)) != 0
    }

    /// The set subnet ids in ascending order.
    pub fn subnets(&self) -> Vec<u64> {
        (0..ATTESTATION_SUBNET_COUNT)
            .filter(|i| self.contains(*i))
            .collect()
    }

    /// Number of subnets set.
    pub fn count(&self) -> u32 {
        self.0.iter().map(|b| b.count_ones()).sum()
    }

    /// Whether every one of the 64 subnets is set.
    pub fn is_all(&self) -> bool {
        *self == Self::ALL
    }
}

impl fmt::Debug for AttestationSubnets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AttestationSubnets({}: {:?})",
            hex::encode(self.0),
            self.subnets()
        )
    }
}

/// The sync-committee subnets a node advertises (`syncnets`, SSZ `Bitvector[4]`: the low four
/// bits of one byte). Serialized (serde) as the sorted list of subnet ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SyncSubnets(pub u8);

impl SyncSubnets {
    /// Builds a bitfield from subnet ids; ids `>= 4` are ignored.
    pub fn from_subnets(ids: impl IntoIterator<Item = u64>) -> Self {
        let mut out = 0u8;
        for id in ids {
            if id < SYNC_COMMITTEE_SUBNET_COUNT {
                out |= 1 << id;
            }
        }
        Self(out)
    }

    /// Whether subnet `id` is set.
    pub fn contains(&self, id: u64) -> bool {
        id < SYNC_COMMITTEE_SUBNET_COUNT && self.0 & (1 << id) != 0
    }

    /// The set subnet ids in ascending order.
    pub fn subnets(&self) -> Vec<u64> {
        (0..SYNC_COMMITTEE_SUBNET_COUNT)
            .filter(|i| self.contains(*i))
            .collect()
    }

    /// Whether bits above the fourth are set (not allowed by SSZ `Bitvector[4]`).
    pub fn has_padding_bits(&self) -> bool {
        self.0 & 0xf0 != 0
    }
}

impl fmt::Debug for SyncSubnets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncSubnets({:?})", self.subnets())
    }
}

macro_rules! subnet_list_serde {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.subnets().serialize(s)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let ids = Vec::<u64>::deserialize(d)?;
                let out = Self::from_subnets(ids.iter().copied());
                if out.subnets().len() != ids.len() {
                    return Err(serde::de::Error::custom(format!(
                        "{}: subnet ids out of range or repeated: {ids:?}",
                        stringify!($name)
                    )));
                }
                Ok(out)
            }
        }
    };
}
subnet_list_serde!(AttestationSubnets);
subnet_list_serde!(SyncSubnets);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::parse_hex_array;

    #[test]
    fn attnets_bit_order_matches_ssz() {
        assert_eq!(
            AttestationSubnets::from_subnets([0]).0,
            [1, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            AttestationSubnets::from_subnets([9]).0,
            [0, 2, 0, 0, 0, 0, 0, 0]
        );
        let real = AttestationSubnets(hex_arr("800002002c400a00"));
        assert_eq!(real.subnets(), vec![7, 17, 34, 35, 37, 46, 49, 51]);
    }

    fn hex_arr<const N: usize>(s: &str) -> [u8; N] {
        parse_hex_array(s).unwrap()
    }

    #[test]
    fn subnet_lists_in_json() {
        let a = AttestationSubnets::from_subnets([3, 63]);
        assert_eq!(serde_json::to_string(&a).unwrap(), "[3,63]");
        assert_eq!(
            serde_json::from_str::<AttestationSubnets>("[63,3]").unwrap(),
            a
        );
        assert!(serde_json::from_str::<AttestationSubnets>("[64]").is_err());
        assert!(serde_json::from_str::<AttestationSubnets>("[3,3]").is_err());
        let s = SyncSubnets::from_subnets([0, 3]);
        assert_eq!(serde_json::to_string(&s).unwrap(), "[0,3]");
        assert!(serde_json::from_str::<SyncSubnets>("[4]").is_err());
    }
}
