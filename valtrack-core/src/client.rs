//! Parsing identify agent versions into client name, version, OS and architecture.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Known consensus clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ClientKind {
    /// Sigma Prime's Lighthouse (Rust).
    Lighthouse,
    /// Offchain Labs' Prysm (Go).
    Prysm,
    /// Consensys' Teku (Java).
    Teku,
    /// Status' Nimbus (Nim).
    Nimbus,
    /// ChainSafe's Lodestar (TypeScript).
    Lodestar,
    /// Grandine (Rust).
    Grandine,
    /// Erigon's embedded Caplin.
    Erigon,
    /// Anything else, including an empty agent string.
    Unknown,
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Lighthouse => "lighthouse",
            Self::Prysm => "prysm",
            Self::Teku => "teku",
            Self::Nimbus => "nimbus",
            Self::Lodestar => "lodestar",
            Self::Grandine => "grandine",
            Self::Erigon => "erigon",
            Self::Unknown => "unknown",
        };
        f.write_str(name)
    }
}

/// What an agent version string says about the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The client.
    pub kind: ClientKind,
    /// Version as written (`v5.3.0-2e0eb6d`), when present.
    pub version: Option<String>,
    /// Operating system (`linux`), when present.
    pub os: Option<String>,
    /// CPU architecture (`x86_64`), when present.
    pub arch: Option<String>,
}

const OSES: &[&str] = &[
    "linux", "windows", "macos", "darwin", "freebsd", "openbsd", "android",
];
const ARCHES: &[&str] = &[
    "x86_64", "amd64", "x64", "aarch64", "arm64", "armv7", "arm", "riscv64", "i686", "x86",
];

impl ClientInfo {
    /// Parses an identify `agent_version`. Matching is on the first `/`-separated token,
    /// case-insensitively; never fails (unrecognised agents are [`ClientKind::Unknown`]).
    ///
    /// ```
    /// use valtrack_core::{ClientInfo, ClientKind};
    /// let c = ClientInfo::from_agent_version("Lighthouse/v5.3.0-2e0eb6d/x86_64-linux");
    /// assert_eq!(c.kind, ClientKind::Lighthouse);
    /// assert_eq!(c.version.as_deref(), Some("v5.3.0-2e0eb6d"));
    /// assert_eq!((c.os.as_deref(), c.arch.as_deref()), (Some("linux"), Some("x86_64")));
    /// ```
    pub fn from_agent_version(agent: &str) -> Self {
        // Agent strings come from the network: look at a bounded prefix only.
        let agent: String = agent.chars().take(256).collect();
        let tokens: Vec<&str> = agent.split('/').map(str::trim).collect();
        let first = tokens.first().copied().unwrap_or("").to_ascii_lowercase();
        let kind = match first.as_str() {
            "lighthouse" => ClientKind::Lighthouse,
            "prysm" => ClientKind::Prysm,
            "teku" => ClientKind::Teku,
            "nimbus" => ClientKind::Nimbus,
            "lodestar" | "js-libp2p" => ClientKind::Lodestar,
            "grandine" => ClientKind::Grandine,
            f if f.starts_with("erigon") || f.starts_with("caplin") => ClientKind::Erigon,
            _ => ClientKind::Unknown,
        };
        // Teku repeats its name: teku/teku/v21.8.2/linux-x86_64/…
        let rest: &[&str] = match (kind, tokens.get(1)) {
            (ClientKind::Teku, Some(t)) if t.eq_ignore_ascii_case("teku") => &tokens[2..],
            _ => tokens.get(1..).unwrap_or(&[]),
        };
        let version = match kind {
            ClientKind::Unknown => None,
            _ => rest
                .first()
                .filter(|v| !v.is_empty())
                .map(|v| (*v).to_owned()),
        };
        let (os, arch) = rest
            .iter()
            .skip(1)
            .find_map(|t| platform(t))
            .unwrap_or((None, None));
        Self {
            kind,
            version,
            os,
            arch,
        }
    }
}

/// Reads `arch-os` or `os-arch` (`x86_64-linux`, `linux-x86_64`).
fn platform(token: &str) -> Option<(Option<String>, Option<String>)> {
    let lower = token.to_ascii_lowercase();
    let (a, b) = lower.split_once('-')?;
    let is_os = |s: &str| OSES.contains(&s);
    let is_arch = |s: &str| ARCHES.contains(&s);
    if is_arch(a) && is_os(b) {
        Some((Some(b.to_owned()), Some(a.to_owned())))
    } else if is_os(a) && is_arch(b) {
        Some((Some(a.to_owned()), Some(b.to_owned())))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (ClientKind, Option<&str>, Option<&str>, Option<&str>) {
        let c = ClientInfo::from_agent_version(s);
        let leak = |o: Option<String>| o.map(|s| &*Box::leak(s.into_boxed_str()));
        (c.kind, leak(c.version), leak(c.os), leak(c.arch))
    }

    #[test]
    fn real_agent_strings() {
        use ClientKind::*;
        assert_eq!(
            parse("Lighthouse/v5.3.0-2e0eb6d/x86_64-linux"),
            (
                Lighthouse,
                Some("v5.3.0-2e0eb6d"),
                Some("linux"),
                Some("x86_64")
            )
        );
        assert_eq!(
            parse("Lighthouse/v7.1.0-e42406d+/aarch64-linux"),
            (
                Lighthouse,
                Some("v7.1.0-e42406d+"),
                Some("linux"),
                Some("aarch64")
            )
        );
        assert_eq!(
            parse("Prysm/v1.4.3/8bca66ac64d54f4f5d1d4d1e1d4f8d3c2b1a0f9e"),
            (Prysm, Some("v1.4.3"), None, None)
        );
        assert_eq!(
            parse("teku/teku/v21.8.2/linux-x86_64/corretto-java-16"),
            (Teku, Some("v21.8.2"), Some("linux"), Some("x86_64"))
        );
        assert_eq!(parse("nimbus"), (Nimbus, None, None, None));
        assert_eq!(
            parse("lodestar/v1.5.1"),
            (Lodestar, Some("v1.5.1"), None, None)
        );
        assert_eq!(
            parse("Grandine/1.1.0-8a5b3c4/x86_64-linux"),
            (
                Grandine,
                Some("1.1.0-8a5b3c4"),
                Some("linux"),
                Some("x86_64")
            )
        );
        assert_eq!(parse("erigon/caplin").0, Erigon);
        assert_eq!(parse(""), (Unknown, None, None, None));
        assert_eq!(parse("rust-libp2p/0.44.0"), (Unknown, None, None, None));
        assert_eq!(parse("LIGHTHOUSE/v1").0, Lighthouse);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,400}") {
            let _ = ClientInfo::from_agent_version(&s);
        }
    }
}
