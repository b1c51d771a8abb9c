//! Built-in networks. Each is an embedded `config.yaml` (in `presets/`, with the source of
//! every value in its header) parsed by [`ConsensusConfig::from_yaml`], the loader custom
//! networks use, plus a genesis validators root and, for mainnet, the genesis time.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{ConfigError, ConsensusConfig, Network};
use crate::primitives::Root;

/// A public Ethereum network with a built-in configuration.
///
/// The stored copies these were taken from are the newest found; Sepolia's schedules Gloas
/// (epoch 353024). Holesky's and Hoodi's come from Lighthouse's built-in configs, which have
/// Fulu and both BPO forks but no Gloas epoch; if those networks schedule Gloas later, their
/// presets here will not know it until updated (a custom config can be loaded meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NetworkPreset {
    /// Ethereum mainnet.
    Mainnet,
    /// The Sepolia testnet.
    Sepolia,
    /// The Holesky testnet.
    Holesky,
    /// The Hoodi testnet.
    Hoodi,
}

impl NetworkPreset {
    /// Every preset.
    pub const ALL: [Self; 4] = [Self::Mainnet, Self::Sepolia, Self::Holesky, Self::Hoodi];

    /// The network's name, as in its `CONFIG_NAME`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Mainnet => "mainnet",
            Self::Sepolia => "sepolia",
            Self::Holesky => "holesky",
            Self::Hoodi => "hoodi",
        }
    }

    /// The embedded `config.yaml` (only the keys valtrack reads, with their sources).
    pub const fn config_yaml(self) -> &'static str {
        match self {
            Self::Mainnet => include_str!("presets/mainnet.yaml"),
            Self::Sepolia => include_str!("presets/sepolia.yaml"),
            Self::Holesky => include_str!("presets/holesky.yaml"),
            Self::Hoodi => include_str!("presets/hoodi.yaml"),
        }
    }

    /// The network's genesis validators root.
    pub const fn genesis_validators_root(self) -> Root {
        match self {
            Self::Mainnet => MAINNET_GENESIS_VALIDATORS_ROOT,
            Self::Sepolia => SEPOLIA_GENESIS_VALIDATORS_ROOT,
            Self::Holesky => HOLESKY_GENESIS_VALIDATORS_ROOT,
            Self::Hoodi => HOODI_GENESIS_VALIDATORS_ROOT,
        }
    }

    /// The genesis time when it is not `MIN_GENESIS_TIME + GENESIS_DELAY`.
    pub const fn genesis_time_override(self) -> Option<Duration> {
        match self {
            // eth-clients/mainnet README (@ f6b78826): `genesis_time: 1606824023`.
            Self::Mainnet => Some(Duration::from_secs(1_606_824_023)),
            Self::Sepolia | Self::Holesky | Self::Hoodi => None,
        }
    }

    /// Builds the network from the embedded config.
    ///
    /// # Panics
    ///
    /// Only if an embedded config were invalid, which the test suite rules out
    /// (`presets_all_build`): the input is fixed at compile time.
    pub fn network(self) -> Network {
        self.try_network()
            .expect("embedded preset configs are valid: checked by presets_all_build")
    }

    fn try_network(self) -> Result<Network, ConfigError> {
        let config = ConsensusConfig::from_yaml(self.config_yaml())?;
        let mut builder = Network::builder(config, self.genesis_validators_root());
        if let Some(time) = self.genesis_time_override() {
            builder = builder.genesis_time(time);
        }
        builder.build()
    }
}

impl fmt::Display for NetworkPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NetworkPreset {
    type Err = ConfigError;

    /// Parses a network name, case-insensitively (`"mainnet"`, `"Hoodi"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|preset| preset.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ConfigError::UnknownNetwork { name: s.to_owned() })
    }
}

impl Network {
    /// Ethereum mainnet ([`NetworkPreset::Mainnet`]).
    pub fn mainnet() -> Self {
        NetworkPreset::Mainnet.network()
    }

    /// The Sepolia testnet ([`NetworkPreset::Sepolia`]).
    pub fn sepolia() -> Self {
        NetworkPreset::Sepolia.network()
    }

    /// The Holesky testnet ([`NetworkPreset::Holesky`]).
    pub fn holesky() -> Self {
        NetworkPreset::Holesky.network()
    }

    /// The Hoodi testnet ([`NetworkPreset::Hoodi`]).
    pub fn hoodi() -> Self {
        NetworkPreset::Hoodi.network()
    }
}

// Genesis validators roots, decoded at compile time.
// eth-clients/mainnet README (@ f6b78826); the same bytes in prysm
// config/params/mainnet_config.go `GenesisValidatorsRoot`.
const MAINNET_GENESIS_VALIDATORS_ROOT: Root =
    hex32("4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95");
// eth-clients/sepolia README (@ bded8698), "Genesis Validators Root".
const SEPOLIA_GENESIS_VALIDATORS_ROOT: Root =
    hex32("d8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078");
// No primary copy in the search index: ethereum/staking-deposit-cli's Holesky setting (with
// GENESIS_FORK_VERSION 0x01017000), Rocket Pool, Lodestar and several light clients all give
// this value.
const HOLESKY_GENESIS_VALIDATORS_ROOT: Root =
    hex32("9143aa7c615a7f7115e2b6aac319c03529df8242ae705fba9df39b79c59fa8b1");
// eth-clients/hoodi README (@ 363c577f), "Genesis validator root". (The stored
// metadata/genesis_validators_root.txt copies are from pre-launch drafts.)
const HOODI_GENESIS_VALIDATORS_ROOT: Root =
    hex32("212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f");

/// 64 lowercase hex digits to 32 bytes; only called in constants, so a bad literal fails the
/// build instead of panicking at run time.
const fn hex32(s: &str) -> Root {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let bytes = s.as_bytes();
    assert!(bytes.len() == 64, "expected 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(bytes[2 * i]) << 4 | nibble(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_all_build() {
        for preset in NetworkPreset::ALL {
            let network = preset.try_network().unwrap();
            assert_eq!(network.name(), preset.name());
            assert_eq!(preset.to_string().parse::<NetworkPreset>().unwrap(), preset);
        }
        assert!(matches!(
            "goerli".parse::<NetworkPreset>(),
            Err(ConfigError::UnknownNetwork { .. })
        ));
        assert_eq!(
            "HOODI".parse::<NetworkPreset>().unwrap(),
            NetworkPreset::Hoodi
        );
    }
}
