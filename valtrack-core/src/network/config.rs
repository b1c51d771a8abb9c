//! Parsing a consensus-layer `config.yaml` into a checked [`ConsensusConfig`].
//!
//! Only the keys that fix a network's identity and clock are read: `PRESET_BASE`,
//! `CONFIG_NAME`, `MIN_GENESIS_TIME`, `GENESIS_DELAY`, `SECONDS_PER_SLOT` /
//! `SLOT_DURATION_MS`, every `*_FORK_VERSION` / `*_FORK_EPOCH`, `BLOB_SCHEDULE` and
//! `MAX_BLOBS_PER_BLOCK_ELECTRA`. Everything else is skipped without being interpreted, so
//! values this crate has no type for (a 256-bit `TERMINAL_TOTAL_DIFFICULTY`, say) do no harm.
//!
//! Scalars are read as the text written in the file, then parsed: integers may be bare or
//! quoted decimal (`12`, `'12'`), fork versions are hex with or without `0x`
//! (`0x90000069`, `'0x90000069'`). Reading the text rather than YAML's resolved value keeps a
//! version such as `10000910` from being taken for a decimal number.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::fork::{BlobParameters, Fork, ForkName};
use super::ConfigError;
use crate::constants::FAR_FUTURE_EPOCH;
use crate::primitives::{Root, Version};

/// A consensus preset (`PRESET_BASE`), which fixes `SLOTS_PER_EPOCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PresetBase {
    /// The mainnet preset: 32 slots per epoch.
    Mainnet,
    /// The minimal preset (devnets, Lodestar `dev`): 8 slots per epoch.
    Minimal,
}

impl PresetBase {
    /// `SLOTS_PER_EPOCH` of this preset.
    pub const fn slots_per_epoch(self) -> u64 {
        match self {
            Self::Mainnet => 32,
            Self::Minimal => 8,
        }
    }

    /// The name as written in `PRESET_BASE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mainnet => "mainnet",
            Self::Minimal => "minimal",
        }
    }
}

/// The parts of a consensus `config.yaml` that define a network, parsed and checked.
///
/// Built only by [`ConsensusConfig::from_yaml`], so every value is consistent: fork epochs
/// never decrease along the fork order, every scheduled fork has a version, and the blob
/// parameters every post-Fulu epoch needs are present. Combine it with the genesis validators
/// root (and, optionally, an explicit genesis time) in [`Network::builder`] to get a
/// [`Network`].
///
/// Missing keys: an absent `*_FORK_EPOCH` means the fork is unscheduled (`FAR_FUTURE_EPOCH`,
/// the spec's value for forks not yet planned); `BLOB_SCHEDULE` may be absent only while Fulu
/// is unscheduled. Every other key this type reads has no safe default and its absence is a
/// [`ConfigError::MissingKey`] (`MIN_GENESIS_TIME` / `GENESIS_DELAY` only once the network is
/// built without an explicit genesis time).
///
/// [`Network`]: super::Network
/// [`Network::builder`]: super::Network::builder
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusConfig {
    config_name: Option<String>,
    preset_base: PresetBase,
    slot_duration: Duration,
    min_genesis_time: Option<u64>,
    genesis_delay: Option<u64>,
    forks: Vec<Fork>,
    blob_schedule: Vec<BlobParameters>,
    max_blobs_per_block_electra: Option<u64>,
}

impl ConsensusConfig {
    /// Parses and checks the text of a consensus `config.yaml`.
    ///
    /// This takes the file's contents ([`NetworkDir::load`](super::NetworkDir::load) reads a
    /// whole network directory). Errors name the offending key; nothing here panics, whatever
    /// the input.
    pub fn from_yaml(yaml: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig =
            serde_norway::from_str(yaml).map_err(|source| ConfigError::Yaml { source })?;
        if let Some(key) = raw.duplicate {
            return Err(ConfigError::DuplicateKey { key });
        }
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let preset_text = raw.required("PRESET_BASE")?;
        let preset_base = match preset_text {
            "mainnet" => PresetBase::Mainnet,
            "minimal" => PresetBase::Minimal,
            other => {
                return Err(ConfigError::UnknownPresetBase {
                    value: other.to_owned(),
                })
            }
        };
        let config_name = raw.scalar("CONFIG_NAME").map(str::to_owned);
        let slot_duration = slot_duration(&raw)?;
        let min_genesis_time = raw.u64_opt("MIN_GENESIS_TIME")?;
        let genesis_delay = raw.u64_opt("GENESIS_DELAY")?;
        let forks = forks(&raw)?;
        check_unknown_forks(&raw)?;

        let fulu_epoch = forks
            .iter()
            .find(|f| f.name == ForkName::Fulu && f.is_scheduled())
            .map(|f| f.epoch);
        let blob_schedule = match &raw.blob_schedule {
            Some(entries) => blob_schedule(entries)?,
            None if fulu_epoch.is_some() => return Err(missing("BLOB_SCHEDULE")),
            None => Vec::new(),
        };
        let max_blobs_per_block_electra = raw.u64_opt("MAX_BLOBS_PER_BLOCK_ELECTRA")?;
        if let Some(fulu) = fulu_epoch {
            // `get_blob_parameters` falls back to (ELECTRA_FORK_EPOCH,
            // MAX_BLOBS_PER_BLOCK_ELECTRA) for Fulu epochs before the first entry.
            let covered = blob_schedule.first().is_some_and(|bp| bp.epoch <= fulu);
            if !covered && max_blobs_per_block_electra.is_none() {
                return Err(missing("MAX_BLOBS_PER_BLOCK_ELECTRA"));
            }
        }

        Ok(Self {
            config_name,
            preset_base,
            slot_duration,
            min_genesis_time,
            genesis_delay,
            forks,
            blob_schedule,
            max_blobs_per_block_electra,
        })
    }

    /// `CONFIG_NAME`, if given.
    pub fn config_name(&self) -> Option<&str> {
        self.config_name.as_deref()
    }

    /// `PRESET_BASE`.
    pub fn preset_base(&self) -> PresetBase {
        self.preset_base
    }

    /// `SLOTS_PER_EPOCH`, from the preset.
    pub fn slots_per_epoch(&self) -> u64 {
        self.preset_base.slots_per_epoch()
    }

    /// The slot duration (`SLOT_DURATION_MS`, or `SECONDS_PER_SLOT` in older configs).
    pub fn slot_duration(&self) -> Duration {
        self.slot_duration
    }

    /// `MIN_GENESIS_TIME` (unix seconds), if given.
    pub fn min_genesis_time(&self) -> Option<u64> {
        self.min_genesis_time
    }

    /// `GENESIS_DELAY` (seconds), if given.
    pub fn genesis_delay(&self) -> Option<u64> {
        self.genesis_delay
    }

    /// The forks the config gives a version for, in fork order (phase0 first), scheduled or
    /// not.
    pub fn forks(&self) -> &[Fork] {
        &self.forks
    }

    /// `BLOB_SCHEDULE`, sorted by epoch.
    pub fn blob_schedule(&self) -> &[BlobParameters] {
        &self.blob_schedule
    }

    /// `MAX_BLOBS_PER_BLOCK_ELECTRA`, if given.
    pub fn max_blobs_per_block_electra(&self) -> Option<u64> {
        self.max_blobs_per_block_electra
    }
}

/// Parses a genesis validators root as found in `genesis_validators_root.txt`: 32 bytes of
/// hex, with or without `0x`, surrounding whitespace ignored.
pub fn parse_genesis_validators_root(text: &str) -> Result<Root, ConfigError> {
    let trimmed = text.trim();
    crate::primitives::parse_hex_array::<32>(trimmed).map_err(|source| {
        ConfigError::InvalidGenesisValidatorsRoot {
            value: trimmed.to_owned(),
            source,
        }
    })
}

/// Reads `genesis_time` and `genesis_validators_root` from the SSZ bytes of a `BeaconState`
/// (a `genesis.ssz`): they are its first two fields in every fork, at bytes 0..8 (u64 LE)
/// and 8..40.
pub fn genesis_from_beacon_state(ssz: &[u8]) -> Result<(Duration, Root), ConfigError> {
    let (Some(time), Some(root)) = (ssz.get(0..8), ssz.get(8..40)) else {
        return Err(ConfigError::BeaconStateTooShort { len: ssz.len() });
    };
    let mut time_bytes = [0u8; 8];
    time_bytes.copy_from_slice(time);
    let mut gvr = [0u8; 32];
    gvr.copy_from_slice(root);
    Ok((Duration::from_secs(u64::from_le_bytes(time_bytes)), gvr))
}

fn missing(key: &str) -> ConfigError {
    ConfigError::MissingKey {
        key: key.to_owned(),
    }
}

fn parse_u64(key: &str, text: &str) -> Result<u64, ConfigError> {
    let invalid = |expected| ConfigError::InvalidValue {
        key: key.to_owned(),
        value: text.to_owned(),
        expected,
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("an unsigned decimal integer"));
    }
    text.parse()
        .map_err(|_| invalid("an unsigned integer below 2^64"))
}

fn parse_version(key: &str, text: &str) -> Result<Version, ConfigError> {
    text.parse().map_err(|source| ConfigError::InvalidVersion {
        key: key.to_owned(),
        value: text.to_owned(),
        source,
    })
}

fn slot_duration(raw: &RawConfig) -> Result<Duration, ConfigError> {
    let ms = raw.u64_opt("SLOT_DURATION_MS")?;
    let secs = raw.u64_opt("SECONDS_PER_SLOT")?;
    let ms = match (ms, secs) {
        (Some(ms), Some(secs)) => {
            if secs.checked_mul(1000) != Some(ms) {
                return Err(ConfigError::SlotDurationMismatch {
                    seconds_per_slot: secs,
                    slot_duration_ms: ms,
                });
            }
            ms
        }
        (Some(ms), None) => ms,
        (None, Some(secs)) => secs
            .checked_mul(1000)
            .ok_or_else(|| ConfigError::InvalidValue {
                key: "SECONDS_PER_SLOT".to_owned(),
                value: secs.to_string(),
                expected: "a slot duration below 2^64 milliseconds",
            })?,
        (None, None) => return Err(missing("SLOT_DURATION_MS")),
    };
    if ms == 0 {
        let key = if raw.scalar("SLOT_DURATION_MS").is_some() {
            "SLOT_DURATION_MS"
        } else {
            "SECONDS_PER_SLOT"
        };
        return Err(ConfigError::InvalidValue {
            key: key.to_owned(),
            value: "0".to_owned(),
            expected: "a slot duration above zero",
        });
    }
    Ok(Duration::from_millis(ms))
}

/// The known forks with their versions, checking that epochs never decrease along the fork
/// order (a missing fork counts as unscheduled).
fn forks(raw: &RawConfig) -> Result<Vec<Fork>, ConfigError> {
    let genesis = ForkName::Phase0.version_key();
    let mut forks = vec![Fork {
        name: ForkName::Phase0,
        version: parse_version(genesis, raw.required(genesis)?)?,
        epoch: 0,
    }];
    let (mut previous, mut previous_epoch) = (ForkName::Phase0, 0);
    for name in ForkName::ALL.into_iter().skip(1) {
        let epoch = match name.epoch_key() {
            Some(key) => raw.u64_opt(key)?.unwrap_or(FAR_FUTURE_EPOCH),
            None => FAR_FUTURE_EPOCH,
        };
        if epoch < previous_epoch {
            return Err(ConfigError::ForkOrder {
                fork: name,
                epoch,
                previous,
                previous_epoch,
            });
        }
        let version_key = name.version_key();
        match raw.scalar(version_key) {
            Some(text) => forks.push(Fork {
                name,
                version: parse_version(version_key, text)?,
                epoch,
            }),
            None if epoch != FAR_FUTURE_EPOCH => return Err(missing(version_key)),
            None => {}
        }
        (previous, previous_epoch) = (name, epoch);
    }
    Ok(forks)
}

/// Rejects `*_FORK_EPOCH` keys of forks we do not know when they are scheduled: their
/// digests would silently be wrong. Unscheduled ones (feature stubs such as
/// `EIP8321_FORK_EPOCH: 18446744073709551615`) are fine.
fn check_unknown_forks(raw: &RawConfig) -> Result<(), ConfigError> {
    let known: Vec<&str> = ForkName::ALL.iter().filter_map(|f| f.epoch_key()).collect();
    for (key, text) in &raw.scalars {
        if key.ends_with("_FORK_EPOCH") && !known.contains(&key.as_str()) {
            let epoch = parse_u64(key, text)?;
            if epoch != FAR_FUTURE_EPOCH {
                return Err(ConfigError::UnknownScheduledFork {
                    key: key.clone(),
                    epoch,
                });
            }
        }
    }
    Ok(())
}

fn blob_schedule(entries: &[RawBlobEntry]) -> Result<Vec<BlobParameters>, ConfigError> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let field = |name: &str| format!("BLOB_SCHEDULE[{i}].{name}");
        if let Some(name) = entry.duplicate {
            return Err(ConfigError::DuplicateKey { key: field(name) });
        }
        let epoch_key = field("EPOCH");
        let max_key = field("MAX_BLOBS_PER_BLOCK");
        let epoch = entry.epoch.as_deref().ok_or_else(|| missing(&epoch_key))?;
        let max = entry
            .max_blobs_per_block
            .as_deref()
            .ok_or_else(|| missing(&max_key))?;
        out.push(BlobParameters {
            epoch: parse_u64(&epoch_key, epoch)?,
            max_blobs_per_block: parse_u64(&max_key, max)?,
        });
    }
    out.sort_unstable();
    if let Some(pair) = out.windows(2).find(|w| w[0].epoch == w[1].epoch) {
        return Err(ConfigError::DuplicateBlobScheduleEpoch {
            epoch: pair[0].epoch,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Raw YAML: the scalars we read as text, BLOB_SCHEDULE, everything else skipped.

/// The top-level keys read as scalars besides the `*_FORK_VERSION` / `*_FORK_EPOCH` keys.
const SCALAR_KEYS: [&str; 7] = [
    "PRESET_BASE",
    "CONFIG_NAME",
    "MIN_GENESIS_TIME",
    "GENESIS_DELAY",
    "SECONDS_PER_SLOT",
    "SLOT_DURATION_MS",
    "MAX_BLOBS_PER_BLOCK_ELECTRA",
];

#[derive(Debug, Default)]
struct RawConfig {
    scalars: Vec<(String, String)>,
    blob_schedule: Option<Vec<RawBlobEntry>>,
    /// The first top-level key seen twice.
    duplicate: Option<String>,
}

impl RawConfig {
    fn scalar(&self, key: &str) -> Option<&str> {
        self.scalars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &str) -> Result<&str, ConfigError> {
        self.scalar(key).ok_or_else(|| missing(key))
    }

    fn u64_opt(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        self.scalar(key)
            .map(|text| parse_u64(key, text))
            .transpose()
    }
}

impl<'de> Deserialize<'de> for RawConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawConfigVisitor)
    }
}

struct RawConfigVisitor;

impl<'de> Visitor<'de> for RawConfigVisitor {
    type Value = RawConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of consensus config keys")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawConfig, A::Error> {
        let mut out = RawConfig::default();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                out.duplicate.get_or_insert_with(|| key.clone());
                map.next_value::<IgnoredAny>()?;
            } else if key == "BLOB_SCHEDULE" {
                let entries = map
                    .next_value::<RawBlobSchedule>()
                    .map_err(|e| de::Error::custom(format_args!("BLOB_SCHEDULE: {e}")))?;
                out.blob_schedule = Some(entries.0);
            } else if SCALAR_KEYS.contains(&key.as_str())
                || key.ends_with("_FORK_VERSION")
                || key.ends_with("_FORK_EPOCH")
            {
                let text = map
                    .next_value::<ScalarText>()
                    .map_err(|e| de::Error::custom(format_args!("{key}: {e}")))?;
                out.scalars.push((key, text.0));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// A YAML scalar as written (quotes removed), without YAML's type resolution.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_owned()))
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[derive(Debug, Default)]
struct RawBlobEntry {
    epoch: Option<String>,
    max_blobs_per_block: Option<String>,
    /// A field given twice in this entry.
    duplicate: Option<&'static str>,
}

struct RawBlobSchedule(Vec<RawBlobEntry>);

impl<'de> Deserialize<'de> for RawBlobSchedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawBlobSchedule;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of {EPOCH, MAX_BLOBS_PER_BLOCK} mappings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawBlobSchedule, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = seq.next_element::<RawBlobEntry>()? {
                    out.push(entry);
                }
                Ok(RawBlobSchedule(out))
            }
        }
        deserializer.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for RawBlobEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawBlobEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping with EPOCH and MAX_BLOBS_PER_BLOCK")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawBlobEntry, A::Error> {
                let mut out = RawBlobEntry::default();
                while let Some(key) = map.next_key::<String>()? {
                    let (slot, name) = match key.as_str() {
                        "EPOCH" => (&mut out.epoch, "EPOCH"),
                        "MAX_BLOBS_PER_BLOCK" => {
                            (&mut out.max_blobs_per_block, "MAX_BLOBS_PER_BLOCK")
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    let text = map
                        .next_value::<ScalarText>()
                        .map_err(|e| de::Error::custom(format_args!("{name}: {e}")))?;
                    if slot.replace(text.0).is_some() {
                        out.duplicate.get_or_insert(name);
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(V)
    }
}
