//! Network directories: a consensus network's `config.yaml`, genesis data and bootnodes, as
//! the eth-clients network repositories (and devnet tools such as Kurtosis) lay them out.
//!
//! This is the one place where core reads files. [`NetworkDir::load`] reads:
//!
//! - `config.yaml`, parsed by [`ConsensusConfig::from_yaml`];
//! - `genesis.ssz` when present (the genesis `BeaconState`, of which only the genesis time and
//!   the genesis validators root are read, [`genesis_from_beacon_state`]), else
//!   `genesis_validators_root.txt` ([`parse_genesis_validators_root`]);
//! - the first of [`BOOTNODE_FILES`] present: `bootstrap_nodes.txt` (one ENR a line) or
//!   `boot_enr.yaml` (a YAML list, `- "enr:…"`), `#` comments and blank lines skipped, at
//!   most [`MAX_BOOTNODE_FILE`] bytes.
//!
//! The genesis time comes from `genesis.ssz`, else from the caller (a `--genesis-time` flag),
//! else from the config (`MIN_GENESIS_TIME + GENESIS_DELAY`, which is wrong for a network
//! that started later); [`NetworkDir::genesis_time_source`] says which, so a program can warn.
//!
//! Every error names the file it is about. Its `Display` does not repeat its source's text:
//! print the error followed by its [`source`](std::error::Error::source) chain, joined with
//! `": "`.
//!
//! ```
//! use valtrack_core::network::dir::{parse_bootnodes, BootnodeError};
//!
//! let enrs = parse_bootnodes(&valtrack_core::MAINNET_BOOTNODES[..2])?;
//! assert_eq!(enrs.len(), 2);
//! let err = parse_bootnodes(&["enr:-not-a-record"]).unwrap_err();
//! assert_eq!(err.index, 1);
//! assert!(err.to_string().starts_with("bootnode #1 (enr:-not-a-record…) is not a valid ENR"));
//! # Ok::<(), BootnodeError>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use super::{
    genesis_from_beacon_state, parse_genesis_validators_root, ConfigError, ConsensusConfig, Network,
};
use crate::enr_info::{parse_enr, Enr, EnrError};

/// The files a network directory lists its bootnodes in, as the eth-clients network
/// repositories name them; the first one present is read.
pub const BOOTNODE_FILES: [&str; 2] = ["bootstrap_nodes.txt", "boot_enr.yaml"];

/// Largest bootnode file read, in bytes (real ones are a few kB).
pub const MAX_BOOTNODE_FILE: u64 = 1 << 20;

/// Where a network directory's genesis time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GenesisTimeSource {
    /// The directory's `genesis.ssz` (a genesis time given as well agreed with it).
    GenesisSsz,
    /// The caller's `genesis_time`, as the directory has no `genesis.ssz`.
    Given,
    /// The config's `MIN_GENESIS_TIME + GENESIS_DELAY`, for want of anything better: slot
    /// timing is wrong if the network started later.
    Config,
}

/// A network directory, loaded: the [`Network`] its config and genesis data describe, and
/// its bootnodes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NetworkDir {
    /// The network.
    pub network: Network,
    /// Where its genesis time came from.
    pub genesis_time_source: GenesisTimeSource,
    /// The bootnode ENRs listed in the directory; `None` when it has none of
    /// [`BOOTNODE_FILES`].
    pub bootnodes: Option<Vec<Enr>>,
    /// The bootnode file read, if any.
    pub bootnodes_file: Option<PathBuf>,
}

impl NetworkDir {
    /// Loads the network directory `dir`, whose genesis time comes from its `genesis.ssz`,
    /// else from `genesis_time`, else from its config.
    ///
    /// Fails when `dir` is not a directory, a file cannot be read or is invalid, `genesis_time`
    /// disagrees with `genesis.ssz`, or a bootnode file is too large, lists an invalid ENR or
    /// lists none.
    pub fn load(dir: &Path, genesis_time: Option<Duration>) -> Result<Self, NetworkDirError> {
        let (network, genesis_time_source) = Self::network(dir, genesis_time)?;
        let (bootnodes, bootnodes_file) = match Self::bootnodes(dir)? {
            Some((enrs, path)) => (Some(enrs), Some(path)),
            None => (None, None),
        };
        Ok(Self {
            network,
            genesis_time_source,
            bootnodes,
            bootnodes_file,
        })
    }

    /// The network of the directory `dir` alone, as [`load`](Self::load) reads it, with where
    /// its genesis time came from; the bootnode files are not read (for a caller that has
    /// bootnodes of its own).
    pub fn network(
        dir: &Path,
        genesis_time: Option<Duration>,
    ) -> Result<(Network, GenesisTimeSource), NetworkDirError> {
        if !dir.is_dir() {
            return Err(NetworkDirError::NotADirectory {
                dir: dir.to_path_buf(),
            });
        }
        let config_path = dir.join("config.yaml");
        let config =
            ConsensusConfig::from_yaml(&read_to_string(&config_path)?).map_err(|source| {
                NetworkDirError::Config {
                    path: config_path.clone(),
                    source,
                }
            })?;

        let genesis = dir.join("genesis.ssz");
        let (root, file_time) = if genesis.is_file() {
            let bytes = std::fs::read(&genesis).map_err(|source| NetworkDirError::Read {
                path: genesis.clone(),
                source,
            })?;
            let (time, root) = genesis_from_beacon_state(&bytes).map_err(|source| {
                NetworkDirError::GenesisState {
                    path: genesis.clone(),
                    source,
                }
            })?;
            (root, Some(time))
        } else {
            let path = dir.join("genesis_validators_root.txt");
            let root = parse_genesis_validators_root(&read_to_string(&path)?)
                .map_err(|source| NetworkDirError::GenesisValidatorsRoot { path, source })?;
            (root, None)
        };

        let (time, genesis_time_source) = match (file_time, genesis_time) {
            (Some(file), Some(given)) if file != given => {
                return Err(NetworkDirError::GenesisTimeMismatch {
                    given,
                    file,
                    path: genesis,
                })
            }
            (Some(file), _) => (Some(file), GenesisTimeSource::GenesisSsz),
            (None, Some(given)) => (Some(given), GenesisTimeSource::Given),
            (None, None) => (None, GenesisTimeSource::Config),
        };
        let mut builder = Network::builder(config, root);
        if let Some(time) = time {
            builder = builder.genesis_time(time);
        }
        let network = builder.build().map_err(|source| NetworkDirError::Config {
            path: config_path,
            source,
        })?;

        Ok((network, genesis_time_source))
    }

    /// The bootnodes a network directory lists: the ENRs of the first of [`BOOTNODE_FILES`]
    /// in `dir`, and that file's path; `None` when it has none of them.
    pub fn bootnodes(dir: &Path) -> Result<Option<(Vec<Enr>, PathBuf)>, NetworkDirError> {
        let Some(path) = BOOTNODE_FILES
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
        else {
            return Ok(None);
        };
        let enrs = read_bootnode_file(&path)?;
        Ok(Some((enrs, path)))
    }
}

fn read_to_string(path: &Path) -> Result<String, NetworkDirError> {
    std::fs::read_to_string(path).map_err(|source| NetworkDirError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The ENRs a bootnode file lists (`#` comments and blank lines skipped; YAML list items or
/// plain lines), at least one.
fn read_bootnode_file(path: &Path) -> Result<Vec<Enr>, NetworkDirError> {
    let path = path.to_path_buf();
    let io_err = |source: io::Error| NetworkDirError::Read {
        path: path.clone(),
        source,
    };
    let len = std::fs::metadata(&path).map_err(io_err)?.len();
    if len > MAX_BOOTNODE_FILE {
        return Err(NetworkDirError::BootnodeFileTooLarge {
            path,
            len,
            max: MAX_BOOTNODE_FILE,
        });
    }
    let text = std::fs::read_to_string(&path).map_err(io_err)?;
    parse_bootnode_text(&text).map_err(|e| match e {
        BootnodeTextError::BadLine { line, source } => NetworkDirError::BadBootnode {
            path: path.clone(),
            line,
            source,
        },
        BootnodeTextError::Empty => NetworkDirError::NoBootnodes { path: path.clone() },
    })
}

/// Why a bootnode file's text gives no bootnodes.
#[doc(hidden)]
#[derive(Debug)]
pub enum BootnodeTextError {
    /// Line `line` (from 1) is not an ENR.
    BadLine {
        /// The line number.
        line: usize,
        /// Why.
        source: crate::EnrError,
    },
    /// No ENR at all.
    Empty,
}

/// The ENRs of a bootnode file's text (`#` comments and blank lines skipped; YAML list items
/// or plain lines), at least one.
#[doc(hidden)]
pub fn parse_bootnode_text(text: &str) -> Result<Vec<Enr>, BootnodeTextError> {
    let mut enrs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // `- "enr:…" # comment` (YAML) or `enr:…` (text)
        let line = line.split('#').next().unwrap_or_default().trim();
        let entry = line
            .strip_prefix('-')
            .unwrap_or(line)
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        if entry.is_empty() {
            continue;
        }
        let enr = parse_enr(entry).map_err(|source| BootnodeTextError::BadLine {
            line: i + 1,
            source,
        })?;
        enrs.push(enr);
    }
    if enrs.is_empty() {
        return Err(BootnodeTextError::Empty);
    }
    Ok(enrs)
}

/// Parses bootnode ENRs (a `--bootnodes` list, say), skipping blank entries; an invalid one
/// is an error naming it.
pub fn parse_bootnodes<S: AsRef<str>>(list: &[S]) -> Result<Vec<Enr>, BootnodeError> {
    list.iter()
        .map(AsRef::as_ref)
        .filter(|s| !s.trim().is_empty())
        .enumerate()
        .map(|(i, s)| {
            parse_enr(s).map_err(|source| BootnodeError {
                index: i + 1,
                shown: s.chars().take(24).collect(),
                source,
            })
        })
        .collect()
}

/// A bootnode given as text that is not a valid ENR.
#[derive(Debug, Error)]
#[error("bootnode #{index} ({shown}…) is not a valid ENR")]
pub struct BootnodeError {
    /// Its position among the non-blank entries, from 1.
    pub index: usize,
    /// Its first 24 characters.
    pub shown: String,
    /// Why it is not an ENR.
    #[source]
    pub source: EnrError,
}

/// A network directory that cannot be loaded.
///
/// `Display` names the file; the source (when there is one) says what is wrong with it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetworkDirError {
    /// The path is not a directory.
    #[error("{}: not a directory", dir.display())]
    NotADirectory {
        /// The path given.
        dir: PathBuf,
    },
    /// A file could not be read.
    #[error("{}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `config.yaml` is invalid, or does not make a network (no genesis time, say).
    #[error("{}", path.display())]
    Config {
        /// The `config.yaml`.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ConfigError,
    },
    /// `genesis.ssz` is not a `BeaconState`.
    #[error("{}", path.display())]
    GenesisState {
        /// The `genesis.ssz`.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ConfigError,
    },
    /// `genesis_validators_root.txt` does not hold a root.
    #[error("{}", path.display())]
    GenesisValidatorsRoot {
        /// The `genesis_validators_root.txt`.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ConfigError,
    },
    /// The genesis time given disagrees with `genesis.ssz`.
    #[error(
        "--genesis-time {} disagrees with {} (genesis time {})",
        given.as_secs(),
        path.display(),
        file.as_secs()
    )]
    GenesisTimeMismatch {
        /// The genesis time given.
        given: Duration,
        /// The genesis time in `genesis.ssz`.
        file: Duration,
        /// The `genesis.ssz`.
        path: PathBuf,
    },
    /// A bootnode file is larger than [`MAX_BOOTNODE_FILE`].
    #[error("{}: {len} bytes, larger than a bootnode list can be ({max})", path.display())]
    BootnodeFileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
        /// [`MAX_BOOTNODE_FILE`].
        max: u64,
    },
    /// A line of a bootnode file is not a valid ENR.
    #[error("{} line {line}: not a valid ENR", path.display())]
    BadBootnode {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// Why it is not an ENR.
        #[source]
        source: EnrError,
    },
    /// A bootnode file lists no ENR.
    #[error("{}: no ENRs in it", path.display())]
    NoBootnodes {
        /// The file.
        path: PathBuf,
    },
}

impl NetworkDirError {
    /// The file or directory this error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::NotADirectory { dir: path }
            | Self::Read { path, .. }
            | Self::Config { path, .. }
            | Self::GenesisState { path, .. }
            | Self::GenesisValidatorsRoot { path, .. }
            | Self::GenesisTimeMismatch { path, .. }
            | Self::BootnodeFileTooLarge { path, .. }
            | Self::BadBootnode { path, .. }
            | Self::NoBootnodes { path } => path,
        }
    }
}

#[cfg(test)]
mod tests;
