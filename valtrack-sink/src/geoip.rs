//! [`GeoIp`]: where a peer's address is, from MaxMind-format City and ASN databases (`.mmdb`,
//! e.g. GeoLite2-City and GeoLite2-ASN). Never an online API.
//!
//! The [`Location`] and [`AddressKind`] types live in `valtrack-core` (they are carried by
//! [`PeerLocationEvent`](valtrack_core::events::PeerLocationEvent)).
//!
//! Private, loopback, link-local, unspecified, multicast and other special-purpose addresses
//! are labelled by [`AddressKind`] without a lookup. Public addresses are looked up in the
//! City database (`country.iso_code`, `city.names.en`, `location.latitude/longitude`) and the
//! ASN database (`autonomous_system_number`, `autonomous_system_organization`), either of
//! which may be absent. [`Location::hosting`] is set when the ASN is in [`HOSTING_ASNS`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use valtrack_core::events::PeerLocationEvent;
use valtrack_core::{AddressKind, Location};
use valtrack_core::{EventKind, EventMeta};

/// Autonomous systems of well-known cloud and hosting providers: a node in one of them runs in
/// a data centre, not at home. The list is a heuristic: commonly cited ASNs of these
/// providers, not checked against a registry when it was written, and not complete (regional
/// hosters are missing). Extend it rather than trusting it blindly.
pub const HOSTING_ASNS: &[(u32, &str)] = &[
    (16509, "Amazon (AWS)"),
    (14618, "Amazon (AWS)"),
    (8987, "Amazon (AWS Ireland)"),
    (15169, "Google"),
    (396982, "Google Cloud"),
    (19527, "Google"),
    (8075, "Microsoft (Azure)"),
    (8068, "Microsoft"),
    (24940, "Hetzner"),
    (213230, "Hetzner Cloud"),
    (212317, "Hetzner"),
    (16276, "OVH"),
    (35540, "OVH"),
    (14061, "DigitalOcean"),
    (51167, "Contabo"),
    (40021, "Contabo"),
    (63949, "Akamai (Linode)"),
    (20940, "Akamai"),
    (20473, "Vultr (Choopa)"),
    (31898, "Oracle Cloud"),
    (45102, "Alibaba Cloud"),
    (37963, "Alibaba Cloud"),
    (132203, "Tencent Cloud"),
    (45090, "Tencent Cloud"),
    (12876, "Scaleway"),
    (13335, "Cloudflare"),
    (36352, "ColoCrossing"),
    (62567, "DigitalOcean"),
    (197540, "netcup"),
    (60781, "LeaseWeb"),
    (28753, "LeaseWeb"),
    (30633, "LeaseWeb"),
    (46606, "Unified Layer"),
    (26496, "GoDaddy"),
    (398101, "GoDaddy"),
    (9009, "M247"),
];

/// Whether `asn` belongs to a hosting or cloud provider ([`HOSTING_ASNS`]).
pub fn is_hosting_asn(asn: u32) -> bool {
    HOSTING_ASNS.iter().any(|(a, _)| *a == asn)
}

/// A GeoIP database that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GeoIpError {
    /// The file cannot be read.
    #[error("cannot read GeoIP database {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid MaxMind database.
    #[error("{path} is not a valid MaxMind database")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// A lookup found a record that does not decode.
    #[error("GeoIP record for {ip} does not decode")]
    Record {
        /// The address looked up.
        ip: IpAddr,
        /// What the reader said.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
}

#[derive(Debug, Deserialize)]
struct CityRecord {
    #[serde(default)]
    country: Option<CountryRecord>,
    #[serde(default)]
    city: Option<CityNames>,
    #[serde(default)]
    location: Option<LatLong>,
}

#[derive(Debug, Deserialize)]
struct CountryRecord {
    #[serde(default)]
    iso_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CityNames {
    #[serde(default)]
    names: Option<Names>,
}

#[derive(Debug, Deserialize)]
struct Names {
    #[serde(default)]
    en: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LatLong {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct AsnRecord {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(default)]
    autonomous_system_organization: Option<String>,
}

/// Longest string kept from a database record (city and organisation names).
pub const MAX_GEO_STRING_LEN: usize = 256;

fn bounded(s: Option<String>) -> Option<String> {
    s.map(|s| s.chars().take(MAX_GEO_STRING_LEN).collect())
}

/// City and ASN databases, read into memory once. Lookups are synchronous and cheap (a tree
/// walk); the reader is `Send + Sync`, so share one behind an `Arc`.
pub struct GeoIp {
    city: Option<maxminddb::Reader<Vec<u8>>>,
    asn: Option<maxminddb::Reader<Vec<u8>>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field(
                "city",
                &self.city.as_ref().map(|r| &r.metadata.database_type),
            )
            .field("asn", &self.asn.as_ref().map(|r| &r.metadata.database_type))
            .finish()
    }
}

fn open_reader(path: &Path) -> Result<maxminddb::Reader<Vec<u8>>, GeoIpError> {
    let bytes = std::fs::read(path).map_err(|source| GeoIpError::Io {
        path: path.to_owned(),
        source,
    })?;
    maxminddb::Reader::from_source(bytes).map_err(|source| GeoIpError::Invalid {
        path: path.to_owned(),
        source,
    })
}

impl GeoIp {
    /// Opens the City and/or ASN databases; either may be `None`.
    pub fn open(city: Option<&Path>, asn: Option<&Path>) -> Result<Self, GeoIpError> {
        Ok(Self {
            city: city.map(open_reader).transpose()?,
            asn: asn.map(open_reader).transpose()?,
        })
    }

    /// Where `ip` is. Non-public addresses are labelled and not looked up; an address neither
    /// database knows gives a location with only `ip` and `kind`.
    pub fn lookup(&self, ip: IpAddr) -> Result<Location, GeoIpError> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let mut loc = Location::unknown(ip);
        if loc.kind != AddressKind::Public {
            return Ok(loc);
        }
        if let Some(reader) = &self.city {
            let rec: Option<CityRecord> = reader
                .lookup(ip)
                .map_err(|source| GeoIpError::Record { ip, source })?;
            if let Some(rec) = rec {
                loc.country = bounded(rec.country.and_then(|c| c.iso_code));
                loc.city = bounded(rec.city.and_then(|c| c.names).and_then(|n| n.en));
                if let Some(ll) = rec.location {
                    loc.latitude = ll.latitude.filter(|v| (-90.0..=90.0).contains(v));
                    loc.longitude = ll.longitude.filter(|v| (-180.0..=180.0).contains(v));
                }
            }
        }
        if let Some(reader) = &self.asn {
            let rec: Option<AsnRecord> = reader
                .lookup(ip)
                .map_err(|source| GeoIpError::Record { ip, source })?;
            if let Some(rec) = rec {
                loc.asn = rec.autonomous_system_number;
                loc.as_org = bounded(rec.autonomous_system_organization);
                loc.hosting = loc.asn.is_some_and(is_hosting_asn);
            }
        }
        Ok(loc)
    }

    /// Locates `ip` as a `peer_locations` row for the peer of `source` (same crawler, peer,
    /// ENR and time; the `event_id` is derived from the source's and the address).
    pub fn peer_location_event(
        &self,
        source: &EventMeta,
        ip: IpAddr,
    ) -> Result<PeerLocationEvent, GeoIpError> {
        let location = self.lookup(ip)?;
        let mut discriminator = source.event_id.as_bytes().to_vec();
        discriminator.extend_from_slice(ip.to_string().as_bytes());
        let meta = EventMeta::new(
            EventKind::PeerLocation,
            &source.crawler_id,
            &source.crawler_location,
            source.timestamp,
            source.peer_id,
            source.enr.clone(),
            &discriminator,
        );
        Ok(PeerLocationEvent { meta, location })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    /// The GeoIP over the committed test databases (shared with the tracker's tests).
    pub(crate) fn geoip() -> GeoIp {
        GeoIp::open(
            Some(&testdata("test-city.mmdb")),
            Some(&testdata("test-asn.mmdb")),
        )
        .unwrap()
    }

    #[test]
    fn looks_up_city_and_asn() {
        let g = geoip();
        let loc = g.lookup("88.198.10.20".parse().unwrap()).unwrap();
        assert_eq!(loc.kind, AddressKind::Public);
        assert_eq!(loc.country.as_deref(), Some("DE"));
        assert_eq!(loc.city.as_deref(), Some("Falkenstein"));
        assert!((loc.latitude.unwrap() - 50.4779).abs() < 1e-9);
        assert!((loc.longitude.unwrap() - 12.3713).abs() < 1e-9);
        assert_eq!(loc.asn, Some(24940));
        assert_eq!(loc.as_org.as_deref(), Some("Hetzner Online GmbH"));
        assert!(loc.hosting);

        let loc = g.lookup("81.2.69.160".parse().unwrap()).unwrap();
        assert_eq!(loc.city.as_deref(), Some("London"));
        assert_eq!(loc.asn, Some(20712));
        assert!(!loc.hosting, "a home ISP is not hosting");

        let loc = g.lookup("2a01:4f8:1:2::3".parse().unwrap()).unwrap();
        assert_eq!(loc.city.as_deref(), Some("Nuremberg"));
        assert!(loc.hosting);

        // IPv4-mapped IPv6 is looked up as IPv4.
        let loc = g.lookup("::ffff:3.17.30.69".parse().unwrap()).unwrap();
        assert_eq!(loc.ip, "3.17.30.69".parse::<IpAddr>().unwrap());
        assert_eq!(loc.country.as_deref(), Some("US"));
        assert_eq!(loc.asn, Some(16509));
    }

    #[test]
    fn partial_and_missing_records() {
        let g = geoip();
        let loc = g.lookup("203.0.113.7".parse().unwrap()).unwrap();
        // 203.0.113.0/24 is TEST-NET-3: reserved, so never looked up.
        assert_eq!(loc.kind, AddressKind::Reserved);
        assert_eq!(loc.country, None);
        // A public address neither database knows.
        let loc = g.lookup("9.9.9.9".parse().unwrap()).unwrap();
        assert_eq!(loc.kind, AddressKind::Public);
        assert_eq!((loc.country, loc.asn, loc.hosting), (None, None, false));
        // Only one database.
        let g = GeoIp::open(None, Some(&testdata("test-asn.mmdb"))).unwrap();
        let loc = g.lookup("3.17.1.1".parse().unwrap()).unwrap();
        assert_eq!((loc.country, loc.asn), (None, Some(16509)));
    }

    #[test]
    fn special_addresses_are_labelled_without_lookup() {
        let g = GeoIp::open(None, None).unwrap();
        for (ip, kind) in [
            ("10.1.2.3", AddressKind::Private),
            ("172.16.0.1", AddressKind::Private),
            ("192.168.1.1", AddressKind::Private),
            ("100.64.0.1", AddressKind::Private),
            ("fd00::1", AddressKind::Private),
            ("127.0.0.1", AddressKind::Loopback),
            ("::1", AddressKind::Loopback),
            ("::ffff:127.0.0.1", AddressKind::Loopback),
            ("169.254.1.1", AddressKind::LinkLocal),
            ("fe80::1", AddressKind::LinkLocal),
            ("0.0.0.0", AddressKind::Unspecified),
            ("::", AddressKind::Unspecified),
            ("224.0.0.1", AddressKind::Multicast),
            ("ff02::1", AddressKind::Multicast),
            ("192.0.2.1", AddressKind::Reserved),
            ("2001:db8::1", AddressKind::Reserved),
            ("255.255.255.255", AddressKind::Reserved),
            ("1.1.1.1", AddressKind::Public),
            ("2600::1", AddressKind::Public),
        ] {
            let loc = g.lookup(ip.parse().unwrap()).unwrap();
            assert_eq!(loc.kind, kind, "{ip}");
        }
    }

    #[test]
    fn missing_and_corrupt_files_are_typed_errors() {
        let err = GeoIp::open(Some(&testdata("does-not-exist.mmdb")), None).unwrap_err();
        assert!(matches!(err, GeoIpError::Io { .. }), "{err:?}");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.mmdb");
        std::fs::write(&bad, b"not a maxmind database at all").unwrap();
        let err = GeoIp::open(None, Some(&bad)).unwrap_err();
        assert!(matches!(err, GeoIpError::Invalid { .. }), "{err:?}");
        // Truncated: a real file cut in half.
        let full = std::fs::read(testdata("test-city.mmdb")).unwrap();
        std::fs::write(&bad, &full[..full.len() / 2]).unwrap();
        assert!(GeoIp::open(Some(&bad), None).is_err());
    }

    #[test]
    fn peer_location_events() {
        let g = geoip();
        let source = crate::tracker::fixtures::meta(
            EventKind::Metadata,
            crate::tracker::fixtures::peer(1),
            77,
            Some("enr:-x"),
        );
        let e = g
            .peer_location_event(&source, "88.198.1.2".parse().unwrap())
            .unwrap();
        assert_eq!(e.meta.peer_id, source.peer_id);
        assert_eq!(
            (e.meta.timestamp, e.meta.enr.as_deref()),
            (77, Some("enr:-x"))
        );
        assert_ne!(e.meta.event_id, source.event_id);
        assert_eq!(e.location.asn, Some(24940));
        let event = valtrack_core::Event::PeerLocation(e);
        assert_eq!(event.subject(), "valtrack.peer_location");
        let back = valtrack_core::Event::from_json(&event.to_json()).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn hosting_list() {
        for asn in [
            16509, 14618, 15169, 396982, 8075, 24940, 16276, 14061, 51167, 63949,
        ] {
            assert!(is_hosting_asn(asn), "{asn}");
        }
        assert!(!is_hosting_asn(7922));
        assert!(!is_hosting_asn(3320));
    }
}
