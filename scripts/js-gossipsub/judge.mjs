// A js-gossipsub 14 node that scores its peers: an independent GossipSub implementation
// judging a valtrack sentry (valtrack-sim/tests/it/scoring.rs,
// a_js_gossipsub_node_never_scores_the_sentry_below_zero; scripts/interop-js-gossipsub.sh).
//
// usage: node judge.mjs CONFIG.json
//
// CONFIG: { "topics": [topic, ...], "phase0Digests": [hex digest, ...], "gossip": { D, Dlo,
// Dhi, Dout, Dlazy, heartbeatInterval, fanoutTTL, seenTTL }, "scoreParams": {...},
// "scoreThresholds": {...}, "sampleMs": n } (durations in milliseconds; scoreParams.topics
// keyed by topic string, in js-gossipsub's field names).
//
// Prints JSON lines on stdout: first {"listen": multiaddr with /p2p/}, then every sampleMs
// {"t": ms since start, "scores": {peer: score}, "mesh": {peer: topics where it is in our
// mesh}, "received": messages delivered to us, "ids": the first 16 message ids (hex)}.
// Exits when stdin closes.
import './polyfill.mjs'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import snappy from 'snappyjs'

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'))

// The consensus spec's message id: SHA-256 of the valid-snappy domain, then (Altair and
// later) the topic's length (u64 little-endian) and the topic, then the decompressed payload;
// first 20 bytes. A payload that does not decompress gets the invalid-snappy domain over the
// raw bytes. Topics whose digest is in config.phase0Digests take the phase0 form.
const phase0 = new Set(config.phase0Digests ?? [])
function msgId(msg) {
  const topic = Buffer.from(msg.topic, 'utf8')
  let domain = Buffer.from([1, 0, 0, 0])
  let data
  try {
    data = Buffer.from(snappy.uncompress(msg.data))
  } catch {
    domain = Buffer.from([0, 0, 0, 0])
    data = Buffer.from(msg.data)
  }
  const h = createHash('sha256').update(domain)
  if (!phase0.has(msg.topic.split('/')[2])) {
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(topic.length))
    h.update(len).update(topic)
  }
  return new Uint8Array(h.update(data).digest().subarray(0, 20))
}

const p = config.scoreParams
p.appSpecificScore = () => 0
p.IPColocationFactorWhitelist = new Set(['127.0.0.1'])

const node = await createLibp2p({
  privateKey: await generateKeyPair('secp256k1'),
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  // Every peer of the test dials from 127.0.0.1 within a moment: no per-address rate limit.
  connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    pubsub: gossipsub({
      ...config.gossip,
      mcacheLength: 6,
      mcacheGossip: 3,
      floodPublish: false,
      allowPublishToZeroTopicPeers: true,
      globalSignaturePolicy: 'StrictNoSign',
      msgIdFn: msgId,
      scoreParams: p,
      scoreThresholds: config.scoreThresholds,
    }),
  },
})

const pubsub = node.services.pubsub
let received = 0
const ids = []
pubsub.addEventListener('gossipsub:message', (evt) => {
  received += 1
  if (ids.length < 16) ids.push(Buffer.from(msgId(evt.detail.msg)).toString('hex'))
})
for (const topic of config.topics) pubsub.subscribe(topic)

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const addr = node.getMultiaddrs().find((a) => a.toString().includes('/tcp/'))
out({ listen: addr.toString() })

const start = Date.now()
const timer = setInterval(() => {
  const scores = {}
  const mesh = {}
  for (const peer of pubsub.getPeers()) {
    const id = peer.toString()
    scores[id] = pubsub.getScore(id)
    mesh[id] = config.topics.filter((t) => pubsub.getMeshPeers(t).includes(id)).length
  }
  out({ t: Date.now() - start, scores, mesh, received, ids })
}, config.sampleMs)

process.stdin.resume()
process.stdin.on('end', async () => {
  clearInterval(timer)
  await node.stop()
  process.exit(0)
})
