//! [`ConfigError`]: why a consensus network configuration cannot be used.

use thiserror::Error;

use super::ForkName;
use crate::primitives::{Epoch, ParseHexError};

/// A consensus network configuration (`config.yaml`, genesis data) that cannot be used.
///
/// Every variant that is about one config key names it; [`ConfigError::key`] returns it.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The text is not YAML, or not a mapping of keys to values, or a key we read holds a
    /// sequence or mapping where a scalar belongs.
    #[error("config is not a YAML mapping of consensus config keys")]
    Yaml {
        /// What the YAML parser said (with line and column).
        #[source]
        source: serde_norway::Error,
    },
    /// A key appears twice at the top level.
    #[error("config key {key} appears more than once")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A key without a safe default is missing.
    #[error("config key {key} is missing")]
    MissingKey {
        /// The missing key (`BLOB_SCHEDULE[i].EPOCH` for a blob schedule entry).
        key: String,
    },
    /// A value is not of the expected form or out of range.
    #[error("config key {key} = {value:?}: expected {expected}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What the key must hold.
        expected: &'static str,
    },
    /// A fork version is not 4 bytes of hex.
    #[error("config key {key} = {value:?} is not a 4-byte hex fork version")]
    InvalidVersion {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// Why the hex did not parse.
        #[source]
        source: ParseHexError,
    },
    /// `PRESET_BASE` names a preset whose `SLOTS_PER_EPOCH` we do not know.
    #[error("PRESET_BASE = {value:?}: only 'mainnet' and 'minimal' are known")]
    UnknownPresetBase {
        /// The value as written.
        value: String,
    },
    /// `SECONDS_PER_SLOT` and `SLOT_DURATION_MS` are both given and disagree.
    #[error("SECONDS_PER_SLOT = {seconds_per_slot} disagrees with SLOT_DURATION_MS = {slot_duration_ms}")]
    SlotDurationMismatch {
        /// `SECONDS_PER_SLOT`.
        seconds_per_slot: u64,
        /// `SLOT_DURATION_MS`.
        slot_duration_ms: u64,
    },
    /// A fork is scheduled before an earlier fork (missing forks count as unscheduled).
    #[error("{fork} fork epoch {epoch} comes before {previous} fork epoch {previous_epoch}")]
    ForkOrder {
        /// The fork scheduled too early.
        fork: ForkName,
        /// Its epoch.
        epoch: Epoch,
        /// The earlier fork in the canonical order.
        previous: ForkName,
        /// That fork's epoch (`FAR_FUTURE_EPOCH` when unscheduled or missing).
        previous_epoch: Epoch,
    },
    /// A `*_FORK_EPOCH` key schedules a fork this crate does not know, so its digests cannot
    /// be computed.
    #[error("config key {key} schedules an unknown fork at epoch {epoch}")]
    UnknownScheduledFork {
        /// The key (`EIP7805_FORK_EPOCH`, say).
        key: String,
        /// The scheduled epoch.
        epoch: Epoch,
    },
    /// Two `BLOB_SCHEDULE` entries share an epoch.
    #[error("BLOB_SCHEDULE has more than one entry for epoch {epoch}")]
    DuplicateBlobScheduleEpoch {
        /// The repeated epoch.
        epoch: Epoch,
    },
    /// `MIN_GENESIS_TIME + GENESIS_DELAY` does not fit in a `u64`.
    #[error("MIN_GENESIS_TIME = {min_genesis_time} + GENESIS_DELAY = {genesis_delay} overflows")]
    GenesisTimeOverflow {
        /// `MIN_GENESIS_TIME`.
        min_genesis_time: u64,
        /// `GENESIS_DELAY`.
        genesis_delay: u64,
    },
    /// A genesis validators root (e.g. `genesis_validators_root.txt`) is not 32 bytes of hex.
    #[error("genesis validators root {value:?} is not 32 bytes of hex")]
    InvalidGenesisValidatorsRoot {
        /// The text as given.
        value: String,
        /// Why the hex did not parse.
        #[source]
        source: ParseHexError,
    },
    /// SSZ bytes too short to hold a `BeaconState`'s `genesis_time` and
    /// `genesis_validators_root` (40 bytes).
    #[error("beacon state SSZ is {len} bytes, shorter than the 40 bytes of its genesis fields")]
    BeaconStateTooShort {
        /// Length given.
        len: usize,
    },
    /// A network name that is not one of the built-in presets.
    #[error("unknown network {name:?}: expected mainnet, sepolia, holesky or hoodi")]
    UnknownNetwork {
        /// The name given.
        name: String,
    },
}

impl ConfigError {
    /// The config key this error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::DuplicateKey { key }
            | Self::MissingKey { key }
            | Self::InvalidValue { key, .. }
            | Self::InvalidVersion { key, .. }
            | Self::UnknownScheduledFork { key, .. } => Some(key),
            Self::UnknownPresetBase { .. } => Some("PRESET_BASE"),
            Self::SlotDurationMismatch { .. } => Some("SLOT_DURATION_MS"),
            Self::ForkOrder { fork, .. } => fork.epoch_key(),
            Self::DuplicateBlobScheduleEpoch { .. } => Some("BLOB_SCHEDULE"),
            Self::GenesisTimeOverflow { .. } => Some("GENESIS_DELAY"),
            Self::Yaml { .. }
            | Self::InvalidGenesisValidatorsRoot { .. }
            | Self::BeaconStateTooShort { .. }
            | Self::UnknownNetwork { .. } => None,
        }
    }
}
