//! Decoding the Ethereum fields of an ENR (EIP-778 record) into typed values.
//!
//! The `enr` crate parses the record, checks its signature and decodes the standard keys
//! (`ip`, `udp`, `tcp`, …). This module reads the eth2 keys (`eth2`, `attnets`, `syncnets`,
//! `cgc`, `nfd`, `quic`, `quic6`) itself and is lenient in the way real networks need: one
//! malformed field is recorded in [`EnrInfo::issues`] and the rest of the record is kept.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use alloy_rlp::Header;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::peer_id::PeerId;
use crate::primitives::{ForkDigest, NodeId, Version};
use crate::ssz::{EnrForkId, SszMessage};
use crate::subnets::{AttestationSubnets, SyncSubnets};

/// A signed ENR with a secp256k1 (`v4`) identity.
pub type Enr = enr::Enr<enr::k256::ecdsa::SigningKey>;

/// Largest ENR allowed by EIP-778, in bytes.
pub const MAX_ENR_SIZE: usize = 300;

/// Parses the text form (`enr:` + unpadded base64url; the prefix and padding are optional) and
/// checks the signature. Input longer than any 300-byte record could be is refused before
/// decoding.
pub fn parse_enr(text: &str) -> Result<Enr, EnrError> {
    let text = text.trim();
    let body = text
        .strip_prefix("enr:")
        .unwrap_or(text)
        .trim_end_matches('=');
    // 300 bytes encode to 400 base64 characters.
    if body.len() > MAX_ENR_SIZE.div_ceil(3) * 4 {
        return Err(EnrError::TooLarge {
            len: body.len() * 3 / 4,
            max: MAX_ENR_SIZE,
        });
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body)?;
    decode_enr(&bytes)
}

/// Decodes the RLP form of a record and checks its signature; trailing bytes are an error.
pub fn decode_enr(bytes: &[u8]) -> Result<Enr, EnrError> {
    if bytes.len() > MAX_ENR_SIZE {
        return Err(EnrError::TooLarge {
            len: bytes.len(),
            max: MAX_ENR_SIZE,
        });
    }
    let mut buf = bytes;
    let enr = <Enr as alloy_rlp::Decodable>::decode(&mut buf).map_err(EnrError::Rlp)?;
    if !buf.is_empty() {
        return Err(EnrError::TrailingBytes { len: buf.len() });
    }
    Ok(enr)
}

/// How an ENR relates to the network we track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrClass {
    /// Its `eth2` digest is one of our network's.
    OurNetwork,
    /// It has an `eth2` field with another digest (another chain, or a fork we do not know).
    OtherNetwork,
    /// It has no usable `eth2` field (bootnodes, non-beacon discv5 nodes).
    NoEth2,
}

/// The Ethereum view of an ENR: identity, addresses and eth2 fields, each typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrInfo {
    /// discv5 node id.
    pub node_id: NodeId,
    /// libp2p PeerId of the same key.
    pub peer_id: PeerId,
    /// Record sequence number (not the MetaData `seq_number`).
    pub seq: u64,
    /// IPv4 address.
    pub ip4: Option<Ipv4Addr>,
    /// IPv6 address.
    pub ip6: Option<Ipv6Addr>,
    /// discv5 UDP port (IPv4).
    pub udp4: Option<u16>,
    /// libp2p TCP port (IPv4).
    pub tcp4: Option<u16>,
    /// libp2p QUIC port (IPv4).
    pub quic4: Option<u16>,
    /// discv5 UDP port (IPv6).
    pub udp6: Option<u16>,
    /// libp2p TCP port (IPv6).
    pub tcp6: Option<u16>,
    /// libp2p QUIC port (IPv6).
    pub quic6: Option<u16>,
    /// `eth2`: the node's `ENRForkID`.
    pub eth2: Option<EnrForkIdInfo>,
    /// `attnets`: long-lived attestation subnets.
    pub attnets: Option<AttestationSubnets>,
    /// `syncnets`: sync-committee subnets.
    pub syncnets: Option<SyncSubnets>,
    /// `cgc`: custody group count (Fulu).
    pub cgc: Option<u64>,
    /// `nfd`: digest of the next scheduled fork (Fulu).
    pub nfd: Option<ForkDigest>,
    /// Fields that were present but malformed (the value above is then `None`, or the usable
    /// part, as each problem says).
    pub issues: Vec<EnrFieldError>,
}

/// The `eth2` field's values, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnrForkIdInfo {
    /// The node's current fork digest.
    pub fork_digest: ForkDigest,
    /// The next regular fork's version.
    pub next_fork_version: Version,
    /// The next regular or BPO fork's epoch (`u64::MAX` when none).
    pub next_fork_epoch: u64,
}

impl From<&EnrForkId> for EnrForkIdInfo {
    fn from(id: &EnrForkId) -> Self {
        Self {
            fork_digest: ForkDigest(id.fork_digest),
            next_fork_version: Version(id.next_fork_version),
            next_fork_epoch: id.next_fork_epoch,
        }
    }
}

impl EnrInfo {
    /// Decodes every field of `enr` that valtrack uses. Fails only when the record has no
    /// valid secp256k1 key (so no PeerId); problems with single eth2 fields are collected in
    /// [`EnrInfo::issues`] and the rest is kept.
    pub fn from_enr<K: enr::EnrKey>(enr: &enr::Enr<K>) -> Result<Self, EnrError> {
        let peer_id = enr
            .get_raw_rlp("secp256k1")
            .and_then(|raw| rlp_bytes(raw).ok())
            .and_then(|key| PeerId::from_secp256k1(key).ok())
            .ok_or(EnrError::NotSecp256k1)?;
        let mut info = Self {
            node_id: NodeId(enr.node_id().raw()),
            peer_id,
            seq: enr.seq(),
            ip4: enr.ip4(),
            ip6: enr.ip6(),
            udp4: enr.udp4(),
            tcp4: enr.tcp4(),
            quic4: None,
            udp6: enr.udp6(),
            tcp6: enr.tcp6(),
            quic6: None,
            eth2: None,
            attnets: None,
            syncnets: None,
            cgc: None,
            nfd: None,
            issues: Vec::new(),
        };
        let issues = &mut info.issues;
        let mut field = |key: &'static str| -> Option<&[u8]> {
            let raw = enr.get_raw_rlp(key)?;
            note(issues, key, rlp_bytes(raw))
        };
        let (quic4, quic6, eth2, attnets, syncnets, cgc, nfd) = (
            field("quic"),
            field("quic6"),
            field("eth2"),
            field("attnets"),
            field("syncnets"),
            field("cgc"),
            field("nfd"),
        );

        let issues = &mut info.issues;
        info.quic4 = quic4.and_then(|b| note(issues, "quic", be_uint(b, 2).map(|v| v as u16)));
        info.quic6 = quic6.and_then(|b| note(issues, "quic6", be_uint(b, 2).map(|v| v as u16)));
        info.eth2 = eth2.and_then(|b| {
            let id = EnrForkId::from_ssz_bytes(b)
                .map(|id| EnrForkIdInfo::from(&id))
                .map_err(|_| FieldProblem::Length {
                    expected: 16,
                    got: b.len(),
                });
            note(issues, "eth2", id)
        });
        info.attnets = attnets.map(|b| {
            // Keep what a short or long bitfield says about subnets 0..63; flag the length.
            let mut out = [0u8; 8];
            let n = b.len().min(8);
            out[..n].copy_from_slice(&b[..n]);
            if b.len() != 8 {
                issues.push(EnrFieldError::new(
                    "attnets",
                    FieldProblem::Length {
                        expected: 8,
                        got: b.len(),
                    },
                ));
            }
            AttestationSubnets(out)
        });
        info.syncnets = syncnets.and_then(|b| {
            // Lodestar 1.5.1 advertises 8 bytes; the first byte holds the 4 bits.
            let first = *b.first()?;
            if b.len() != 1 {
                issues.push(EnrFieldError::new(
                    "syncnets",
                    FieldProblem::Length {
                        expected: 1,
                        got: b.len(),
                    },
                ));
            }
            if first & 0xf0 != 0 {
                issues.push(EnrFieldError::new("syncnets", FieldProblem::PaddingBits));
            }
            Some(SyncSubnets(first & 0x0f))
        });
        info.cgc = cgc.and_then(|b| note(issues, "cgc", be_uint(b, 8)));
        info.nfd = nfd.and_then(|b| {
            let digest = <[u8; 4]>::try_from(b)
                .map(ForkDigest)
                .map_err(|_| FieldProblem::Length {
                    expected: 4,
                    got: b.len(),
                });
            note(issues, "nfd", digest)
        });
        Ok(info)
    }

    /// The `eth2` field, or why it is unusable.
    pub fn fork_id(&self) -> Result<&EnrForkIdInfo, EnrFieldError> {
        if let Some(id) = &self.eth2 {
            return Ok(id);
        }
        Err(self
            .issues
            .iter()
            .find(|i| i.key == "eth2")
            .cloned()
            .unwrap_or_else(|| EnrFieldError::new("eth2", FieldProblem::Missing)))
    }

    /// The current fork digest, if the `eth2` field is usable.
    pub fn fork_digest(&self) -> Option<ForkDigest> {
        self.eth2.map(|e| e.fork_digest)
    }

    /// Classifies the record against the digests of our network (all its forks' digests, so a
    /// node that is a fork behind or ahead still counts as ours).
    pub fn classify(&self, our_digests: &[ForkDigest]) -> EnrClass {
        match self.fork_digest() {
            None => EnrClass::NoEth2,
            Some(d) if our_digests.contains(&d) => EnrClass::OurNetwork,
            Some(_) => EnrClass::OtherNetwork,
        }
    }
}

/// Keeps a field's value, or records its problem.
fn note<T>(
    issues: &mut Vec<EnrFieldError>,
    key: &str,
    value: Result<T, FieldProblem>,
) -> Option<T> {
    value
        .map_err(|problem| issues.push(EnrFieldError::new(key, problem)))
        .ok()
}

/// The payload of an RLP byte string (lists are a problem).
fn rlp_bytes(raw: &[u8]) -> Result<&[u8], FieldProblem> {
    let mut buf = raw;
    let header = Header::decode(&mut buf).map_err(|_| FieldProblem::BadRlp)?;
    if header.list {
        return Err(FieldProblem::NotBytes);
    }
    buf.get(..header.payload_length).ok_or(FieldProblem::BadRlp)
}

/// A big-endian unsigned integer of at most `max_len` bytes (leading zeros are tolerated but
/// not over-long values).
fn be_uint(bytes: &[u8], max_len: usize) -> Result<u64, FieldProblem> {
    let trimmed = &bytes[bytes.iter().take_while(|b| **b == 0).count()..];
    if trimmed.len() > max_len {
        return Err(FieldProblem::IntegerTooLarge {
            max_bytes: max_len,
            got: trimmed.len(),
        });
    }
    Ok(trimmed
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

impl FromStr for EnrInfo {
    type Err = EnrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_enr(&parse_enr(s)?)
    }
}

/// An ENR that cannot be used at all.
#[derive(Debug, Error)]
pub enum EnrError {
    /// Larger than the 300 bytes EIP-778 allows.
    #[error("ENR of {len} bytes exceeds {max}")]
    TooLarge {
        /// Length found (approximate for text).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text is not base64url.
    #[error("ENR text is not base64url")]
    Base64(#[from] base64::DecodeError),
    /// The record is not valid RLP, its signature does not verify, or a standard key is
    /// malformed.
    #[error("invalid ENR record")]
    Rlp(#[source] alloy_rlp::Error),
    /// The record has no valid secp256k1 public key, so no libp2p identity.
    #[error("ENR has no valid secp256k1 key")]
    NotSecp256k1,
    /// Bytes follow the record.
    #[error("{len} bytes after the ENR record")]
    TrailingBytes {
        /// Number of extra bytes.
        len: usize,
    },
}

/// One ENR field that is present but cannot be read as its type.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
#[error("ENR field `{key}`: {problem}")]
pub struct EnrFieldError {
    /// The key (`eth2`, `attnets`, …).
    pub key: String,
    /// What is wrong.
    pub problem: FieldProblem,
}

impl EnrFieldError {
    pub(crate) fn new(key: &str, problem: FieldProblem) -> Self {
        Self {
            key: key.to_owned(),
            problem,
        }
    }
}

/// What is wrong with an ENR field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FieldProblem {
    /// The key is absent.
    #[error("missing")]
    Missing,
    /// The value is not valid RLP.
    #[error("bad RLP")]
    BadRlp,
    /// The value is an RLP list, not a byte string.
    #[error("a list where bytes were expected")]
    NotBytes,
    /// The value has the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// An integer longer than its type.
    #[error("integer of {got} bytes, at most {max_bytes} allowed")]
    IntegerTooLarge {
        /// Allowed bytes.
        max_bytes: usize,
        /// Bytes found.
        got: usize,
    },
    /// Bits set beyond the bitvector's length.
    #[error("padding bits set")]
    PaddingBits,
}

#[cfg(test)]
mod tests;
