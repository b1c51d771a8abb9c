use std::error::Error as _;
use std::fs;

use tempfile::TempDir;

use super::*;
use crate::network::MAINNET_BOOTNODES;

const CONFIG: &str = "PRESET_BASE: minimal
CONFIG_NAME: testnet
MIN_GENESIS_TIME: 1700000000
GENESIS_DELAY: 60
GENESIS_FORK_VERSION: 0x00000001
ALTAIR_FORK_VERSION: 0x01000001
ALTAIR_FORK_EPOCH: 0
SECONDS_PER_SLOT: 6
";

const ROOT_TXT: [u8; 32] = [0x11; 32];
const ROOT_SSZ: [u8; 32] = [0x22; 32];

/// The error and its source chain joined with ": ", as the CLI prints it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// A directory with `config.yaml` and `genesis_validators_root.txt`.
fn network_dir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    fs::write(
        dir.path().join("genesis_validators_root.txt"),
        format!("0x{}\n", hex::encode(ROOT_TXT)),
    )
    .unwrap();
    dir
}

/// Writes a `genesis.ssz`: a `BeaconState` prefix of `genesis_time` and `ROOT_SSZ`.
fn write_genesis_ssz(dir: &Path, genesis_time: u64) {
    let mut state = genesis_time.to_le_bytes().to_vec();
    state.extend_from_slice(&ROOT_SSZ);
    state.extend_from_slice(&[0xaa; 64]);
    fs::write(dir.join("genesis.ssz"), state).unwrap();
}

fn load_err(dir: &Path, genesis_time: Option<Duration>) -> NetworkDirError {
    NetworkDir::load(dir, genesis_time).unwrap_err()
}

#[test]
fn genesis_validators_root_txt_and_the_config_genesis_time() {
    let dir = network_dir();
    let loaded = NetworkDir::load(dir.path(), None).unwrap();
    assert_eq!(*loaded.network.genesis_validators_root(), ROOT_TXT);
    assert_eq!(loaded.network.name(), "testnet");
    assert_eq!(
        loaded.network.genesis_time(),
        Duration::from_secs(1_700_000_060)
    );
    assert_eq!(loaded.genesis_time_source, GenesisTimeSource::Config);
    assert!(loaded.bootnodes.is_none());
    assert!(loaded.bootnodes_file.is_none());

    let given = Duration::from_secs(1_700_000_123);
    let loaded = NetworkDir::load(dir.path(), Some(given)).unwrap();
    assert_eq!(loaded.network.genesis_time(), given);
    assert_eq!(loaded.genesis_time_source, GenesisTimeSource::Given);
}

#[test]
fn genesis_ssz_wins_over_genesis_validators_root_txt() {
    let dir = network_dir();
    write_genesis_ssz(dir.path(), 1_700_000_000);
    let loaded = NetworkDir::load(dir.path(), None).unwrap();
    assert_eq!(*loaded.network.genesis_validators_root(), ROOT_SSZ);
    assert_eq!(
        loaded.network.genesis_time(),
        Duration::from_secs(1_700_000_000)
    );
    assert_eq!(loaded.genesis_time_source, GenesisTimeSource::GenesisSsz);

    // A genesis time that agrees with the file is fine, and the file stays the source.
    let loaded = NetworkDir::load(dir.path(), Some(Duration::from_secs(1_700_000_000))).unwrap();
    assert_eq!(loaded.genesis_time_source, GenesisTimeSource::GenesisSsz);

    // Without genesis_validators_root.txt, genesis.ssz alone suffices.
    fs::remove_file(dir.path().join("genesis_validators_root.txt")).unwrap();
    let loaded = NetworkDir::load(dir.path(), None).unwrap();
    assert_eq!(*loaded.network.genesis_validators_root(), ROOT_SSZ);
}

#[test]
fn a_given_genesis_time_must_agree_with_genesis_ssz() {
    let dir = network_dir();
    write_genesis_ssz(dir.path(), 1_700_000_000);
    let err = load_err(dir.path(), Some(Duration::from_secs(1_700_000_001)));
    let genesis = dir.path().join("genesis.ssz");
    assert!(matches!(
        &err,
        NetworkDirError::GenesisTimeMismatch { given, file, path }
            if given.as_secs() == 1_700_000_001 && file.as_secs() == 1_700_000_000 && *path == genesis
    ));
    assert_eq!(
        chain(&err),
        format!(
            "--genesis-time 1700000001 disagrees with {} (genesis time 1700000000)",
            genesis.display()
        )
    );
}

#[test]
fn bad_genesis_files_name_the_file() {
    let dir = network_dir();
    fs::write(dir.path().join("genesis.ssz"), [0u8; 39]).unwrap();
    let err = load_err(dir.path(), None);
    let genesis = dir.path().join("genesis.ssz");
    assert!(matches!(
        &err,
        NetworkDirError::GenesisState {
            source: ConfigError::BeaconStateTooShort { len: 39 },
            ..
        }
    ));
    assert_eq!(err.path(), genesis);
    assert!(chain(&err).starts_with(&format!(
        "{}: beacon state SSZ is 39 bytes",
        genesis.display()
    )));

    fs::remove_file(&genesis).unwrap();
    let root_txt = dir.path().join("genesis_validators_root.txt");
    fs::write(&root_txt, "0x1234\n").unwrap();
    let err = load_err(dir.path(), None);
    assert!(matches!(
        &err,
        NetworkDirError::GenesisValidatorsRoot {
            source: ConfigError::InvalidGenesisValidatorsRoot { .. },
            ..
        }
    ));
    assert!(chain(&err).starts_with(&format!(
        "{}: genesis validators root \"0x1234\" is not 32 bytes of hex",
        root_txt.display()
    )));

    fs::remove_file(&root_txt).unwrap();
    let err = load_err(dir.path(), None);
    assert!(matches!(&err, NetworkDirError::Read { path, .. } if *path == root_txt));
}

#[test]
fn config_and_read_errors_are_prefixed_by_the_path() {
    let dir = network_dir();
    let config = dir.path().join("config.yaml");
    fs::write(&config, "CONFIG_NAME: x\n").unwrap();
    let err = load_err(dir.path(), None);
    assert!(matches!(
        &err,
        NetworkDirError::Config {
            source: ConfigError::MissingKey { .. },
            ..
        }
    ));
    assert_eq!(
        chain(&err),
        format!("{}: config key PRESET_BASE is missing", config.display())
    );

    // A config without MIN_GENESIS_TIME makes no network without a genesis time.
    fs::write(
        &config,
        CONFIG.replace("MIN_GENESIS_TIME: 1700000000\n", ""),
    )
    .unwrap();
    let err = load_err(dir.path(), None);
    assert_eq!(
        chain(&err),
        format!(
            "{}: config key MIN_GENESIS_TIME is missing",
            config.display()
        )
    );
    assert!(NetworkDir::load(dir.path(), Some(Duration::from_secs(5))).is_ok());

    fs::remove_file(&config).unwrap();
    let err = load_err(dir.path(), None);
    let NetworkDirError::Read { path, source } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*path, config);
    assert_eq!(source.kind(), io::ErrorKind::NotFound);
    assert_eq!(
        chain(&err),
        format!("{}: {}", config.display(), err.source().unwrap())
    );

    let err = load_err(&config, None);
    assert!(matches!(&err, NetworkDirError::NotADirectory { dir } if *dir == config));
}

#[test]
fn bootnodes_from_boot_enr_yaml() {
    let dir = network_dir();
    let file = dir.path().join("boot_enr.yaml");
    fs::write(
        &file,
        format!(
            "# Teku team's bootnodes\n- \"{}\" # teku\n- '{}'\n\n  - {}   # indented\n",
            MAINNET_BOOTNODES[0], MAINNET_BOOTNODES[1], MAINNET_BOOTNODES[2]
        ),
    )
    .unwrap();
    let loaded = NetworkDir::load(dir.path(), None).unwrap();
    let enrs = loaded.bootnodes.unwrap();
    let expected: Vec<Enr> = MAINNET_BOOTNODES[..3]
        .iter()
        .map(|s| parse_enr(s).unwrap())
        .collect();
    assert_eq!(enrs, expected);
    assert_eq!(loaded.bootnodes_file, Some(file));
}

#[test]
fn bootnodes_from_bootstrap_nodes_txt() {
    let dir = network_dir();
    let file = dir.path().join("bootstrap_nodes.txt");
    fs::write(
        &file,
        format!(
            "# EF\n{}\n\n   \n{} # Lighthouse\n",
            MAINNET_BOOTNODES[3], MAINNET_BOOTNODES[4]
        ),
    )
    .unwrap();
    // bootstrap_nodes.txt comes first in BOOTNODE_FILES: boot_enr.yaml is not read.
    fs::write(dir.path().join("boot_enr.yaml"), "- \"not an enr\"\n").unwrap();
    let loaded = NetworkDir::load(dir.path(), None).unwrap();
    let enrs = loaded.bootnodes.unwrap();
    assert_eq!(enrs.len(), 2);
    assert_eq!(enrs[0], parse_enr(MAINNET_BOOTNODES[3]).unwrap());
    assert_eq!(enrs[1], parse_enr(MAINNET_BOOTNODES[4]).unwrap());
    assert_eq!(loaded.bootnodes_file, Some(file));
}

#[test]
fn a_bad_enr_names_its_file_and_line() {
    let dir = network_dir();
    let file = dir.path().join("bootstrap_nodes.txt");
    fs::write(
        &file,
        format!("# bootnodes\n{}\nenr:-broken\n", MAINNET_BOOTNODES[0]),
    )
    .unwrap();
    let err = load_err(dir.path(), None);
    assert!(matches!(
        &err,
        NetworkDirError::BadBootnode { path, line: 3, .. } if *path == file
    ));
    assert_eq!(
        err.to_string(),
        format!("{} line 3: not a valid ENR", file.display())
    );
    // The reason is the source, not repeated in the message.
    let source = err.source().expect("has a source");
    assert!(source.downcast_ref::<EnrError>().is_some());
    assert_eq!(chain(&err), format!("{err}: {}", chain(source)));
    assert!(err
        .to_string()
        .ends_with("bootstrap_nodes.txt line 3: not a valid ENR"));
}

/// `NetworkDir::network` reads no bootnode file (a caller with its own bootnodes is not
/// stopped by a broken list); `NetworkDir::bootnodes` reads it alone.
#[test]
fn the_network_alone_ignores_the_bootnode_files() {
    let dir = network_dir();
    let file = dir.path().join("bootstrap_nodes.txt");
    fs::write(&file, "enr:-broken\n").unwrap();
    let (network, source) = NetworkDir::network(dir.path(), None).unwrap();
    assert_eq!(source, GenesisTimeSource::Config);
    let loaded = NetworkDir::load(dir.path(), Some(Duration::from_secs(1_700_000_000)));
    assert!(matches!(
        loaded,
        Err(NetworkDirError::BadBootnode { line: 1, .. })
    ));
    assert!(NetworkDir::bootnodes(dir.path()).is_err());
    fs::write(&file, format!("{}\n", MAINNET_BOOTNODES[1])).unwrap();
    let (enrs, path) = NetworkDir::bootnodes(dir.path()).unwrap().unwrap();
    assert_eq!((enrs.len(), path), (1, file));
    let full = NetworkDir::load(dir.path(), None).unwrap();
    assert_eq!(
        full.network.genesis_validators_root(),
        network.genesis_validators_root()
    );
}

#[test]
fn an_empty_bootnode_list_is_an_error() {
    let dir = network_dir();
    let file = dir.path().join("boot_enr.yaml");
    fs::write(&file, "# no bootnodes yet\n\n- \"\" # placeholder\n").unwrap();
    let err = load_err(dir.path(), None);
    assert!(matches!(&err, NetworkDirError::NoBootnodes { path } if *path == file));
    assert_eq!(chain(&err), format!("{}: no ENRs in it", file.display()));
}

#[test]
fn an_oversized_bootnode_file_is_not_read() {
    let dir = network_dir();
    let file = dir.path().join("bootstrap_nodes.txt");
    let mut text = format!("{}\n", MAINNET_BOOTNODES[0]);
    text.push_str(&"#".repeat(MAX_BOOTNODE_FILE as usize + 1 - text.len()));
    fs::write(&file, &text).unwrap();
    let err = load_err(dir.path(), None);
    let len = MAX_BOOTNODE_FILE + 1;
    assert!(matches!(
        &err,
        NetworkDirError::BootnodeFileTooLarge { path, len: l, max: MAX_BOOTNODE_FILE }
            if *path == file && *l == len
    ));
    assert_eq!(
        chain(&err),
        format!(
            "{}: {len} bytes, larger than a bootnode list can be ({MAX_BOOTNODE_FILE})",
            file.display()
        )
    );
    // One byte less is read.
    text.pop();
    fs::write(&file, &text).unwrap();
    let loaded = NetworkDir::load(dir.path(), None).unwrap();
    assert_eq!(loaded.bootnodes.unwrap().len(), 1);
}

#[test]
fn parse_bootnodes_names_the_bad_entry() {
    let list = vec![
        String::new(),
        MAINNET_BOOTNODES[0].to_owned(),
        "  ".to_owned(),
        MAINNET_BOOTNODES[1].to_owned(),
        "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goF".to_owned(),
    ];
    let err = parse_bootnodes(&list).unwrap_err();
    // Blank entries are skipped and not counted.
    assert_eq!(err.index, 3);
    assert_eq!(err.shown, "enr:-Ku4QHqVeJ8PPICcWk1v");
    assert_eq!(
        err.to_string(),
        "bootnode #3 (enr:-Ku4QHqVeJ8PPICcWk1v…) is not a valid ENR"
    );
    assert!(err.source().is_some());
    assert!(chain(&err).starts_with("bootnode #3 (enr:-Ku4QHqVeJ8PPICcWk1v…) is not a valid ENR: "));

    let enrs = parse_bootnodes(&list[..4]).unwrap();
    assert_eq!(enrs.len(), 2);
    assert_eq!(
        parse_bootnodes(MAINNET_BOOTNODES).unwrap().len(),
        MAINNET_BOOTNODES.len()
    );
    assert!(parse_bootnodes::<&str>(&[]).unwrap().is_empty());
}
