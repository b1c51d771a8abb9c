//! Where a peer's address is: [`Location`] and the [`AddressKind`] classification of IP
//! addresses. Filling in a location from GeoIP databases is I/O and lives in `valtrack-sink`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What kind of address an IP is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AddressKind {
    /// Globally routable: looked up.
    Public,
    /// RFC 1918, RFC 6598 shared (CGNAT) or IPv6 unique-local.
    Private,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// Multicast.
    Multicast,
    /// Documentation, benchmarking, broadcast and other reserved ranges.
    Reserved,
}

impl AddressKind {
    /// Classifies an address (IPv4-mapped IPv6 addresses as their IPv4 address).
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                if v4.is_unspecified() {
                    Self::Unspecified
                } else if v4.is_loopback() {
                    Self::Loopback
                } else if v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
                    Self::Private
                } else if v4.is_link_local() {
                    Self::LinkLocal
                } else if v4.is_multicast() {
                    Self::Multicast
                } else if v4.is_broadcast()
                    || v4.is_documentation()
                    || o[0] == 0
                    || o[0] >= 240
                    || (o[0] == 198 && (o[1] & 0xfe) == 18)
                    || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                {
                    Self::Reserved
                } else {
                    Self::Public
                }
            }
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return Self::of(IpAddr::V4(v4));
                }
                let s = v6.segments();
                if v6.is_unspecified() {
                    Self::Unspecified
                } else if v6.is_loopback() {
                    Self::Loopback
                } else if (s[0] & 0xfe00) == 0xfc00 {
                    Self::Private
                } else if (s[0] & 0xffc0) == 0xfe80 {
                    Self::LinkLocal
                } else if v6.is_multicast() {
                    Self::Multicast
                } else if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xe000) != 0x2000 {
                    // Documentation, and everything outside global unicast 2000::/3.
                    Self::Reserved
                } else {
                    Self::Public
                }
            }
        }
    }
}

/// Where an address is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// The address.
    pub ip: IpAddr,
    /// Its kind; only [`AddressKind::Public`] addresses are looked up. Serialized as
    /// `address_kind` (events use `kind` for their own tag).
    #[serde(rename = "address_kind")]
    pub kind: AddressKind,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    /// City name (English).
    #[serde(default)]
    pub city: Option<String>,
    /// Latitude in degrees.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Autonomous system number.
    #[serde(default)]
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    #[serde(default)]
    pub as_org: Option<String>,
    /// Whether the ASN is a known hosting/cloud provider (`valtrack_sink::HOSTING_ASNS`).
    pub hosting: bool,
}

impl Location {
    /// A location with only the address and its kind.
    pub fn unknown(ip: IpAddr) -> Self {
        Self {
            ip,
            kind: AddressKind::of(ip),
            country: None,
            city: None,
            latitude: None,
            longitude: None,
            asn: None,
            as_org: None,
            hosting: false,
        }
    }
}
