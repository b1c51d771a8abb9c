use std::net::Ipv4Addr;

use alloy_rlp::Bytes;
use enr::k256::ecdsa::SigningKey;

use super::FieldProblem;
use super::*;

/// ENR, ip, udp, tcp, eth2 digest.
type Bootnode = (
    &'static str,
    &'static str,
    Option<u16>,
    Option<u16>,
    Option<&'static str>,
);

/// Every mainnet bootnode listed in the reference.
const MAINNET_BOOTNODES: &[Bootnode] = &[
    ("enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg", "3.17.30.69", Some(9000), None, Some("b5303f2a")),
    ("enr:-Ku4QG-2_Md3sZIAUebGYT6g0SMskIml77l6yR-M_JXc-UdNHCmHQeOiMLbylPejyJsdAPsTHJyjJB2sYGDLe0dn8uYBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhBLY-NyJc2VjcDI1NmsxoQORcM6e19T1T9gi7jxEZjk_sjVLGFscUNqAY9obgZaxbIN1ZHCCIyg", "18.216.248.220", Some(9000), None, Some("b5303f2a")),
    ("enr:-Ku4QPn5eVhcoF1opaFEvg1b6JNFD2rqVkHQ8HApOKK61OIcIXD127bKWgAtbwI7pnxx6cDyk_nI88TrZKQaGMZj0q0Bh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhDayLMaJc2VjcDI1NmsxoQK2sBOLGcUb4AwuYzFuAVCaNHA-dy24UuEKkeFNgCVCsIN1ZHCCIyg", "54.178.44.198", Some(9000), None, Some("b5303f2a")),
    ("enr:-Ku4QEWzdnVtXc2Q0ZVigfCGggOVB2Vc1ZCPEc6j21NIFLODSJbvNaef1g4PxhPwl_3kax86YPheFUSLXPRs98vvYsoBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhDZBrP2Jc2VjcDI1NmsxoQM6jr8Rb1ktLEsVcKAPa08wCsKUmvoQ8khiOl_SLozf9IN1ZHCCIyg", "54.65.172.253", Some(9000), None, Some("b5303f2a")),
    ("enr:-Le4QPUXJS2BTORXxyx2Ia-9ae4YqA_JWX3ssj4E_J-3z1A-HmFGrU8BpvpqhNabayXeOZ2Nq_sbeDgtzMJpLLnXFgAChGV0aDKQtTA_KgEAAAAAIgEAAAAAAIJpZIJ2NIJpcISsaa0Zg2lwNpAkAIkHAAAAAPA8kv_-awoTiXNlY3AyNTZrMaEDHAD2JKYevx89W0CcFJFiskdcEzkH_Wdv9iW42qLK79ODdWRwgiMohHVkcDaCI4I", "172.105.173.25", Some(9000), None, Some("b5303f2a")),
    ("enr:-Le4QLHZDSvkLfqgEo8IWGG96h6mxwe_PsggC20CL3neLBjfXLGAQFOPSltZ7oP6ol54OvaNqO02Rnvb8YmDR274uq8ChGV0aDKQtTA_KgEAAAAAIgEAAAAAAIJpZIJ2NIJpcISLosQxg2lwNpAqAX4AAAAAAPA8kv_-ax65iXNlY3AyNTZrMaEDBJj7_dLFACaxBfaI8KZTh_SSJUjhyAyfshimvSqo22WDdWRwgiMohHVkcDaCI4I", "139.162.196.49", Some(9000), None, Some("b5303f2a")),
    ("enr:-Iu4QLm7bZGdAt9NSeJG0cEnJohWcQTQaI9wFLu3Q7eHIDfrI4cwtzvEW3F3VbG9XdFXlrHyFGeXPn9snTCQJ9bnMRABgmlkgnY0gmlwhAOTJQCJc2VjcDI1NmsxoQIZdZD6tDYpkpEfVo5bgiU8MGRjhcOmHGD2nErK0UKRrIN0Y3CCIyiDdWRwgiMo", "3.147.37.0", Some(9000), Some(9000), None),
    ("enr:-Ku4QImhMc1z8yCiNJ1TyUxdcfNucje3BGwEHzodEZUan8PherEo4sF7pPHPSIB1NNuSg5fZy7qFsjmUKs2ea1Whi0EBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpD1pf1CAAAAAP__________gmlkgnY0gmlwhBLf22SJc2VjcDI1NmsxoQOVphkDqal4QzPMksc5wnpuC3gvSC8AfbFOnZY_On34wIN1ZHCCIyg", "18.223.219.100", Some(9000), None, Some("f5a5fd42")),
    ("enr:-LK4QA8FfhaAjlb_BXsXxSfiysR7R52Nhi9JBt4F8SPssu8hdE1BXQQEtVDC3qStCW60LSO7hEsVHv5zm8_6Vnjhcn0Bh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAN4aBKJc2VjcDI1NmsxoQJerDhsJ-KxZ8sHySMOCmTO6sHM3iCFQ6VMvLTe948MyYN0Y3CCI4yDdWRwgiOM", "3.120.104.18", Some(9100), Some(9100), Some("b5303f2a")),
    ("enr:-LK4QKWrXTpV9T78hNG6s8AM6IO4XH9kFT91uZtFg1GcsJ6dKovDOr1jtAAFPnS2lvNltkOGA9k29BUN7lFh_sjuc9QBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhANAdd-Jc2VjcDI1NmsxoQLQa6ai7y9PMN5hpLe5HmiJSlYzMuzP7ZhwRiwHvqNXdoN0Y3CCI4yDdWRwgiOM", "3.64.117.223", Some(9100), Some(9100), Some("b5303f2a")),
];

#[test]
fn decodes_every_mainnet_bootnode() {
    for (text, ip, udp, tcp, digest) in MAINNET_BOOTNODES {
        let info: EnrInfo = text.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
        assert_eq!(info.ip4, Some(ip.parse::<Ipv4Addr>().unwrap()), "{ip}");
        assert_eq!(info.udp4, *udp, "{ip} udp");
        assert_eq!(info.tcp4, *tcp, "{ip} tcp");
        assert_eq!(
            info.fork_digest().map(|d| d.to_string()).as_deref(),
            *digest,
            "{ip} digest"
        );
        assert!(info.issues.is_empty(), "{ip}: {:?}", info.issues);
        assert!(info.peer_id.to_string().starts_with("16Uiu2HA"));
        assert_eq!(
            info.peer_id.node_id(),
            info.node_id,
            "{ip}: PeerId and node id disagree"
        );
        if digest.is_some() {
            assert!(info.fork_id().is_ok(), "{ip}");
        } else {
            assert_eq!(info.fork_id().unwrap_err().problem, FieldProblem::Missing);
        }
    }
}

#[test]
fn lighthouse_bootnode_ipv6_fields() {
    let info: EnrInfo = MAINNET_BOOTNODES[4].0.parse().unwrap();
    assert_eq!(
        info.ip6.unwrap().to_string(),
        "2400:8907::f03c:92ff:fe6b:a13"
    );
    assert_eq!(info.udp6, Some(9090));
    // The Lighthouse bootnodes carry eth2 with next fork version 01000000 at epoch 74240.
    let eth2 = info.eth2.unwrap();
    assert_eq!(eth2.next_fork_version.to_string(), "01000000");
    assert_eq!(eth2.next_fork_epoch, 74240);
}

#[test]
fn worked_example_node_id_and_peer_id() {
    let info: EnrInfo = MAINNET_BOOTNODES[0].0.parse().unwrap();
    assert_eq!(
        info.node_id.to_string(),
        "ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269"
    );
    assert_eq!(
        info.peer_id.to_string(),
        "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
    );
    assert_eq!(info.attnets, Some(AttestationSubnets::NONE));
    assert_eq!(info.seq, 1);
}

#[test]
fn eip778_test_vector_node_id() {
    // EIP-778's example record.
    let text = "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
    let info: EnrInfo = text.parse().unwrap();
    assert_eq!(
        info.node_id.to_string(),
        "a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7"
    );
    assert_eq!(info.ip4, Some(Ipv4Addr::new(127, 0, 0, 1)));
    assert_eq!(info.udp4, Some(30303));
    assert!(info.eth2.is_none());
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_slice(&[n; 32]).unwrap()
}

fn bytes(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

#[test]
fn current_fulu_record_with_every_field() {
    let mut eth2 = hex::decode("8c9f62fe06000000").unwrap();
    eth2.extend_from_slice(&u64::MAX.to_le_bytes());
    let enr = Enr::builder()
        .ip4(Ipv4Addr::new(10, 1, 2, 3))
        .tcp4(9000)
        .udp4(9000)
        .add_value("quic", &9001u16)
        .add_value("eth2", &bytes(&eth2))
        .add_value("attnets", &bytes(&[0, 0, 0x30, 0, 0, 0, 0, 0]))
        .add_value("syncnets", &bytes(&[0x05]))
        .add_value("cgc", &8u64)
        .add_value("nfd", &bytes(&[0, 0, 0, 0]))
        .build(&key(7))
        .unwrap();
    let info: EnrInfo = enr.to_base64().parse().unwrap();
    assert!(info.issues.is_empty(), "{:?}", info.issues);
    assert_eq!(info.quic4, Some(9001));
    assert_eq!(info.tcp4, Some(9000));
    assert_eq!(info.attnets.unwrap().subnets(), vec![20, 21]);
    assert_eq!(info.syncnets.unwrap().subnets(), vec![0, 2]);
    assert_eq!(info.cgc, Some(8));
    assert_eq!(info.nfd, Some(ForkDigest([0; 4])));
    assert_eq!(info.fork_digest(), Some("8c9f62fe".parse().unwrap()));
    let ours = ["8c9f62fe".parse().unwrap()];
    assert_eq!(info.classify(&ours), EnrClass::OurNetwork);
    assert_eq!(
        info.classify(&["cb0d1acc".parse().unwrap()]),
        EnrClass::OtherNetwork
    );
    // empty cgc (RLP 0x80) is 0
    let zero = Enr::builder()
        .add_value("cgc", &0u64)
        .build(&key(8))
        .unwrap();
    assert_eq!(EnrInfo::from_enr(&zero).unwrap().cgc, Some(0));
}

#[test]
fn one_odd_field_keeps_the_rest() {
    // Lodestar 1.5.1 advertises an 8-byte syncnets; eth2 of 15 bytes; cgc of 9 bytes; nfd as a
    // list; attnets short.
    let enr = Enr::builder()
        .ip4(Ipv4Addr::LOCALHOST)
        .tcp4(9000)
        .add_value("syncnets", &bytes(&[0u8; 8]))
        .add_value("eth2", &bytes(&[1u8; 15]))
        .add_value("cgc", &bytes(&[1u8; 9]))
        .add_value_rlp("nfd", bytes(&[0xc2, 0x01, 0x02]))
        .add_value("attnets", &bytes(&[0xff, 0x01]))
        .add_value("quic", &bytes(&[1, 2, 3]))
        .build(&key(9))
        .unwrap();
    let info = EnrInfo::from_enr(&enr).unwrap();
    assert_eq!(info.tcp4, Some(9000));
    assert_eq!(info.syncnets, Some(SyncSubnets(0)));
    assert_eq!(info.eth2, None);
    assert_eq!(info.cgc, None);
    assert_eq!(info.nfd, None);
    assert_eq!(info.quic4, None);
    assert_eq!(info.attnets.unwrap().subnets(), (0..9).collect::<Vec<_>>());
    let problems: Vec<(&str, FieldProblem)> = info
        .issues
        .iter()
        .map(|i| (i.key.as_str(), i.problem))
        .collect();
    assert!(problems.contains(&(
        "syncnets",
        FieldProblem::Length {
            expected: 1,
            got: 8
        }
    )));
    assert!(problems.contains(&(
        "eth2",
        FieldProblem::Length {
            expected: 16,
            got: 15
        }
    )));
    assert!(problems.contains(&(
        "cgc",
        FieldProblem::IntegerTooLarge {
            max_bytes: 8,
            got: 9
        }
    )));
    assert!(problems.contains(&("nfd", FieldProblem::NotBytes)));
    assert!(problems.contains(&(
        "attnets",
        FieldProblem::Length {
            expected: 8,
            got: 2
        }
    )));
    assert!(problems.contains(&(
        "quic",
        FieldProblem::IntegerTooLarge {
            max_bytes: 2,
            got: 3
        }
    )));
    assert_eq!(
        info.fork_id().unwrap_err().problem,
        FieldProblem::Length {
            expected: 16,
            got: 15
        }
    );
    assert_eq!(info.classify(&[]), EnrClass::NoEth2);
}

#[test]
fn whole_record_errors_are_typed() {
    assert!(matches!(
        "enr:!!!".parse::<EnrInfo>(),
        Err(EnrError::Base64(_))
    ));
    assert!(matches!(
        "enr:-Ku4QHqV".parse::<EnrInfo>(),
        Err(EnrError::Rlp(_))
    ));
    let long = format!("enr:{}", "A".repeat(500));
    assert!(matches!(
        long.parse::<EnrInfo>(),
        Err(EnrError::TooLarge { .. })
    ));
    // A flipped byte breaks the signature.
    let good = MAINNET_BOOTNODES[0].0;
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&good[4..])
        .unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    assert!(matches!(decode_enr(&raw), Err(EnrError::Rlp(_))));
    // trailing bytes
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&good[4..])
        .unwrap();
    raw.push(0);
    assert!(matches!(
        decode_enr(&raw),
        Err(EnrError::TrailingBytes { len: 1 })
    ));
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_and_bytes_never_panic(s in ".{0,500}", b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        let _ = s.parse::<EnrInfo>();
        let _ = decode_enr(&b);
    }

    #[test]
    fn arbitrary_eth2_values_never_panic(eth2 in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
                                        att in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..20),
                                        cgc in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12)) {
        let enr = Enr::builder()
            .add_value("eth2", &bytes(&eth2))
            .add_value("attnets", &bytes(&att))
            .add_value("syncnets", &bytes(&att))
            .add_value("cgc", &bytes(&cgc))
            .add_value("nfd", &bytes(&cgc))
            .build(&key(3))
            .unwrap();
        let info = EnrInfo::from_enr(&enr).unwrap();
        proptest::prop_assert_eq!(info.eth2.is_some(), eth2.len() == 16);
    }
}
