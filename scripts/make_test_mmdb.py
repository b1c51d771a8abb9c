#!/usr/bin/env python3
"""Write the small MaxMind-format test databases valtrack-sink's GeoIP tests read.

    pip install mmdb-writer   # PyPI, pure Python (tested with 0.2.7)
    python3 scripts/make_test_mmdb.py valtrack-sink/testdata

writes `test-city.mmdb` (GeoIP2/GeoLite2-City layout: `country.iso_code`, `city.names.en`,
`location.latitude/longitude`) and `test-asn.mmdb` (GeoLite2-ASN layout:
`autonomous_system_number`, `autonomous_system_organization`), both IPv6 trees that also hold
IPv4 (as ::a.b.c.d, which is where MaxMind readers look IPv4 addresses up). The networks and
values are fixtures, not real geolocation data.
"""

import sys
from pathlib import Path

from mmdb_writer import MMDBWriter, MmdbF64, MmdbU32
from netaddr import IPSet

CITY = [
    # network, country, city, latitude, longitude
    ("3.17.0.0/16", "US", "Columbus", 39.9612, -82.9988),
    ("88.198.0.0/16", "DE", "Falkenstein", 50.4779, 12.3713),
    ("81.2.69.0/24", "GB", "London", 51.5142, -0.0931),
    ("2a01:4f8::/32", "DE", "Nuremberg", 49.4478, 11.0683),
]
# One network with a country only (no city, no location).
COUNTRY_ONLY = [("203.0.113.0/24", "AU")]

ASN = [
    # network, ASN, organisation
    ("3.17.0.0/16", 16509, "AMAZON-02"),
    ("88.198.0.0/16", 24940, "Hetzner Online GmbH"),
    ("81.2.69.0/24", 20712, "Andrews & Arnold Ltd"),
    ("2a01:4f8::/32", 24940, "Hetzner Online GmbH"),
]


def city_db() -> MMDBWriter:
    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City",
                   languages=["en"], description="valtrack test City database")
    for net, country, city, lat, lon in CITY:
        w.insert_network(IPSet([net]), {
            "country": {"iso_code": country, "names": {"en": country}},
            "city": {"names": {"en": city}},
            "location": {"latitude": MmdbF64(lat), "longitude": MmdbF64(lon)},
        })
    for net, country in COUNTRY_ONLY:
        w.insert_network(IPSet([net]), {"country": {"iso_code": country}})
    return w


def asn_db() -> MMDBWriter:
    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN",
                   languages=["en"], description="valtrack test ASN database")
    for net, asn, org in ASN:
        w.insert_network(IPSet([net]), {
            "autonomous_system_number": MmdbU32(asn),
            "autonomous_system_organization": org,
        })
    return w


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make_test_mmdb.py <dir>")
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    city_db().to_db_file(str(out / "test-city.mmdb"))
    asn_db().to_db_file(str(out / "test-asn.mmdb"))


if __name__ == "__main__":
    main()
