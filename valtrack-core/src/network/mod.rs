//! Ethereum consensus networks: the fork schedule, fork digests (with the EIP-7892
//! Blob-Parameters-Only forks), the ENR `eth2` and `nfd` values and the slot clock.
//!
//! A [`Network`] comes from a consensus `config.yaml` ([`ConsensusConfig::from_yaml`]) plus
//! the genesis validators root, or from a built-in [`NetworkPreset`] (mainnet, Sepolia,
//! Holesky, Hoodi), whose embedded configs go through the same parser. The parsers take
//! contents, not paths; [`NetworkDir::load`] (module [`dir`], the only code in core that reads
//! files) loads a whole network directory: `config.yaml`, `genesis.ssz` or
//! `genesis_validators_root.txt` ([`genesis_from_beacon_state`],
//! [`parse_genesis_validators_root`]) and its bootnode list.
//!
//! Every method is total: any epoch or time, however far out, gives an answer or `None`,
//! never a panic or an overflow.

mod bootnodes;
mod config;
pub mod dir;
mod error;
mod fork;
mod presets;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use bootnodes::MAINNET_BOOTNODES;
pub use config::{
    genesis_from_beacon_state, parse_genesis_validators_root, ConsensusConfig, PresetBase,
};
pub use dir::{parse_bootnodes, BootnodeError, GenesisTimeSource, NetworkDir, NetworkDirError};
pub use error::ConfigError;
pub use fork::{
    compute_base_fork_digest, compute_fork_data_root, compute_fulu_fork_digest, BlobParameters,
    Fork, ForkName, ScheduledDigest,
};
pub use presets::NetworkPreset;

use crate::constants::FAR_FUTURE_EPOCH;
use crate::primitives::{Epoch, ForkDigest, Root, Slot, Version};
use crate::ssz::EnrForkId;

/// Name of a network whose config has no `CONFIG_NAME` and whose builder was given none.
pub const DEFAULT_NETWORK_NAME: &str = "custom";

/// An Ethereum consensus network: genesis, slot clock, fork schedule and blob schedule.
///
/// Build one with [`Network::from_config_yaml`], [`Network::builder`] or a preset
/// ([`Network::mainnet`] and friends). All digests of the schedule are computed once, at
/// build time.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use valtrack_core::{ConsensusConfig, ForkDigest, Network};
///
/// // Mainnet on 2026-01-07 01:01:11 UTC, when BPO2 activated.
/// let mainnet = Network::mainnet();
/// let epoch = mainnet.epoch_at(Duration::from_secs(1_767_747_671)).unwrap();
/// assert_eq!(epoch, 419_072);
/// assert_eq!(mainnet.fork_digest(epoch), "8c9f62fe".parse::<ForkDigest>()?);
/// assert_eq!(mainnet.enr_fork_id(epoch).next_fork_epoch, u64::MAX); // nothing scheduled
///
/// // A devnet: config.yaml contents plus the genesis validators root and genesis time.
/// let yaml = "PRESET_BASE: minimal\nGENESIS_FORK_VERSION: 0x00000001\n\
///             ALTAIR_FORK_VERSION: 0x01000001\nALTAIR_FORK_EPOCH: 0\nSECONDS_PER_SLOT: 6\n";
/// let devnet = Network::builder(ConsensusConfig::from_yaml(yaml)?, [0x42; 32])
///     .genesis_time(Duration::from_secs(1_700_000_000))
///     .build()?;
/// assert_eq!(devnet.epoch_duration(), Duration::from_secs(48));
/// assert_eq!(devnet.fork_version_at(0).to_string(), "01000001");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    name: String,
    genesis_validators_root: Root,
    genesis_time: Duration,
    slot_duration: Duration,
    slots_per_epoch: u64,
    /// Forks with a version, in fork order; the first is phase0 at epoch 0.
    forks: Vec<Fork>,
    /// Sorted by epoch.
    blob_schedule: Vec<BlobParameters>,
    /// `FULU_FORK_EPOCH` when Fulu is scheduled.
    fulu_epoch: Option<Epoch>,
    /// `(ELECTRA_FORK_EPOCH, MAX_BLOBS_PER_BLOCK_ELECTRA)`, the fallback blob parameters.
    electra_blob_parameters: Option<BlobParameters>,
    /// Every point where the digest changes, by epoch; the first is at epoch 0.
    digests: Vec<ScheduledDigest>,
}

/// Builds a [`Network`] from a parsed [`ConsensusConfig`]; see [`Network::builder`].
#[derive(Debug, Clone)]
pub struct NetworkBuilder {
    config: ConsensusConfig,
    genesis_validators_root: Root,
    genesis_time: Option<Duration>,
    name: Option<String>,
}

impl NetworkBuilder {
    /// Sets the genesis time (time since the unix epoch), as Lodestar `dev --genesisTime`
    /// or a `genesis.ssz` gives it.
    ///
    /// Default: `MIN_GENESIS_TIME + GENESIS_DELAY` seconds. That is the genesis time of
    /// networks whose genesis state was generated ahead of time from `MIN_GENESIS_TIME` (the
    /// Sepolia, Holesky and Hoodi testnets), but *not* of mainnet, which started from its
    /// deposit contract at 1606824023 (`MIN_GENESIS_TIME` + 23 s); the mainnet preset sets it
    /// here. When in doubt, read it from the genesis state.
    pub fn genesis_time(mut self, genesis_time: Duration) -> Self {
        self.genesis_time = Some(genesis_time);
        self
    }

    /// Sets the network's name. Default: `CONFIG_NAME`, else [`DEFAULT_NETWORK_NAME`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Builds the network and computes its digest schedule. Never panics.
    ///
    /// Fails with [`ConfigError::MissingKey`] when no genesis time was set and the config
    /// lacks `MIN_GENESIS_TIME` or `GENESIS_DELAY`.
    pub fn build(self) -> Result<Network, ConfigError> {
        let Self {
            config,
            genesis_validators_root,
            genesis_time,
            name,
        } = self;
        let genesis_time = match genesis_time {
            Some(time) => time,
            None => config_genesis_time(&config)?,
        };
        let name = name
            .or_else(|| config.config_name().map(str::to_owned))
            .unwrap_or_else(|| DEFAULT_NETWORK_NAME.to_owned());
        let forks = config.forks().to_vec();
        let fulu_epoch = forks
            .iter()
            .find(|f| f.name == ForkName::Fulu && f.is_scheduled())
            .map(|f| f.epoch);
        let electra_epoch = forks
            .iter()
            .find(|f| f.name == ForkName::Electra)
            .map_or(FAR_FUTURE_EPOCH, |f| f.epoch);
        let electra_blob_parameters =
            config
                .max_blobs_per_block_electra()
                .map(|max_blobs_per_block| BlobParameters {
                    epoch: electra_epoch,
                    max_blobs_per_block,
                });
        let mut network = Network {
            name,
            genesis_validators_root,
            genesis_time,
            slot_duration: config.slot_duration(),
            slots_per_epoch: config.slots_per_epoch(),
            forks,
            blob_schedule: config.blob_schedule().to_vec(),
            fulu_epoch,
            electra_blob_parameters,
            digests: Vec::new(),
        };
        network.digests = network.compute_digest_schedule();
        Ok(network)
    }
}

fn config_genesis_time(config: &ConsensusConfig) -> Result<Duration, ConfigError> {
    let missing = |key: &str| ConfigError::MissingKey {
        key: key.to_owned(),
    };
    let min_genesis_time = config
        .min_genesis_time()
        .ok_or_else(|| missing("MIN_GENESIS_TIME"))?;
    let genesis_delay = config
        .genesis_delay()
        .ok_or_else(|| missing("GENESIS_DELAY"))?;
    let secs =
        min_genesis_time
            .checked_add(genesis_delay)
            .ok_or(ConfigError::GenesisTimeOverflow {
                min_genesis_time,
                genesis_delay,
            })?;
    Ok(Duration::from_secs(secs))
}

impl Network {
    /// Starts building a network from a parsed config and its genesis validators root.
    pub fn builder(config: ConsensusConfig, genesis_validators_root: Root) -> NetworkBuilder {
        NetworkBuilder {
            config,
            genesis_validators_root,
            genesis_time: None,
            name: None,
        }
    }

    /// Parses a consensus `config.yaml` and builds the network with the default genesis
    /// time (`MIN_GENESIS_TIME + GENESIS_DELAY`; see [`NetworkBuilder::genesis_time`]).
    pub fn from_config_yaml(
        yaml: &str,
        genesis_validators_root: Root,
    ) -> Result<Self, ConfigError> {
        Self::builder(ConsensusConfig::from_yaml(yaml)?, genesis_validators_root).build()
    }

    /// The network's name (`CONFIG_NAME` unless set otherwise).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The genesis validators root.
    pub fn genesis_validators_root(&self) -> &Root {
        &self.genesis_validators_root
    }

    /// Genesis, as time since the unix epoch.
    pub fn genesis_time(&self) -> Duration {
        self.genesis_time
    }

    /// The duration of a slot.
    pub fn slot_duration(&self) -> Duration {
        self.slot_duration
    }

    /// `SLOTS_PER_EPOCH` (32 with the mainnet preset, 8 with minimal).
    pub fn slots_per_epoch(&self) -> u64 {
        self.slots_per_epoch
    }

    /// The duration of an epoch.
    pub fn epoch_duration(&self) -> Duration {
        let slots = u32::try_from(self.slots_per_epoch).unwrap_or(u32::MAX);
        self.slot_duration.saturating_mul(slots)
    }

    /// The regular forks the config gives a version for, in fork order, scheduled or not.
    pub fn forks(&self) -> &[Fork] {
        &self.forks
    }

    /// The epoch of a regular fork, if it is scheduled.
    pub fn fork_epoch(&self, fork: ForkName) -> Option<Epoch> {
        self.forks
            .iter()
            .find(|f| f.name == fork && f.is_scheduled())
            .map(|f| f.epoch)
    }

    /// `BLOB_SCHEDULE`, sorted by epoch.
    pub fn blob_schedule(&self) -> &[BlobParameters] {
        &self.blob_schedule
    }

    /// The regular fork active at `epoch` (`compute_fork_version`'s choice). An unscheduled
    /// fork is never active, not even at `FAR_FUTURE_EPOCH` itself.
    pub fn fork_at(&self, epoch: Epoch) -> Fork {
        self.forks
            .iter()
            .rev()
            .find(|f| f.is_scheduled() && f.epoch <= epoch)
            .or_else(|| self.forks.first())
            .copied()
            .unwrap_or(Fork {
                name: ForkName::Phase0,
                version: Version::default(),
                epoch: 0,
            })
    }

    /// `compute_fork_version(epoch)`: the fork version active at `epoch`.
    pub fn fork_version_at(&self, epoch: Epoch) -> Version {
        self.fork_at(epoch).version
    }

    /// EIP-7892 `get_blob_parameters(epoch)`, for epochs from Fulu on (`None` before Fulu or
    /// when Fulu is unscheduled): the newest `BLOB_SCHEDULE` entry at or before `epoch`, else
    /// `(ELECTRA_FORK_EPOCH, MAX_BLOBS_PER_BLOCK_ELECTRA)`. Like an unscheduled fork, an entry
    /// at `FAR_FUTURE_EPOCH` never applies.
    pub fn blob_parameters_at(&self, epoch: Epoch) -> Option<BlobParameters> {
        if epoch < self.fulu_epoch? {
            return None;
        }
        self.blob_schedule
            .iter()
            .rev()
            .find(|bp| bp.epoch <= epoch && bp.epoch != FAR_FUTURE_EPOCH)
            .copied()
            .or(self.electra_blob_parameters)
    }

    /// `compute_fork_digest(genesis_validators_root, epoch)` as modified in Fulu: before
    /// Fulu the first four bytes of the fork data root; from Fulu on the fork data root XOR
    /// `sha256(u64le(bp.epoch) ‖ u64le(bp.max_blobs_per_block))`, first four bytes, with
    /// `bp` = [`blob_parameters_at(epoch)`](Self::blob_parameters_at).
    pub fn fork_digest(&self, epoch: Epoch) -> ForkDigest {
        match self.scheduled_digest_at(epoch) {
            Some(entry) => entry.digest,
            None => self.compute_fork_digest(epoch),
        }
    }

    /// The digest a bootnode advertises before genesis:
    /// `compute_fork_digest(GENESIS_FORK_VERSION, 0x00…00)` (`f5a5fd42` on mainnet). It uses
    /// `GENESIS_FORK_VERSION` even where later forks start at epoch 0.
    pub fn pre_genesis_digest(&self) -> ForkDigest {
        let genesis_version = self.forks.first().map(|f| f.version).unwrap_or_default();
        compute_base_fork_digest(genesis_version, &[0u8; 32])
    }

    /// Every point of the schedule where the digest changes, regular and BPO forks alike,
    /// past and scheduled, by epoch (the first at epoch 0). Regular forks that share an epoch
    /// give one entry; an entry that would not change the digest is left out.
    ///
    /// With these a crawler can tell a peer on an old fork, the current one or an announced
    /// future one from a peer of another network. The pre-genesis digest is not among them
    /// (see [`pre_genesis_digest`](Self::pre_genesis_digest)).
    pub fn all_digests(&self) -> &[ScheduledDigest] {
        &self.digests
    }

    /// The schedule entry whose digest is `digest`, if any (see [`all_digests`]).
    ///
    /// [`all_digests`]: Self::all_digests
    pub fn find_digest(&self, digest: ForkDigest) -> Option<&ScheduledDigest> {
        self.digests.iter().find(|d| d.digest == digest)
    }

    /// The schedule entry in force at `epoch`.
    pub fn scheduled_digest_at(&self, epoch: Epoch) -> Option<&ScheduledDigest> {
        let after = self.digests.partition_point(|d| d.epoch <= epoch);
        after.checked_sub(1).and_then(|i| self.digests.get(i))
    }

    /// The next digest change after `epoch`: the next regular or BPO fork.
    pub fn next_scheduled_digest(&self, epoch: Epoch) -> Option<&ScheduledDigest> {
        self.digests.iter().find(|d| d.epoch > epoch)
    }

    /// The `ENRForkID` (`eth2` ENR value) of a node whose wall clock is at `epoch`:
    /// - `fork_digest`: [`fork_digest(epoch)`](Self::fork_digest);
    /// - `next_fork_version`: the version of the next scheduled *regular* fork, or the
    ///   current version if none is scheduled (BPO forks never change it);
    /// - `next_fork_epoch`: the epoch of the next regular *or BPO* fork, or
    ///   `FAR_FUTURE_EPOCH`.
    pub fn enr_fork_id(&self, epoch: Epoch) -> EnrForkId {
        let next_regular = self
            .forks
            .iter()
            .find(|f| f.is_scheduled() && f.epoch > epoch)
            .map(|f| f.epoch);
        let next_fork_version = match next_regular {
            Some(next) => self.fork_version_at(next),
            None => self.fork_version_at(epoch),
        };
        EnrForkId {
            fork_digest: self.fork_digest(epoch).0,
            next_fork_version: next_fork_version.0,
            next_fork_epoch: self
                .next_scheduled_digest(epoch)
                .map_or(FAR_FUTURE_EPOCH, |d| d.epoch),
        }
    }

    /// The ENR `nfd` value at `epoch`: the digest of the next scheduled fork, regular or BPO,
    /// or `00000000` if none is scheduled.
    pub fn next_fork_digest(&self, epoch: Epoch) -> ForkDigest {
        self.next_scheduled_digest(epoch)
            .map_or(ForkDigest([0; 4]), |d| d.digest)
    }

    /// The slot at `unix_time` (time since the unix epoch), or `None` before genesis.
    /// Saturates at `u64::MAX` for times beyond any real slot.
    pub fn slot_at(&self, unix_time: Duration) -> Option<Slot> {
        let since_genesis = unix_time.checked_sub(self.genesis_time)?;
        let slot = since_genesis
            .as_nanos()
            .checked_div(self.slot_duration.as_nanos())?;
        Some(u64::try_from(slot).unwrap_or(u64::MAX))
    }

    /// The epoch at `unix_time` (time since the unix epoch), or `None` before genesis.
    pub fn epoch_at(&self, unix_time: Duration) -> Option<Epoch> {
        self.slot_at(unix_time)?.checked_div(self.slots_per_epoch)
    }

    /// The wall-clock slot at `now`, or `None` before genesis (callers that want the spec's
    /// `GENESIS_SLOT` there use `.unwrap_or(0)`).
    pub fn current_slot(&self, now: SystemTime) -> Option<Slot> {
        self.slot_at(now.duration_since(UNIX_EPOCH).ok()?)
    }

    /// The wall-clock epoch at `now`, or `None` before genesis (callers that want epoch 0
    /// there use `.unwrap_or(0)`; a pre-genesis node advertises
    /// [`pre_genesis_digest`](Self::pre_genesis_digest)).
    pub fn current_epoch(&self, now: SystemTime) -> Option<Epoch> {
        self.epoch_at(now.duration_since(UNIX_EPOCH).ok()?)
    }

    /// When `slot` starts (time since the unix epoch), or `None` if that does not fit in a
    /// `Duration`.
    pub fn slot_start(&self, slot: Slot) -> Option<Duration> {
        let nanos = self
            .slot_duration
            .as_nanos()
            .checked_mul(u128::from(slot))?;
        self.genesis_time.checked_add(duration_from_nanos(nanos)?)
    }

    /// When `epoch` starts (time since the unix epoch), or `None` if that does not fit in a
    /// `Duration`.
    pub fn epoch_start(&self, epoch: Epoch) -> Option<Duration> {
        self.slot_start(epoch.checked_mul(self.slots_per_epoch)?)
    }

    /// `compute_fork_digest` from first principles (the schedule caches its results).
    fn compute_fork_digest(&self, epoch: Epoch) -> ForkDigest {
        let version = self.fork_version_at(epoch);
        match self.blob_parameters_at(epoch) {
            Some(bp) => compute_fulu_fork_digest(version, &self.genesis_validators_root, &bp),
            None => compute_base_fork_digest(version, &self.genesis_validators_root),
        }
    }

    fn compute_digest_schedule(&self) -> Vec<ScheduledDigest> {
        let mut epochs: Vec<Epoch> = vec![0];
        epochs.extend(
            self.forks
                .iter()
                .filter(|f| f.is_scheduled())
                .map(|f| f.epoch),
        );
        if let Some(fulu) = self.fulu_epoch {
            epochs.extend(
                self.blob_schedule
                    .iter()
                    .map(|bp| bp.epoch)
                    .filter(|&e| e >= fulu && e != FAR_FUTURE_EPOCH),
            );
        }
        epochs.sort_unstable();
        epochs.dedup();

        let mut out: Vec<ScheduledDigest> = Vec::with_capacity(epochs.len());
        for epoch in epochs {
            let digest = self.compute_fork_digest(epoch);
            if out.last().is_some_and(|last| last.digest == digest) {
                continue;
            }
            let fork = self.fork_at(epoch);
            out.push(ScheduledDigest {
                epoch,
                digest,
                fork: fork.name,
                version: fork.version,
                blob_parameters: self.blob_parameters_at(epoch),
                regular: epoch == 0 || fork.epoch == epoch,
            });
        }
        out
    }
}

fn duration_from_nanos(nanos: u128) -> Option<Duration> {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).ok()?;
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).ok()?;
    Some(Duration::new(secs, subsec))
}
