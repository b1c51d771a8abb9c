//! The eth2 req/resp protocol ids valtrack speaks.

use std::fmt;

/// One eth2 req/resp protocol (`/eth2/beacon_chain/req/{name}/{version}/ssz_snappy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eth2Protocol {
    /// `status/2` (Fulu).
    StatusV2,
    /// `status/1`.
    StatusV1,
    /// `metadata/3` (Fulu).
    MetaDataV3,
    /// `metadata/2` (Altair).
    MetaDataV2,
    /// `metadata/1`.
    MetaDataV1,
    /// `ping/1`.
    Ping,
    /// `goodbye/1`.
    Goodbye,
}

impl Eth2Protocol {
    /// Status versions, newest first (the order we offer them in).
    pub const STATUS: [Self; 2] = [Self::StatusV2, Self::StatusV1];
    /// MetaData versions, newest first.
    pub const METADATA: [Self; 3] = [Self::MetaDataV3, Self::MetaDataV2, Self::MetaDataV1];

    /// The protocol id string.
    pub const fn id(self) -> &'static str {
        match self {
            Self::StatusV2 => "/eth2/beacon_chain/req/status/2/ssz_snappy",
            Self::StatusV1 => "/eth2/beacon_chain/req/status/1/ssz_snappy",
            Self::MetaDataV3 => "/eth2/beacon_chain/req/metadata/3/ssz_snappy",
            Self::MetaDataV2 => "/eth2/beacon_chain/req/metadata/2/ssz_snappy",
            Self::MetaDataV1 => "/eth2/beacon_chain/req/metadata/1/ssz_snappy",
            Self::Ping => "/eth2/beacon_chain/req/ping/1/ssz_snappy",
            Self::Goodbye => "/eth2/beacon_chain/req/goodbye/1/ssz_snappy",
        }
    }
}

impl AsRef<str> for Eth2Protocol {
    fn as_ref(&self) -> &str {
        self.id()
    }
}

impl fmt::Display for Eth2Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
