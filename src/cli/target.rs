//! `--network` resolved: a preset, a network directory, or a simulated network started here.

use std::path::Path;
use std::time::Duration;

use valtrack::core::network::dir::{GenesisTimeSource, NetworkDir, BOOTNODE_FILES};
use valtrack::core::network::parse_bootnodes;
use valtrack::core::{parse_enr, Enr, Network, NetworkPreset};

use super::args::{CrawlArgs, NetworkArgs};
use super::CliError;

/// A network to crawl: a real one, or a simulated one running in this process.
pub(crate) struct Target {
    pub(crate) network: Network,
    pub(crate) bootnodes: Vec<Enr>,
    /// Keeps the simulated network running.
    pub(crate) sim: Option<valtrack_sim::SimNet>,
}

impl NetworkArgs {
    /// A preset, or a network directory.
    pub(crate) fn network(&self) -> Result<Network, CliError> {
        let arg = self.network.as_str();
        if let Ok(preset) = arg.parse::<NetworkPreset>() {
            if self.genesis_time.is_some() {
                return Err(CliError(format!(
                    "--genesis-time is for a network directory: `{arg}` has its own genesis time"
                )));
            }
            return Ok(preset.network());
        }
        let dir = Path::new(arg);
        if !dir.is_dir() {
            return Err(CliError(format!(
                "unknown network `{arg}`: use mainnet, sepolia, holesky, hoodi, sim or a config directory"
            )));
        }
        let (network, source) =
            NetworkDir::network(dir, self.genesis_time.map(Duration::from_secs))?;
        if source == GenesisTimeSource::Config {
            // Fork digests do not need the genesis time, but slot timing (attestation delays,
            // estimate epochs, which committees to fetch) does.
            tracing::warn!(target: "valtrack", dir = %dir.display(), genesis_time = network.genesis_time().as_secs(),
                "no genesis.ssz nor --genesis-time: genesis time taken as MIN_GENESIS_TIME + GENESIS_DELAY; slot timing is wrong if the network started later");
        }
        Ok(network)
    }
}

/// Resolves `--network` and the bootnodes; starts the simulated network for `sim` (whose
/// validators publish attestations with `--attestations`).
pub(crate) async fn target(args: &CrawlArgs) -> Result<Target, CliError> {
    let name = args.network.network.as_str();
    let explicit = parse_bootnodes(&args.bootnodes)?;
    if name == "sim" {
        if args.network.genesis_time.is_some() {
            return Err(CliError(
                "--genesis-time is for a network directory: the simulated network keeps its own clock"
                    .into(),
            ));
        }
        let net = valtrack_sim::SimNet::builder(args.sim.sim_nodes as usize)
            .seed(args.sim.sim_seed)
            .attestations(args.attestations)
            .spawn()
            .await?;
        tracing::info!(target: "valtrack", nodes = net.len(), digest = %net.fork_digest(), "simulated network started");
        let bootnodes = if explicit.is_empty() {
            vec![parse_enr(&net.bootnode().to_base64())?]
        } else {
            explicit
        };
        return Ok(Target {
            network: net.network().clone(),
            bootnodes,
            sim: Some(net),
        });
    }
    let network = args.network.network()?;
    let bootnodes = if !explicit.is_empty() {
        explicit
    } else if name == "mainnet" {
        parse_bootnodes(valtrack::core::MAINNET_BOOTNODES)?
    } else if name.parse::<NetworkPreset>().is_ok() {
        return Err(CliError(format!(
            "no built-in bootnodes for `{name}`: pass --bootnodes ENR[,ENR…]"
        )));
    } else {
        // a network directory (`network()` accepted it); its bootnode list is read only now,
        // so --bootnodes overrides even a broken one
        let dir = Path::new(name);
        let (listed, _) = NetworkDir::bootnodes(dir)?.ok_or_else(|| {
            CliError(format!(
                "no bootnodes for `{name}`: pass --bootnodes ENR[,ENR…] or list them in {}",
                dir.join(BOOTNODE_FILES[0]).display()
            ))
        })?;
        tracing::info!(target: "valtrack", bootnodes = listed.len(), dir = %dir.display(), "bootnodes from the network directory");
        listed
    };
    Ok(Target {
        network,
        bootnodes,
        sim: None,
    })
}

/// Builds the sentry service of `args` over `target`, sending events to `sink`.
pub(crate) async fn sentry_service<S: valtrack::core::EventSink>(
    args: &CrawlArgs,
    target: &Target,
    sink: S,
) -> Result<valtrack::sentry::SentryService<S>, CliError> {
    let service = args
        .service_builder(
            target.network.clone(),
            target.bootnodes.iter().cloned(),
            target.sim.is_some(),
        )
        .build(sink)
        .await
        .map_err(|e| port_hint(CliError::from(e)))?;
    tracing::info!(
        target: "valtrack",
        peer_id = %service.host().peer_id(),
        listen = ?service.host().listen_addrs(),
        discv5 = %service.crawler().listen_addr(),
        bootnodes = target.bootnodes.len(),
        "sentry started"
    );
    Ok(service)
}

/// A port in use: which flag changes it.
fn port_hint(mut err: CliError) -> CliError {
    if err.0.contains("Address already in use") || err.0.contains("AddrInUse") {
        let flag = if err.0.contains("discv5") {
            "--discovery-port"
        } else if err.0.contains("quic") {
            "--quic-port"
        } else if err.0.contains("/tcp/") {
            "--tcp-port"
        } else {
            "--discovery-port, --tcp-port or --quic-port"
        };
        err.0.push_str(&format!(
            " (another process has this port: choose another with {flag})"
        ));
    }
    err
}
