use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;
use crate::ssz::SszMessage;

const FAR: Epoch = FAR_FUTURE_EPOCH;
const LODESTAR_DEV: &str = include_str!("../../testdata/lodestar-dev-minimal.yaml");

fn d(hex: &str) -> ForkDigest {
    hex.parse().unwrap()
}

fn v(hex: &str) -> Version {
    hex.parse().unwrap()
}

/// Checks `(epoch, digest)` pairs, and that the epoch before each boundary still has the
/// previous digest.
fn assert_schedule(network: &Network, table: &[(Epoch, &str)]) {
    for (i, (epoch, digest)) in table.iter().enumerate() {
        assert_eq!(network.fork_digest(*epoch), d(digest), "epoch {epoch}");
        assert_eq!(
            network.compute_fork_digest(*epoch),
            d(digest),
            "epoch {epoch}"
        );
        if i > 0 {
            let (_, before) = table[i - 1];
            assert_eq!(
                network.fork_digest(epoch - 1),
                d(before),
                "epoch {}",
                epoch - 1
            );
        }
    }
    let listed: Vec<(Epoch, ForkDigest)> = network
        .all_digests()
        .iter()
        .map(|s| (s.epoch, s.digest))
        .collect();
    let expected: Vec<(Epoch, ForkDigest)> = table.iter().map(|(e, h)| (*e, d(h))).collect();
    assert_eq!(listed, expected);
}

// ---------------------------------------------------------------------------------------
// Mainnet: docs/eth-p2p-reference.md §2 and the eth-clients/mainnet README.

#[test]
fn mainnet_digest_table_matches_reference() {
    assert_schedule(
        &Network::mainnet(),
        &[
            (0, "b5303f2a"),
            (74240, "afcaaba0"),
            (144896, "4a26c58b"),
            (194048, "bba4da96"),
            (269568, "6a95a1a9"),
            (364032, "ad532ceb"),
            (411392, "cc2c5cdb"),
            (412672, "cb0d1acc"),
            (419072, "8c9f62fe"),
        ],
    );
}

#[test]
fn mainnet_fulu_digest_is_xored_not_plain() {
    let mainnet = Network::mainnet();
    let plain = compute_base_fork_digest(v("06000000"), mainnet.genesis_validators_root());
    assert_eq!(plain, d("82fae541"));
    assert_ne!(mainnet.fork_digest(411392), plain);
    assert!(mainnet.find_digest(plain).is_none());
    assert_eq!(
        mainnet.blob_parameters_at(411392),
        Some(BlobParameters {
            epoch: 364032,
            max_blobs_per_block: 9
        })
    );
    assert_eq!(mainnet.blob_parameters_at(411391), None);
}

#[test]
fn pre_genesis_bootnode_digest() {
    assert_eq!(
        compute_base_fork_digest(v("00000000"), &[0; 32]),
        d("f5a5fd42")
    );
    assert_eq!(Network::mainnet().pre_genesis_digest(), d("f5a5fd42"));
}

#[test]
fn mainnet_enr_fork_id_now_and_before() {
    let mainnet = Network::mainnet();
    let now = mainnet.enr_fork_id(419072);
    assert_eq!(
        hex::encode(now.to_ssz_bytes()),
        "8c9f62fe06000000ffffffffffffffff"
    );
    assert_eq!(mainnet.next_fork_digest(419072), d("00000000"));
    assert_eq!(mainnet.enr_fork_id(u64::MAX - 1), now);

    // Electra: the next fork is Fulu, a regular fork.
    let electra = mainnet.enr_fork_id(400_000);
    assert_eq!(electra.digest(), d("ad532ceb"));
    assert_eq!(electra.next_version(), v("06000000"));
    assert_eq!(electra.next_fork_epoch, 411392);
    assert_eq!(mainnet.next_fork_digest(400_000), d("cc2c5cdb"));

    // Fulu: only BPO forks ahead, so the version stays and the epoch is BPO1's.
    let fulu = mainnet.enr_fork_id(411392);
    assert_eq!(fulu.digest(), d("cc2c5cdb"));
    assert_eq!(fulu.next_version(), v("06000000"));
    assert_eq!(fulu.next_fork_epoch, 412672);
    assert_eq!(mainnet.next_fork_digest(411392), d("cb0d1acc"));

    // The last epoch before a boundary already announces it.
    assert_eq!(mainnet.enr_fork_id(412671).next_fork_epoch, 412672);
    assert_eq!(mainnet.enr_fork_id(412672).next_fork_epoch, 419072);
}

#[test]
fn mainnet_schedule_entries() {
    let mainnet = Network::mainnet();
    let all = mainnet.all_digests();
    assert_eq!(all.len(), 9);
    let bpo2 = mainnet.find_digest(d("8c9f62fe")).unwrap();
    assert_eq!(bpo2.epoch, 419072);
    assert_eq!(bpo2.fork, ForkName::Fulu);
    assert_eq!(bpo2.version, v("06000000"));
    assert!(!bpo2.regular);
    assert_eq!(
        bpo2.blob_parameters,
        Some(BlobParameters {
            epoch: 419072,
            max_blobs_per_block: 21
        })
    );
    let altair = mainnet.find_digest(d("afcaaba0")).unwrap();
    assert!(altair.regular);
    assert_eq!(altair.blob_parameters, None);
    assert_eq!(mainnet.fork_epoch(ForkName::Fulu), Some(411392));
    assert_eq!(mainnet.fork_epoch(ForkName::Gloas), None);
    assert_eq!(mainnet.fork_at(FAR).name, ForkName::Fulu);
    assert_eq!(mainnet.slots_per_epoch(), 32);
    assert_eq!(mainnet.slot_duration(), Duration::from_secs(12));
    assert_eq!(mainnet.epoch_duration(), Duration::from_secs(384));
}

#[test]
fn mainnet_clock() {
    let mainnet = Network::mainnet();
    let genesis = Duration::from_secs(1_606_824_023);
    assert_eq!(mainnet.genesis_time(), genesis);
    // 2026-01-07 01:01:11 UTC, BPO2.
    let bpo2 = Duration::from_secs(1_767_747_671);
    assert_eq!(mainnet.epoch_at(bpo2), Some(419072));
    assert_eq!(
        mainnet.epoch_at(bpo2 - Duration::from_millis(1)),
        Some(419071)
    );
    assert_eq!(mainnet.slot_at(bpo2), Some(419072 * 32));
    assert_eq!(mainnet.epoch_start(419072), Some(bpo2));
    assert_eq!(
        mainnet.slot_start(419072 * 32 + 1),
        Some(bpo2 + Duration::from_secs(12))
    );
    // 2025-12-03 21:49:11 UTC, Fulu.
    assert_eq!(
        mainnet.epoch_at(Duration::from_secs(1_764_798_551)),
        Some(411392)
    );
    // 2021-10-27 10:56:23 UTC, Altair.
    assert_eq!(
        mainnet.epoch_at(Duration::from_secs(1_635_332_183)),
        Some(74240)
    );

    assert_eq!(mainnet.current_epoch(UNIX_EPOCH + bpo2), Some(419072));
    assert_eq!(mainnet.current_epoch(UNIX_EPOCH + genesis), Some(0));
    assert_eq!(mainnet.current_slot(UNIX_EPOCH + genesis), Some(0));
    assert_eq!(
        mainnet.current_epoch(UNIX_EPOCH + genesis - Duration::from_nanos(1)),
        None
    );
    assert_eq!(
        mainnet.current_epoch(UNIX_EPOCH - Duration::from_secs(1)),
        None
    );
    let last = (Duration::MAX - genesis).as_secs() / 12;
    assert_eq!(mainnet.slot_at(Duration::MAX), Some(last));
    assert_eq!(mainnet.epoch_start(u64::MAX), None);
    // Whatever today is, it is after BPO2.
    assert!(mainnet.current_epoch(SystemTime::now()).unwrap() >= 419072);
}

#[test]
fn mainnet_genesis_root_matches_its_text_form() {
    assert_eq!(
        *Network::mainnet().genesis_validators_root(),
        parse_genesis_validators_root(
            "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95\n"
        )
        .unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// Testnets. Which value is checked against what is said next to it.

#[test]
fn sepolia_digests() {
    let sepolia = Network::sepolia();
    // eth-clients/sepolia README: "Fork Digest: 0xa8fee8ee (0xd3010778 pre-genesis fork
    // digest)", "Genesis Time: 1655733600".
    assert_eq!(sepolia.pre_genesis_digest(), d("d3010778"));
    assert_eq!(sepolia.genesis_time(), Duration::from_secs(1_655_733_600));
    assert_schedule(
        &sepolia,
        &[
            (0, "a8fee8ee"), // README
            // Not cross-checked: computed here only.
            (50, "60725ca1"),
            (100, "36fa5013"),
            // Capella, Deneb, Electra: the fork data roots' prefixes appear in independent
            // light-client sync-committee domains (`07000000 ‖ fork_data_root[..28]`), Deneb
            // also in Erigon Caplin topic comments (`/eth2/d31f6191/...`).
            (56832, "47eb72b3"),
            (132608, "d31f6191"),
            (222464, "14045b5a"),
            // Fulu, BPO1, BPO2, Gloas: only a third-party Go test found in the index agrees.
            (272640, "7e0d3447"),
            (274176, "fd32b622"),
            (275712, "74d01459"),
            (353024, "669e6c11"),
        ],
    );

    // Between Fulu and BPO1 the next regular fork is Gloas, while the next fork of any kind
    // is BPO1: the ENR must say Gloas's version and BPO1's epoch.
    let enr = sepolia.enr_fork_id(273000);
    assert_eq!(enr.digest(), d("7e0d3447"));
    assert_eq!(enr.next_version(), v("90000076"));
    assert_eq!(enr.next_fork_epoch, 274176);
    assert_eq!(sepolia.next_fork_digest(273000), d("fd32b622"));
    let enr = sepolia.enr_fork_id(300000);
    assert_eq!(enr.next_version(), v("90000076"));
    assert_eq!(enr.next_fork_epoch, 353024);
    assert_eq!(sepolia.next_fork_digest(300000), d("669e6c11"));
    // Gloas keeps BPO2's blob parameters.
    assert_eq!(
        sepolia.blob_parameters_at(353024).map(|bp| bp.epoch),
        Some(275712)
    );
}

#[test]
fn holesky_digests() {
    let holesky = Network::holesky();
    assert_eq!(holesky.genesis_time(), Duration::from_secs(1_695_902_400));
    assert_schedule(
        &holesky,
        &[
            // Genesis (Bellatrix at 0), Capella, Deneb, Electra: the prefixes appear in an
            // independent light client's Holesky sync-committee domains.
            (0, "69b7d974"),
            (256, "17e2dad3"),
            (29696, "69ae0e99"),
            (115968, "019e21ad"),
            // Fulu, BPO1, BPO2: not cross-checked, computed here only.
            (165120, "84e8fde5"),
            (166400, "c7022d55"),
            (167936, "32db3f09"),
        ],
    );
    // Altair and Bellatrix share epoch 0 with genesis: one entry, for Bellatrix.
    assert_eq!(holesky.all_digests()[0].fork, ForkName::Bellatrix);
    assert_eq!(holesky.fork_version_at(0), v("03017000"));
    assert_eq!(
        holesky.pre_genesis_digest(),
        compute_base_fork_digest(v("01017000"), &[0; 32])
    );
}

#[test]
fn hoodi_digests() {
    let hoodi = Network::hoodi();
    // eth-clients/hoodi README: launch 2025-03-17 12:10 UTC = 1742213400.
    assert_eq!(hoodi.genesis_time(), Duration::from_secs(1_742_213_400));
    assert_schedule(
        &hoodi,
        &[
            // Genesis (Deneb at 0): a third-party topic fixture (`/eth2/d2f1997f/...`).
            (0, "d2f1997f"),
            // Electra, Fulu (Electra blob parameters), BPO1, BPO2: a third-party document
            // citing its own test vectors gives the same four values.
            (2048, "82556a32"),
            (50688, "e2abcca4"),
            (52480, "ae9f70a0"),
            (54016, "c6ecb76c"),
        ],
    );
    assert_eq!(hoodi.all_digests()[0].fork, ForkName::Deneb);
    let enr = hoodi.enr_fork_id(60000);
    assert_eq!(enr.digest(), d("c6ecb76c"));
    assert_eq!(enr.next_version(), v("70000910"));
    assert_eq!(enr.next_fork_epoch, FAR);
}

// ---------------------------------------------------------------------------------------
// A Lodestar `dev` devnet (minimal preset, Altair at genesis).

/// Not Lodestar's root (unknown here): any root exercises the schedule logic.
const SOME_ROOT: Root = [0x11; 32];

#[test]
fn lodestar_dev_config() {
    let config = ConsensusConfig::from_yaml(LODESTAR_DEV).unwrap();
    assert_eq!(config.preset_base(), PresetBase::Minimal);
    assert_eq!(config.slots_per_epoch(), 8);
    assert_eq!(config.slot_duration(), Duration::from_secs(6));
    assert_eq!(config.config_name(), Some("minimal"));
    assert_eq!(config.min_genesis_time(), Some(1_578_009_600));
    assert_eq!(config.genesis_delay(), Some(300));
    assert_eq!(config.forks().len(), 6);
    assert_eq!(config.forks()[1].version, v("01000001"));
    assert!(config.blob_schedule().is_empty());

    // `--genesisTime T`
    let genesis = Duration::from_secs(1_700_000_000);
    let dev = Network::builder(config, SOME_ROOT)
        .genesis_time(genesis)
        .name("lodestar-dev")
        .build()
        .unwrap();
    assert_eq!(dev.name(), "lodestar-dev");
    assert_eq!(dev.epoch_duration(), Duration::from_secs(48));
    assert_eq!(dev.epoch_at(genesis + Duration::from_secs(47)), Some(0));
    assert_eq!(dev.epoch_at(genesis + Duration::from_secs(48)), Some(1));
    assert_eq!(dev.slot_at(genesis + Duration::from_secs(62 * 6)), Some(62));
    assert_eq!(dev.fork_at(0).name, ForkName::Altair);
    assert_eq!(dev.fork_version_at(u64::MAX), v("01000001"));
    assert_eq!(
        dev.pre_genesis_digest(),
        compute_base_fork_digest(v("00000001"), &[0; 32])
    );

    let altair = compute_base_fork_digest(v("01000001"), &SOME_ROOT);
    assert_eq!(dev.fork_digest(0), altair);
    assert_eq!(dev.fork_digest(1_000_000), altair);
    assert_eq!(dev.all_digests().len(), 1);
    let enr = dev.enr_fork_id(5);
    assert_eq!(enr.digest(), altair);
    assert_eq!(enr.next_version(), v("01000001"));
    assert_eq!(enr.next_fork_epoch, FAR);
    assert_eq!(dev.next_fork_digest(5), d("00000000"));

    // Default genesis time: MIN_GENESIS_TIME + GENESIS_DELAY.
    let default = Network::from_config_yaml(LODESTAR_DEV, SOME_ROOT).unwrap();
    assert_eq!(default.genesis_time(), Duration::from_secs(1_578_009_900));
    assert_eq!(default.name(), "minimal");
}

#[test]
fn lodestar_dev_bellatrix_at_genesis_and_later_forks() {
    let yaml = LODESTAR_DEV.replace(
        "BELLATRIX_FORK_EPOCH: 18446744073709551615",
        "BELLATRIX_FORK_EPOCH: 0",
    );
    let dev = Network::from_config_yaml(&yaml, SOME_ROOT).unwrap();
    assert_eq!(dev.fork_version_at(0), v("02000001"));
    assert_eq!(dev.all_digests().len(), 1);

    let yaml = yaml.replace(
        "CAPELLA_FORK_EPOCH: '18446744073709551615'",
        "CAPELLA_FORK_EPOCH: 3",
    );
    let dev = Network::from_config_yaml(&yaml, SOME_ROOT).unwrap();
    let enr = dev.enr_fork_id(2);
    assert_eq!(enr.next_version(), v("03000001"));
    assert_eq!(enr.next_fork_epoch, 3);
    assert_eq!(
        dev.next_fork_digest(2),
        compute_base_fork_digest(v("03000001"), &SOME_ROOT)
    );
    assert_eq!(dev.all_digests().len(), 2);
}

// ---------------------------------------------------------------------------------------
// Parser: accepted forms.

/// A minimal valid config; tests replace or append lines.
const BASE: &str = "PRESET_BASE: mainnet
MIN_GENESIS_TIME: 1000
GENESIS_DELAY: 10
GENESIS_FORK_VERSION: 0x00000064
SECONDS_PER_SLOT: 12
";

fn parse(yaml: &str) -> Result<ConsensusConfig, ConfigError> {
    ConsensusConfig::from_yaml(yaml)
}

fn parse_err(yaml: &str) -> ConfigError {
    parse(yaml).unwrap_err()
}

#[test]
fn parser_accepts_bare_quoted_and_unprefixed_values() {
    let config = parse(
        "PRESET_BASE: \"mainnet\"
MIN_GENESIS_TIME: '1000'
GENESIS_DELAY: 10
GENESIS_FORK_VERSION: 10000910
ALTAIR_FORK_VERSION: \"0x20000910\"
ALTAIR_FORK_EPOCH: \"7\"
SLOT_DURATION_MS: '6000'
",
    )
    .unwrap();
    // `10000910` without `0x` is hex, not the decimal YAML would make of it.
    assert_eq!(config.forks()[0].version, v("10000910"));
    assert_eq!(config.forks()[1].version, v("20000910"));
    assert_eq!(config.forks()[1].epoch, 7);
    assert_eq!(config.slot_duration(), Duration::from_secs(6));
    assert_eq!(config.config_name(), None);
    let network = Network::builder(config, SOME_ROOT).build().unwrap();
    assert_eq!(network.name(), DEFAULT_NETWORK_NAME);
    assert_eq!(network.genesis_time(), Duration::from_secs(1010));
}

#[test]
fn parser_skips_keys_it_does_not_read() {
    let yaml = format!(
        "{BASE}TERMINAL_TOTAL_DIFFICULTY: 58750000000000000000000
DEPOSIT_CONTRACT_ADDRESS: 0x00000000219ab540356cBB839Cbe05303d7705Fa
EIP8321_FORK_VERSION: 0xe8321000
EIP8321_FORK_EPOCH: 18446744073709551615
MERGE_FORK_VERSION: 0x02000000
MERGE_FORK_EPOCH: 18446744073709551615
GAS_LIMIT_SCHEDULE:
  - EPOCH: 353024
    GAS_LIMIT: 200000000
SOME_MAP: {{a: [1, 2, {{b: c}}]}}
EMPTY:
"
    );
    let config = parse(&yaml).unwrap();
    assert_eq!(config.forks().len(), 1);
}

#[test]
fn parser_sorts_blob_schedule_and_checks_electra_fallback() {
    let schedule = "ELECTRA_FORK_VERSION: 0x05000064
ELECTRA_FORK_EPOCH: 10
FULU_FORK_VERSION: 0x06000064
FULU_FORK_EPOCH: 20
";
    let forks = format!(
        "{BASE}ALTAIR_FORK_VERSION: 0x01000064
ALTAIR_FORK_EPOCH: 0
BELLATRIX_FORK_VERSION: 0x02000064
BELLATRIX_FORK_EPOCH: 0
CAPELLA_FORK_VERSION: 0x03000064
CAPELLA_FORK_EPOCH: 0
DENEB_FORK_VERSION: 0x04000064
DENEB_FORK_EPOCH: 0
{schedule}"
    );
    // Entries out of order, as strings; the first is before Fulu.
    let yaml = format!(
        "{forks}MAX_BLOBS_PER_BLOCK_ELECTRA: 9
BLOB_SCHEDULE:
  - EPOCH: '40'
    MAX_BLOBS_PER_BLOCK: \"21\"
  - EPOCH: 5
    MAX_BLOBS_PER_BLOCK: 6
    TARGET_BLOBS_PER_BLOCK: 3
  - EPOCH: 30
    MAX_BLOBS_PER_BLOCK: 15
"
    );
    let config = parse(&yaml).unwrap();
    let epochs: Vec<Epoch> = config.blob_schedule().iter().map(|bp| bp.epoch).collect();
    assert_eq!(epochs, [5, 30, 40]);
    let network = Network::builder(config, SOME_ROOT).build().unwrap();
    // Before Fulu no blob parameters; from Fulu the entry at epoch 5 applies (it is in
    // BLOB_SCHEDULE, so the Electra fallback is not used).
    assert_eq!(network.blob_parameters_at(19), None);
    assert_eq!(network.blob_parameters_at(20).map(|bp| bp.epoch), Some(5));
    let epochs: Vec<Epoch> = network.all_digests().iter().map(|s| s.epoch).collect();
    assert_eq!(epochs, [0, 10, 20, 30, 40]);

    // Without an entry at or before Fulu, MAX_BLOBS_PER_BLOCK_ELECTRA is needed ...
    let yaml = format!("{forks}BLOB_SCHEDULE: []\n");
    assert!(matches!(
        parse_err(&yaml),
        ConfigError::MissingKey { key } if key == "MAX_BLOBS_PER_BLOCK_ELECTRA"
    ));
    // ... and used.
    let yaml = format!("{forks}BLOB_SCHEDULE: []\nMAX_BLOBS_PER_BLOCK_ELECTRA: 9\n");
    let network = Network::from_config_yaml(&yaml, SOME_ROOT).unwrap();
    assert_eq!(
        network.blob_parameters_at(FAR),
        Some(BlobParameters {
            epoch: 10,
            max_blobs_per_block: 9
        })
    );
    // With an entry at Fulu's epoch it is not.
    let yaml = format!("{forks}BLOB_SCHEDULE:\n  - EPOCH: 20\n    MAX_BLOBS_PER_BLOCK: 12\n");
    assert!(parse(&yaml).is_ok());
    // BLOB_SCHEDULE itself is needed once Fulu is scheduled.
    assert!(matches!(
        parse_err(&format!("{forks}MAX_BLOBS_PER_BLOCK_ELECTRA: 9\n")),
        ConfigError::MissingKey { key } if key == "BLOB_SCHEDULE"
    ));
}

// ---------------------------------------------------------------------------------------
// Parser: errors.

#[test]
fn parser_rejects_bad_yaml_and_shapes() {
    assert!(matches!(
        parse_err("PRESET_BASE: [unclosed"),
        ConfigError::Yaml { .. }
    ));
    assert!(matches!(parse_err("- a\n- b\n"), ConfigError::Yaml { .. }));
    assert!(matches!(
        parse_err("just a string"),
        ConfigError::Yaml { .. }
    ));
    // An empty document is an empty mapping.
    assert!(matches!(parse_err(""), ConfigError::MissingKey { key } if key == "PRESET_BASE"));
    assert!(matches!(
        parse_err("a: 1\n---\nb: 2\n"),
        ConfigError::Yaml { .. }
    ));
    // A key we read holding a mapping: the YAML error names the key.
    let err = parse_err(&format!("{BASE}ALTAIR_FORK_EPOCH: {{a: 1}}\n"));
    assert!(matches!(err, ConfigError::Yaml { .. }));
    assert!(err.to_string().contains("config"), "{err}");
    if let ConfigError::Yaml { source } = &err {
        assert!(source.to_string().contains("ALTAIR_FORK_EPOCH"), "{source}");
    }
    let err = parse_err(&format!("{BASE}BLOB_SCHEDULE: 5\n"));
    assert!(matches!(err, ConfigError::Yaml { .. }));
}

#[test]
fn parser_names_missing_and_duplicate_keys() {
    let without = |key: &str| {
        BASE.lines()
            .filter(|l| !l.starts_with(key))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for key in ["PRESET_BASE", "GENESIS_FORK_VERSION"] {
        let err = parse_err(&without(key));
        assert!(
            matches!(&err, ConfigError::MissingKey { key: k } if k == key),
            "{err}"
        );
        assert_eq!(err.key(), Some(key));
    }
    assert!(matches!(
        parse_err(&without("SECONDS_PER_SLOT")),
        ConfigError::MissingKey { key } if key == "SLOT_DURATION_MS"
    ));
    // Genesis time keys are only needed when no genesis time is given.
    let config = parse(&without("MIN_GENESIS_TIME")).unwrap();
    let err = Network::builder(config.clone(), SOME_ROOT)
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::MissingKey { key } if key == "MIN_GENESIS_TIME"));
    assert!(Network::builder(config, SOME_ROOT)
        .genesis_time(Duration::from_secs(5))
        .build()
        .is_ok());
    assert!(matches!(
        Network::from_config_yaml(&without("GENESIS_DELAY"), SOME_ROOT).unwrap_err(),
        ConfigError::MissingKey { key } if key == "GENESIS_DELAY"
    ));

    let err = parse_err(&format!("{BASE}GENESIS_DELAY: 11\n"));
    assert!(matches!(&err, ConfigError::DuplicateKey { key } if key == "GENESIS_DELAY"));
    let err = parse_err(&format!("{BASE}OTHER: 1\nOTHER: 2\n"));
    assert!(matches!(&err, ConfigError::DuplicateKey { key } if key == "OTHER"));
}

#[test]
fn parser_rejects_bad_values() {
    let replace = |from: &str, to: &str| BASE.replace(from, to);
    for value in [
        "-1",
        "12.5",
        "abc",
        "18446744073709551616",
        "''",
        "0x10",
        "1_000",
    ] {
        let err = parse_err(&replace(
            "GENESIS_DELAY: 10",
            &format!("GENESIS_DELAY: {value}"),
        ));
        match err {
            ConfigError::InvalidValue { key, .. } => assert_eq!(key, "GENESIS_DELAY"),
            other => panic!("{value}: {other}"),
        }
    }
    for value in ["0xZZ000064", "0x000064", "0x0000006400", "[]x"] {
        let yaml = replace(
            "GENESIS_FORK_VERSION: 0x00000064",
            &format!("GENESIS_FORK_VERSION: '{value}'"),
        );
        let err = parse_err(&yaml);
        assert!(
            matches!(&err, ConfigError::InvalidVersion { key, value: got, .. }
                if key == "GENESIS_FORK_VERSION" && got == value),
            "{value}: {err}"
        );
    }
    let err = parse_err(&replace("PRESET_BASE: mainnet", "PRESET_BASE: gnosis"));
    assert!(matches!(&err, ConfigError::UnknownPresetBase { value } if value == "gnosis"));
    assert_eq!(err.key(), Some("PRESET_BASE"));

    let err = parse_err(&replace("SECONDS_PER_SLOT: 12", "SECONDS_PER_SLOT: 0"));
    assert!(matches!(&err, ConfigError::InvalidValue { key, .. } if key == "SECONDS_PER_SLOT"));
    let err = parse_err(&replace("SECONDS_PER_SLOT: 12", "SLOT_DURATION_MS: 0"));
    assert!(matches!(&err, ConfigError::InvalidValue { key, .. } if key == "SLOT_DURATION_MS"));
    let err = parse_err(&format!("{BASE}SLOT_DURATION_MS: 6000\n"));
    assert!(matches!(
        err,
        ConfigError::SlotDurationMismatch {
            seconds_per_slot: 12,
            slot_duration_ms: 6000
        }
    ));
    let err = parse_err(&replace(
        "SECONDS_PER_SLOT: 12",
        "SECONDS_PER_SLOT: 18446744073709551615",
    ));
    assert!(matches!(&err, ConfigError::InvalidValue { key, .. } if key == "SECONDS_PER_SLOT"));

    let overflow = replace("GENESIS_DELAY: 10", "GENESIS_DELAY: 18446744073709551615");
    assert!(matches!(
        Network::from_config_yaml(&overflow, SOME_ROOT).unwrap_err(),
        ConfigError::GenesisTimeOverflow { .. }
    ));
}

#[test]
fn parser_checks_the_fork_schedule() {
    let altair = "ALTAIR_FORK_VERSION: 0x01000064\n";
    let bellatrix = "BELLATRIX_FORK_VERSION: 0x02000064\n";
    // Out of order.
    let err = parse_err(&format!(
        "{BASE}{altair}ALTAIR_FORK_EPOCH: 10\n{bellatrix}BELLATRIX_FORK_EPOCH: 5\n"
    ));
    assert!(matches!(
        err,
        ConfigError::ForkOrder {
            fork: ForkName::Bellatrix,
            epoch: 5,
            previous: ForkName::Altair,
            previous_epoch: 10
        }
    ));
    assert_eq!(err.key(), Some("BELLATRIX_FORK_EPOCH"));
    // A missing fork is unscheduled, so a later fork cannot be scheduled.
    let err = parse_err(&format!("{BASE}{bellatrix}BELLATRIX_FORK_EPOCH: 5\n"));
    assert!(matches!(
        err,
        ConfigError::ForkOrder {
            previous: ForkName::Altair,
            previous_epoch: FAR,
            ..
        }
    ));
    // A scheduled fork needs a version; an unscheduled one does not.
    let err = parse_err(&format!("{BASE}ALTAIR_FORK_EPOCH: 3\n"));
    assert!(matches!(&err, ConfigError::MissingKey { key } if key == "ALTAIR_FORK_VERSION"));
    assert!(parse(&format!("{BASE}ALTAIR_FORK_EPOCH: 18446744073709551615\n")).is_ok());
    // An unscheduled fork with a version is listed but never active.
    let config = parse(&format!("{BASE}{altair}")).unwrap();
    assert_eq!(config.forks()[1].epoch, FAR);
    let network = Network::builder(config, SOME_ROOT).build().unwrap();
    assert_eq!(network.fork_version_at(FAR), v("00000064"));
    assert_eq!(network.enr_fork_id(0).next_fork_epoch, FAR);
    // An unknown fork may be named, not scheduled.
    let err = parse_err(&format!("{BASE}EIP7805_FORK_EPOCH: 5\n"));
    assert!(matches!(
        &err,
        ConfigError::UnknownScheduledFork { key, epoch: 5 } if key == "EIP7805_FORK_EPOCH"
    ));
    let err = parse_err(&format!("{BASE}EIP7805_FORK_EPOCH: soon\n"));
    assert!(matches!(&err, ConfigError::InvalidValue { key, .. } if key == "EIP7805_FORK_EPOCH"));
}

#[test]
fn parser_checks_blob_schedule_entries() {
    let entries = |body: &str| format!("{BASE}BLOB_SCHEDULE:\n{body}");
    let err = parse_err(&entries("  - EPOCH: 5\n"));
    assert!(matches!(
        &err,
        ConfigError::MissingKey { key } if key == "BLOB_SCHEDULE[0].MAX_BLOBS_PER_BLOCK"
    ));
    let err = parse_err(&entries(
        "  - EPOCH: 5\n    MAX_BLOBS_PER_BLOCK: 6\n  - MAX_BLOBS_PER_BLOCK: 9\n",
    ));
    assert!(matches!(&err, ConfigError::MissingKey { key } if key == "BLOB_SCHEDULE[1].EPOCH"));
    let err = parse_err(&entries("  - EPOCH: x\n    MAX_BLOBS_PER_BLOCK: 6\n"));
    assert!(matches!(
        &err,
        ConfigError::InvalidValue { key, value, .. } if key == "BLOB_SCHEDULE[0].EPOCH" && value == "x"
    ));
    let err = parse_err(&entries(
        "  - EPOCH: 5\n    MAX_BLOBS_PER_BLOCK: 6\n  - EPOCH: 5\n    MAX_BLOBS_PER_BLOCK: 9\n",
    ));
    assert!(matches!(
        err,
        ConfigError::DuplicateBlobScheduleEpoch { epoch: 5 }
    ));
    let err = parse_err(&entries(
        "  - EPOCH: 5\n    EPOCH: 6\n    MAX_BLOBS_PER_BLOCK: 6\n",
    ));
    assert!(matches!(&err, ConfigError::DuplicateKey { key } if key == "BLOB_SCHEDULE[0].EPOCH"));
    let err = parse_err(&entries("  - 5\n"));
    assert!(matches!(err, ConfigError::Yaml { .. }));
}

#[test]
fn clock_saturates_and_rejects_pre_genesis() {
    let yaml = BASE.replace("SECONDS_PER_SLOT: 12", "SLOT_DURATION_MS: 1");
    let network = Network::builder(parse(&yaml).unwrap(), SOME_ROOT)
        .genesis_time(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(network.slot_at(Duration::MAX), Some(u64::MAX));
    assert_eq!(network.epoch_at(Duration::MAX), Some(u64::MAX / 32));
    assert_eq!(
        network.slot_start(u64::MAX),
        Some(Duration::from_millis(u64::MAX))
    );
    assert_eq!(network.epoch_start(u64::MAX / 32 + 1), None);

    let late = Network::builder(parse(BASE).unwrap(), SOME_ROOT)
        .genesis_time(Duration::MAX)
        .build()
        .unwrap();
    assert_eq!(late.slot_at(Duration::MAX - Duration::from_nanos(1)), None);
    assert_eq!(late.slot_at(Duration::MAX), Some(0));
    assert_eq!(late.slot_start(0), Some(Duration::MAX));
    assert_eq!(late.slot_start(1), None);
}

#[test]
fn genesis_helpers() {
    let root = parse_genesis_validators_root(
        "  212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f\n",
    )
    .unwrap();
    assert_eq!(root, *Network::hoodi().genesis_validators_root());
    let err = parse_genesis_validators_root("0x1234").unwrap_err();
    assert!(matches!(
        err,
        ConfigError::InvalidGenesisValidatorsRoot { .. }
    ));
    assert_eq!(err.key(), None);

    let mut state = 1_742_213_400u64.to_le_bytes().to_vec();
    state.extend_from_slice(&root);
    state.extend_from_slice(&[0xaa; 100]);
    assert_eq!(
        genesis_from_beacon_state(&state).unwrap(),
        (Duration::from_secs(1_742_213_400), root)
    );
    assert!(matches!(
        genesis_from_beacon_state(&state[..39]),
        Err(ConfigError::BeaconStateTooShort { len: 39 })
    ));
}

// ---------------------------------------------------------------------------------------
// Property tests: nothing panics, the cached schedule equals the direct computation.

fn check_network_total(network: &Network, epoch: Epoch, time: Duration) {
    let digest = network.fork_digest(epoch);
    assert_eq!(digest, network.compute_fork_digest(epoch));
    let enr = network.enr_fork_id(epoch);
    assert_eq!(enr.fork_digest, digest.0);
    if enr.next_fork_epoch == FAR {
        assert_eq!(network.next_fork_digest(epoch), ForkDigest([0; 4]));
    } else {
        assert!(enr.next_fork_epoch > epoch);
        assert_eq!(
            network.next_fork_digest(epoch),
            network.fork_digest(enr.next_fork_epoch)
        );
    }
    let _ = network.blob_parameters_at(epoch);
    let _ = network.fork_at(epoch);
    if let Some(start) = network.epoch_start(epoch) {
        assert_eq!(network.epoch_at(start), Some(epoch));
    }
    if let Some(slot) = network.slot_at(time) {
        assert_eq!(
            network.epoch_at(time),
            slot.checked_div(network.slots_per_epoch())
        );
        if let Some(start) = network.slot_start(slot) {
            assert!(start <= time);
        }
    } else {
        assert!(time < network.genesis_time());
    }
    let _ = network.current_epoch(UNIX_EPOCH.checked_add(time).unwrap_or(UNIX_EPOCH));
}

fn any_duration() -> impl Strategy<Value = Duration> {
    (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n))
}

fn any_epoch() -> impl Strategy<Value = Epoch> {
    prop_oneof![any::<u64>(), 0u64..600_000, Just(FAR), Just(FAR - 1)]
}

/// A random but valid config: forks on non-decreasing epochs (some unscheduled), a blob
/// schedule, any slot duration and genesis time.
fn any_config_yaml() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(prop_oneof![0u64..1000, any::<u64>(), Just(FAR)], 8),
        proptest::collection::btree_map(any_epoch(), any::<u64>(), 0..5),
        1u64..=u64::MAX,
        any::<bool>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(mut epochs, blobs, slot_ms, minimal, min_genesis, delay)| {
                epochs.sort_unstable();
                let mut yaml = format!(
                "PRESET_BASE: {}\nSLOT_DURATION_MS: {slot_ms}\nMIN_GENESIS_TIME: {min_genesis}\n\
                 GENESIS_DELAY: {delay}\nGENESIS_FORK_VERSION: 0x000000ff\n\
                 MAX_BLOBS_PER_BLOCK_ELECTRA: 9\nBLOB_SCHEDULE:\n",
                if minimal { "minimal" } else { "mainnet" }
            );
                for (epoch, max) in blobs {
                    yaml.push_str(&format!(
                        "  - EPOCH: {epoch}\n    MAX_BLOBS_PER_BLOCK: {max}\n"
                    ));
                }
                for (fork, epoch) in ForkName::ALL.into_iter().skip(1).zip(epochs) {
                    let key = fork.epoch_key().unwrap_or_default();
                    yaml.push_str(&format!(
                        "{key}: {epoch}\n{}: 0x{:02x}0000ff\n",
                        fork.version_key(),
                        fork as u8
                    ));
                }
                yaml
            },
        )
}

proptest! {
    #[test]
    fn presets_are_total(epoch in any_epoch(), time in any_duration()) {
        for preset in NetworkPreset::ALL {
            check_network_total(&preset.network(), epoch, time);
        }
    }

    #[test]
    fn random_schedules_are_total(
        yaml in any_config_yaml(),
        genesis in any_duration(),
        epochs in proptest::collection::vec(any_epoch(), 8),
        time in any_duration(),
    ) {
        let config = ConsensusConfig::from_yaml(&yaml).unwrap();
        let network = Network::builder(config, SOME_ROOT).genesis_time(genesis).build().unwrap();
        for epoch in epochs {
            check_network_total(&network, epoch, time);
        }
        for entry in network.all_digests() {
            prop_assert_eq!(network.fork_digest(entry.epoch), entry.digest);
            if let Some(before) = entry.epoch.checked_sub(1) {
                prop_assert_ne!(network.fork_digest(before), entry.digest);
            }
        }
        // Without an explicit genesis time the sum may overflow: an error, never a panic.
        let _ = Network::from_config_yaml(&yaml, SOME_ROOT);
    }

    #[test]
    fn parser_never_panics(text in ".{0,200}") {
        let _ = ConsensusConfig::from_yaml(&text);
    }

    #[test]
    fn parser_never_panics_on_config_like_text(
        lines in proptest::collection::vec(
            (
                prop_oneof![
                    Just("PRESET_BASE"), Just("GENESIS_FORK_VERSION"), Just("ALTAIR_FORK_EPOCH"),
                    Just("FULU_FORK_EPOCH"), Just("FULU_FORK_VERSION"), Just("BLOB_SCHEDULE"),
                    Just("SLOT_DURATION_MS"), Just("  - EPOCH"), Just("    MAX_BLOBS_PER_BLOCK"),
                ],
                "[-a-z0-9x'\"\\[\\]{}: ]{0,12}",
            ),
            0..12,
        )
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        let _ = ConsensusConfig::from_yaml(&text);
    }
}
