//! Decodes ENRs given on the command line (or the mainnet EF bootnode) and prints what
//! valtrack reads from each: identity, addresses and eth2 fields, with any malformed field.
//!
//! `cargo run --example decode_enr -- enr:-Ku4QHqV…`

use valtrack::core::{EnrClass, EnrInfo, ForkDigest, Network};

const EF_BOOTNODE: &str = "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let enrs = if args.is_empty() {
        vec![EF_BOOTNODE.to_owned()]
    } else {
        args
    };
    // Every digest mainnet has had or has scheduled: a node a fork behind is still mainnet.
    let mainnet = Network::mainnet();
    let ours: Vec<ForkDigest> = mainnet.all_digests().iter().map(|d| d.digest).collect();
    let mut failed = false;
    for text in &enrs {
        match text.parse::<EnrInfo>() {
            Ok(info) => {
                let class = info.classify(&ours);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&info).expect("serializable")
                );
                if class != EnrClass::OurNetwork {
                    eprintln!("note: {} is {class:?} for mainnet", info.peer_id);
                } else if let Some(d) = info.fork_digest() {
                    let fork = mainnet.find_digest(d).map(|s| s.fork);
                    eprintln!("note: {} is on mainnet, fork {fork:?}", info.peer_id);
                }
            }
            Err(e) => {
                eprintln!("error: {text:.40}…: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}
