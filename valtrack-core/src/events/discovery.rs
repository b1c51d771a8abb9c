//! [`DiscoveryEvent`]: a node seen on discv5, with its ENR's fields typed.
//!
//! One event per first sighting, per higher ENR seq and per disappearance
//! ([`DiscoveryReason`]). Every field the record holds is copied out typed, so the consumer
//! never parses ENRs; a field that is present but malformed does not drop the node: it is
//! left `None` here and named, with what is wrong, in [`DiscoveryEvent::enr_issues`].

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::EventMeta;
use crate::enr_info::{EnrClass, EnrFieldError, EnrInfo};
use crate::primitives::{Epoch, ForkDigest, Version};
use crate::subnets::{AttestationSubnets, SyncSubnets};

/// Why a discovery event was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryReason {
    /// First time this node was seen.
    FirstSeen,
    /// The node published an ENR with a higher seq.
    SeqChanged,
    /// The node has not been seen for the configured time and is forgotten.
    Disappeared,
}

event_struct! {
    /// A node found on discv5: its ENR's fields, typed.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
    pub struct DiscoveryEvent {
        /// Common fields.
        #[serde(flatten)]
        pub meta: EventMeta,
        /// Why this event.
        pub reason: DiscoveryReason,
        /// ENR seq.
        pub seq: u64,
        /// IPv4 address.
        #[serde(default)]
        pub ip: Option<Ipv4Addr>,
        /// IPv6 address.
        #[serde(default)]
        pub ip6: Option<Ipv6Addr>,
        /// TCP port.
        #[serde(default)]
        pub tcp_port: Option<u16>,
        /// UDP (discv5) port.
        #[serde(default)]
        pub udp_port: Option<u16>,
        /// QUIC port.
        #[serde(default)]
        pub quic_port: Option<u16>,
        /// Current fork digest from `eth2`.
        #[serde(default)]
        pub fork_digest: Option<ForkDigest>,
        /// Next fork version from `eth2`.
        #[serde(default)]
        pub next_fork_version: Option<Version>,
        /// Next fork epoch from `eth2`.
        #[serde(default)]
        pub next_fork_epoch: Option<Epoch>,
        /// `nfd`.
        #[serde(default)]
        pub nfd: Option<ForkDigest>,
        /// `attnets`.
        #[serde(default)]
        pub attnets: Option<AttestationSubnets>,
        /// `syncnets`.
        #[serde(default)]
        pub syncnets: Option<SyncSubnets>,
        /// `cgc`.
        #[serde(default)]
        pub cgc: Option<u64>,
        /// Our network, another, or no eth2 field.
        pub class: EnrClass,
        /// Malformed fields.
        #[serde(default)]
        pub enr_issues: Vec<EnrFieldError>,
    }
}

impl DiscoveryEvent {
    /// Builds the event from a decoded ENR.
    pub fn new(meta: EventMeta, reason: DiscoveryReason, info: &EnrInfo, class: EnrClass) -> Self {
        Self {
            meta,
            reason,
            seq: info.seq,
            ip: info.ip4,
            ip6: info.ip6,
            tcp_port: info.tcp4.or(info.tcp6),
            udp_port: info.udp4.or(info.udp6),
            quic_port: info.quic4.or(info.quic6),
            fork_digest: info.eth2.map(|e| e.fork_digest),
            next_fork_version: info.eth2.map(|e| e.next_fork_version),
            next_fork_epoch: info.eth2.map(|e| e.next_fork_epoch),
            nfd: info.nfd,
            attnets: info.attnets,
            syncnets: info.syncnets,
            cgc: info.cgc,
            class,
            enr_issues: info.issues.clone(),
        }
    }
}
