//! `valtrack sim`: the simulated network alone, for sentries in other processes (a soak, a
//! fleet): it writes a network directory they crawl with `--network DIR`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::args::HumanDuration;
use super::{shutdown_signal, CliError};

/// The default `--out`.
const DEFAULT_OUT: &str = "sim-network";

#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Number of simulated beacon nodes.
    #[arg(long, default_value_t = valtrack_sim::DEFAULT_NODES as u32, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub(crate) sim_nodes: u32,
    /// Seed of the simulated network (keys, clients, roles).
    #[arg(long, default_value_t = valtrack_sim::DEFAULT_SEED)]
    pub(crate) sim_seed: u64,
    /// The simulated validators publish attestations (every validator once an epoch).
    #[arg(long)]
    pub(crate) attestations: bool,
    /// Network directory to write (config.yaml, genesis_validators_root.txt,
    /// bootstrap_nodes.txt); created if missing, those three files replaced.
    #[arg(long, default_value = DEFAULT_OUT)]
    pub(crate) out: PathBuf,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long)]
    pub(crate) duration: Option<HumanDuration>,
}

pub(crate) async fn run(args: SimArgs) -> Result<(), CliError> {
    let net = valtrack_sim::SimNet::builder(args.sim_nodes as usize)
        .seed(args.sim_seed)
        .attestations(args.attestations)
        .spawn()
        .await?;
    let genesis = net.network().genesis_time().as_secs();
    write_network_dir(&args.out, &net.bootnode().to_base64())?;
    tracing::info!(target: "valtrack", nodes = net.len(), digest = %net.fork_digest(), dir = %args.out.display(),
        "simulated network started");
    // The one line on stdout: how to crawl it (scripts read the genesis time from it).
    println!(
        "valtrack run --network {} --genesis-time {genesis}",
        args.out.display()
    );
    shutdown_signal(args.duration.map(|d| d.0)).await;
    tracing::info!(target: "valtrack", "simulated network stopped");
    Ok(())
}

/// Writes the network directory of the simulated network whose bootnode is `bootnode`.
fn write_network_dir(dir: &Path, bootnode: &str) -> Result<(), CliError> {
    let at = |name: &str, e: std::io::Error| {
        CliError(format!("cannot write {}: {e}", dir.join(name).display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| at("", e))?;
    let files = [
        ("config.yaml", valtrack_sim::SIM_CONFIG_YAML.to_owned()),
        (
            "genesis_validators_root.txt",
            valtrack_sim::SIM_GENESIS_VALIDATORS_ROOT
                .iter()
                .fold("0x".to_owned(), |s, b| s + &format!("{b:02x}"))
                + "\n",
        ),
        ("bootstrap_nodes.txt", format!("{bootnode}\n")),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).map_err(|e| at(name, e))?;
    }
    Ok(())
}
