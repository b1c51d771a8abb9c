//! Decodes ENRs given on the command line (or the mainnet EF bootnode) and prints what
//! valtrack reads from each: identity, addresses and eth2 fields, with any malformed field.
//!
//! `cargo run --example decode_enr -- enr:-Ku4QHqV…`

use valtrack::core::{EnrClass, EnrInfo, ForkDigest};

const EF_BOOTNODE: &str = "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let enrs = if args.is_empty() {
        vec![EF_BOOTNODE.to_owned()]
    } else {
        args
    };
    // Mainnet's current digest (BPO2); a real program takes it from `Network`.
    let ours: [ForkDigest; 1] = [ForkDigest([0x8c, 0x9f, 0x62, 0xfe])];
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
