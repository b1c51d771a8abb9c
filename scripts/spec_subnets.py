#!/usr/bin/env python3
"""Reference vectors for valtrack-core's subnet maths, computed by the consensus specs' own rules.

This is an independent, standard-library-only transcription of the consensus-specs (repository
ethereum/consensus-specs, `dev` branch after the v1.4.0 "attnet revamp", PR #3312) Python
functions that `valtrack-core/src/subnets.rs` implements:

* `compute_shuffled_index`, `bytes_to_uint64`, `uint_to_bytes`, `hash` and
  `get_committee_count_per_slot` ........................ specs/phase0/beacon-chain.md
* `compute_subscribed_subnet`, `compute_subscribed_subnets`,
  `NODE_ID_BITS`, `ATTESTATION_SUBNET_PREFIX_BITS` ...... specs/phase0/p2p-interface.md
* `compute_subnet_for_attestation`, `is_aggregator`,
  `TARGET_AGGREGATORS_PER_COMMITTEE` .................... specs/phase0/validator.md
* the sync subnet of a committee seat (inside `compute_subnets_for_sync_committee`),
  `is_sync_committee_aggregator`,
  `TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE` ............ specs/altair/validator.md

Deliberate differences from the spec text, so that the functions can run without a beacon state:

* `SHUFFLE_ROUND_COUNT` and `SLOTS_PER_EPOCH` are preset values in the spec; here they are
  parameters (`rounds`, `slots_per_epoch`) so the minimal preset (10 rounds, 8 slots) is covered.
* `get_committee_count_per_slot(state, epoch)` takes the number of active validators instead of
  a state; `is_aggregator(state, slot, index, slot_signature)` takes `len(committee)`.
* The spec's typed integers (remerkleable `uint8`/`uint32`/`uint64`) raise when a value does not
  fit. The conversions the spec writes out explicitly (`uint8(current_round)`,
  `uint32(position // 256)`, `uint64(...)`) are checked here the same way; a failed check, a
  failed `assert` or a division by zero becomes `null` in the vectors ("the spec rejects this
  input"). Other arithmetic is exact, as with the plain Python `int`s that the spec's own tests
  pass in (e.g. `run_compute_subscribed_subnets_arguments` draws `node_id` in [0, 2**256) and
  `epoch` in [0, 2**64) as plain ints).
* `NodeID` is a `uint256`; a 32-byte discv5 node id is read as a big-endian integer, as clients do.

Before writing or checking, the script reproduces ten `compute_subscribed_subnets` vectors from
Lodestar's unit tests (a production client), so a transcription error cannot go unnoticed.

Usage:
    python3 scripts/spec_subnets.py           # (re)write valtrack-core/testdata/subnet_vectors.json
    python3 scripts/spec_subnets.py --check   # exit 1 if the committed file differs
"""

import hashlib
import json
import random
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "valtrack-core" / "testdata" / "subnet_vectors.json"

# --- constants (mainnet preset / phase0 + altair config) ------------------------------------------
ENDIANNESS = "little"
SHUFFLE_ROUND_COUNT = 90  # mainnet preset; minimal is 10
SLOTS_PER_EPOCH = 32  # mainnet preset; minimal is 8
MAX_COMMITTEES_PER_SLOT = 64
TARGET_COMMITTEE_SIZE = 128
TARGET_AGGREGATORS_PER_COMMITTEE = 16
NODE_ID_BITS = 256
SUBNETS_PER_NODE = 2
ATTESTATION_SUBNET_COUNT = 64
ATTESTATION_SUBNET_EXTRA_BITS = 0
EPOCHS_PER_SUBNET_SUBSCRIPTION = 256
SYNC_COMMITTEE_SIZE = 512
SYNC_COMMITTEE_SUBNET_COUNT = 4
TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE = 16


def ceillog2(x: int) -> int:
    assert x >= 1
    return (x - 1).bit_length()


ATTESTATION_SUBNET_PREFIX_BITS = int(ceillog2(ATTESTATION_SUBNET_COUNT) + ATTESTATION_SUBNET_EXTRA_BITS)


class SpecRejects(Exception):
    """The spec would fail on this input (assert, typed-integer overflow, division by zero)."""


def _fixed_uint(bits: int):
    def conv(value: int) -> int:
        if not 0 <= value < (1 << bits):
            raise SpecRejects(f"uint{bits}({value}) out of range")
        return value

    return conv


uint8 = _fixed_uint(8)
uint32 = _fixed_uint(32)
uint64 = _fixed_uint(64)


def spec_assert(cond: bool) -> None:
    if not cond:
        raise SpecRejects("assert")


# --- beacon-chain.md helpers ---------------------------------------------------------------------
def hash(data: bytes) -> bytes:  # noqa: A001 - the spec's name: `hash` is SHA256
    return hashlib.sha256(data).digest()


def uint_to_bytes(n: int, byte_len: int) -> bytes:
    # The spec serialises a uint in ENDIANNESS order over the byte length of its type.
    return n.to_bytes(byte_len, ENDIANNESS)


def bytes_to_uint64(data: bytes) -> int:
    return uint64(int.from_bytes(data, ENDIANNESS))


def compute_shuffled_index(index: int, index_count: int, seed: bytes, rounds: int) -> int:
    """beacon-chain.md `compute_shuffled_index`, with SHUFFLE_ROUND_COUNT as `rounds`."""
    spec_assert(index < index_count)

    for current_round in range(rounds):
        round_bytes = uint_to_bytes(uint8(current_round), 1)
        pivot = bytes_to_uint64(hash(seed + round_bytes)[0:8]) % index_count
        flip = (pivot + index_count - index) % index_count
        position = max(index, flip)
        source = hash(seed + round_bytes + uint_to_bytes(uint32(position // 256), 4))
        byte = uint8(source[(position % 256) // 8])
        bit = (byte >> (position % 8)) % 2
        index = flip if bit else index

    return index


def get_committee_count_per_slot(active_validators: int, slots_per_epoch: int) -> int:
    """beacon-chain.md `get_committee_count_per_slot`, given len(active validators)."""
    if slots_per_epoch == 0:
        raise SpecRejects("division by zero")
    return max(
        1,
        min(MAX_COMMITTEES_PER_SLOT, uint64(active_validators) // slots_per_epoch // TARGET_COMMITTEE_SIZE),
    )


# --- p2p-interface.md ------------------------------------------------------------------------------
def compute_subscribed_subnet(node_id: int, epoch: int, index: int) -> int:
    node_id_prefix = node_id >> (NODE_ID_BITS - ATTESTATION_SUBNET_PREFIX_BITS)
    node_offset = node_id % EPOCHS_PER_SUBNET_SUBSCRIPTION
    permutation_seed = hash(uint_to_bytes(uint64((epoch + node_offset) // EPOCHS_PER_SUBNET_SUBSCRIPTION), 8))
    permutated_prefix = compute_shuffled_index(
        node_id_prefix,
        1 << ATTESTATION_SUBNET_PREFIX_BITS,
        permutation_seed,
        SHUFFLE_ROUND_COUNT,
    )
    return (permutated_prefix + index) % ATTESTATION_SUBNET_COUNT


def compute_subscribed_subnets(node_id: int, epoch: int) -> list:
    return [compute_subscribed_subnet(node_id, epoch, index) for index in range(SUBNETS_PER_NODE)]


# --- validator.md (phase0) -------------------------------------------------------------------------
def compute_subnet_for_attestation(committees_per_slot: int, slot: int, committee_index: int, slots_per_epoch: int) -> int:
    if slots_per_epoch == 0:
        raise SpecRejects("division by zero")
    slots_since_epoch_start = uint64(slot % slots_per_epoch)
    committees_since_epoch_start = committees_per_slot * slots_since_epoch_start
    return (committees_since_epoch_start + committee_index) % ATTESTATION_SUBNET_COUNT


def is_aggregator(committee_len: int, slot_signature: bytes) -> bool:
    modulo = max(1, committee_len // TARGET_AGGREGATORS_PER_COMMITTEE)
    return bytes_to_uint64(hash(slot_signature)[0:8]) % modulo == 0


# --- validator.md (altair) -------------------------------------------------------------------------
def sync_subnet_for_committee_index(index: int) -> int:
    # `compute_subnets_for_sync_committee` maps each seat `index` of the (SYNC_COMMITTEE_SIZE-long)
    # committee to `index // (SYNC_COMMITTEE_SIZE // SYNC_COMMITTEE_SUBNET_COUNT)`; a seat outside
    # the committee does not exist.
    spec_assert(index < SYNC_COMMITTEE_SIZE)
    return index // (SYNC_COMMITTEE_SIZE // SYNC_COMMITTEE_SUBNET_COUNT)


def is_sync_committee_aggregator(signature: bytes) -> bool:
    modulo = max(1, SYNC_COMMITTEE_SIZE // SYNC_COMMITTEE_SUBNET_COUNT // TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE)
    return bytes_to_uint64(hash(signature)[0:8]) % modulo == 0


# --- vector generation -----------------------------------------------------------------------------
U64_MAX = (1 << 64) - 1


def or_null(fn, *args):
    try:
        return fn(*args)
    except SpecRejects:
        return None


def node_id_hex(n: int) -> str:
    return n.to_bytes(32, "big").hex()


def shuffled_index_cases(rng: random.Random) -> list:
    cases = []
    for index_count in range(1, 101):
        for rounds in (SHUFFLE_ROUND_COUNT, 10):
            seed = rng.randbytes(32)
            index = rng.randrange(index_count)
            cases.append((index, index_count, seed, rounds))
    seed = rng.randbytes(32)
    # Rejected by the assert, zero rounds, the u8 round byte, and counts large enough that
    # `uint32(position // 256)` can overflow (index_count > 2**40).
    for index, index_count, rounds in [
        (0, 0, 90),
        (5, 5, 90),
        (U64_MAX, U64_MAX, 90),
        (7, 100, 0),
        (3, 64, 255),
        (0, 1, 255),
        ((1 << 40) - 1, 1 << 40, 90),
        (1 << 40, (1 << 40) + 1, 90),
        (0, (1 << 40) + 1, 90),
        (12345, 1 << 63, 90),
        (U64_MAX - 1, U64_MAX, 90),
        (0, U64_MAX, 10),
        (1 << 62, U64_MAX, 10),
        (rng.randrange(1 << 32), 1 << 32, 90),
        (rng.randrange(1 << 24), 1 << 24, 90),
    ]:
        cases.append((index, index_count, seed, rounds))
    # Random large counts: below 2**40 the spec always succeeds; just above it, it may or may not;
    # far above it, almost surely not.
    for low, high in [(1 << 20, 1 << 40)] * 6 + [((1 << 40) + 1, 1 << 41)] * 6 + [(1 << 41, U64_MAX)] * 4:
        index_count = rng.randrange(low, high + 1)
        cases.append((rng.randrange(index_count), index_count, rng.randbytes(32), rng.choice((10, 90))))
    return [
        {
            "index": index,
            "index_count": index_count,
            "seed": seed.hex(),
            "rounds": rounds,
            "result": or_null(compute_shuffled_index, index, index_count, seed, rounds),
        }
        for index, index_count, seed, rounds in cases
    ]


def subscribed_subnet_cases(rng: random.Random) -> tuple:
    edge_ids = [
        0,
        (1 << 256) - 1,
        1 << 255,
        (1 << 250) - 1,  # prefix 0, offset 255
        1 << 250,  # prefix 1, offset 0
        255,
        int("ff" * 31 + "00", 16),  # prefix 63, offset 0
        int("0123456789abcdef" * 4, 16),
    ]
    edge_epochs = [0, 1, 255, 256, 257, 511, 1 << 32, U64_MAX - 255, U64_MAX - 1, U64_MAX]
    pairs = [(n, e) for n in edge_ids for e in edge_epochs]
    for _ in range(120):
        node_id = rng.getrandbits(256)
        epoch = rng.choice(
            [rng.randrange(0, 1 << 20), rng.randrange(0, 1 << 64), U64_MAX - rng.randrange(512)]
        )
        pairs.append((node_id, epoch))
    # Both sides of a node's own rotation boundary: (epoch + node_id % 256) crosses a multiple of 256.
    for _ in range(20):
        node_id = rng.getrandbits(256)
        boundary = rng.randrange(1, 1 << 24) * EPOCHS_PER_SUBNET_SUBSCRIPTION - node_id % EPOCHS_PER_SUBNET_SUBSCRIPTION
        pairs.append((node_id, boundary - 1))
        pairs.append((node_id, boundary))
    subnets = [
        {"node_id": node_id_hex(n), "epoch": e, "subnets": compute_subscribed_subnets(n, e)} for n, e in pairs
    ]

    single = []
    for index in [0, 1, 2, 63, 64, 65, 1000, U64_MAX - 1, U64_MAX]:
        n, e = rng.getrandbits(256), rng.randrange(1 << 64)
        single.append(
            {"node_id": node_id_hex(n), "epoch": e, "index": index, "subnet": compute_subscribed_subnet(n, e, index)}
        )
    return subnets, single


def attestation_cases(rng: random.Random) -> tuple:
    cases = []
    for cps, slot, ci, spe in [
        (64, 0, 0, 32),
        (64, 31, 63, 32),
        (64, 32, 5, 32),
        (1, 31, 0, 32),
        (2, 33, 1, 32),
        (64, 12345678, 17, 32),
        (U64_MAX, U64_MAX, U64_MAX, 32),
        (U64_MAX, U64_MAX, U64_MAX, U64_MAX),
        (U64_MAX, U64_MAX - 1, U64_MAX, U64_MAX),
        (3, 7, 2, 8),
        (64, 100, 3, 1),
        (64, 100, 3, 0),
        (0, 5, 9, 32),
    ]:
        cases.append((cps, slot, ci, spe))
    for _ in range(80):
        cps = rng.choice([rng.randrange(1, 65), rng.randrange(1 << 64)])
        slot = rng.choice([rng.randrange(1 << 24), rng.randrange(1 << 64)])
        ci = rng.choice([rng.randrange(64), rng.randrange(1 << 64)])
        spe = rng.choice([32, 32, 8, rng.randrange(1, 1 << 64)])
        cases.append((cps, slot, ci, spe))
    subnet_cases = [
        {
            "committees_per_slot": cps,
            "slot": slot,
            "committee_index": ci,
            "slots_per_epoch": spe,
            "result": or_null(compute_subnet_for_attestation, cps, slot, ci, spe),
        }
        for cps, slot, ci, spe in cases
    ]

    counts = []
    for active, spe in [
        (0, 32),
        (4095, 32),
        (4096, 32),
        (8191, 32),
        (8192, 32),
        (262_143, 32),
        (262_144, 32),
        (1_000_000, 32),
        (U64_MAX, 32),
        (U64_MAX, U64_MAX),
        (1024, 8),
        (5, 0),
        (0, 0),
    ]:
        counts.append((active, spe))
    for _ in range(30):
        counts.append((rng.choice([rng.randrange(600_000), rng.randrange(1 << 64)]), rng.choice([32, 8, rng.randrange(1 << 64)])))
    count_cases = [
        {"active_validators": a, "slots_per_epoch": s, "result": or_null(get_committee_count_per_slot, a, s)}
        for a, s in counts
    ]
    return subnet_cases, count_cases


def sync_cases(rng: random.Random) -> list:
    indices = [0, 1, 127, 128, 129, 255, 256, 383, 384, 510, 511, 512, 513, 1 << 32, U64_MAX]
    indices += [rng.randrange(512) for _ in range(10)]
    return [{"index": i, "result": or_null(sync_subnet_for_committee_index, i)} for i in indices]


def aggregator_cases(rng: random.Random) -> tuple:
    lens = [0, 1, 15, 16, 17, 31, 32, 33, 64, 128, 200, 2048, U64_MAX]
    attestation = []
    for _ in range(90):
        committee_len = rng.choice(lens + [rng.randrange(1, 4096)])
        sig = rng.randbytes(96)
        attestation.append({"committee_len": committee_len, "signature": sig.hex(), "result": is_aggregator(committee_len, sig)})
    sync = []
    for _ in range(60):
        sig = rng.randbytes(96)
        sync.append({"signature": sig.hex(), "result": is_sync_committee_aggregator(sig)})
    return attestation, sync


def build() -> str:
    rng = random.Random(0x5EB7_2026)
    subscribed, subscribed_single = subscribed_subnet_cases(rng)
    subnet_for_attestation, committee_counts = attestation_cases(rng)
    attestation_agg, sync_agg = aggregator_cases(rng)
    doc = {
        "comment": (
            "Generated by scripts/spec_subnets.py from a transcription of the consensus-specs "
            "functions; do not edit. null = the spec rejects the input. Node ids are big-endian "
            "uint256, seeds and signatures hex bytes."
        ),
        "compute_shuffled_index": shuffled_index_cases(rng),
        "compute_subscribed_subnets": subscribed,
        "compute_subscribed_subnet": subscribed_single,
        "compute_subnet_for_attestation": subnet_for_attestation,
        "committees_per_slot": committee_counts,
        "sync_subnet_for_committee_index": sync_cases(rng),
        "is_aggregator": attestation_agg,
        "is_sync_committee_aggregator": sync_agg,
    }
    return json.dumps(doc, indent=1) + "\n"


# Third-party cross-check: Lodestar's `computeSubscribedSubnet` unit test
# (packages/beacon-node/test/unit/network/subnets/util.test.ts, mainnet config), node ids as hex.
LODESTAR_SUBSCRIBED_SUBNETS = [
    ("0000000000000000000000000000000000000000000000000000000000000000", 54321, [4, 5]),
    ("c438183619322fed157cf9c6b16e2d5cabeb959208f0ebd4950cddd9ce97b5bd", 1017090249, [61, 62]),
    ("296a5c6726b584c5d7bda5294b1ceb67e1b427aa79bc401dca98136e4729a9fc", 1827566880, [23, 24]),
    ("3d4cd62623fbcdaab520d46c9b6b890be3404c75d6e0bcffaeea8387f2077534", 846255942, [38, 39]),
    ("57e4aa8c038bbde64dda2036548752f1781db39f3506d08fba135880b98f793e", 766597383, [53, 54]),
    ("4686456aa7e34e5ff5836a5e2660fff89807b6c51cf03504bc6db9ef65766149", 1204990115, [39, 40]),
    ("81831a9cbd9ba762a9b55a4c263bb92c48c1883194c7be9e91fa9a035852e052", 1616209495, [48, 49]),
    ("3e73d340a18f8f7a1d168eaba02a9aa75b63b5fff0fa11836e473a31aed9b915", 1774367616, [39, 40]),
    ("86b57c4aa11d9a3fde53e0bf9d88a9ddff5e10a174cfd0dcc4787f68623da957", 1484598751, [34, 35]),
    ("e5896dd7a31f2560f3c1ac9c5de60b68f1439e76407cc506d582b648ad76165d", 3525502229, [37, 38]),
]


def self_test() -> None:
    """Fail loudly if this transcription disagrees with a production client's vectors."""
    for node_id, epoch, expected in LODESTAR_SUBSCRIBED_SUBNETS:
        got = compute_subscribed_subnets(int(node_id, 16), epoch)
        if got != expected:
            raise SystemExit(f"transcription disagrees with Lodestar: {node_id} {epoch}: {got} != {expected}")


def main(argv: list) -> int:
    self_test()
    text = build()
    if argv[1:] == ["--check"]:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python3 scripts/spec_subnets.py", file=sys.stderr)
            return 1
        print(f"{OUT.name}: up to date")
        return 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
