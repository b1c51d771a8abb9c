//! The OpenAPI 3 description of the tracker API, written by hand.

use serde_json::{json, Value};

fn param(name: &str, location: &str, description: &str, schema: &Value, required: bool) -> Value {
    json!({
        "name": name,
        "in": location,
        "description": description,
        "required": required,
        "schema": schema,
    })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema}},
    })
}

/// The OpenAPI 3.0 document served at `GET /openapi.json`.
pub fn openapi() -> Value {
    // Query integers are read as u64: the whole unsigned range is accepted.
    let unsigned = json!({"type": "integer", "minimum": 0, "maximum": u64::MAX});
    let time = json!({"oneOf": [
        {"type": "integer", "minimum": 0, "maximum": u64::MAX, "description": "unix milliseconds"},
        {"type": "string", "format": "date-time", "description": "RFC 3339"},
    ]});
    let count = json!({"type": "integer", "format": "int64", "minimum": 0});
    // Within the store's page bound (`TrackerConfig::max_page`, default shown).
    let limit = json!({
        "type": "integer", "format": "int64", "minimum": 1,
        "maximum": crate::tracker::DEFAULT_MAX_PAGE,
    });
    // A secp256k1 PeerId in base58btc: 53 characters, `16Uiu2HA…`.
    let peer_id = json!({
        "type": "string", "pattern": "^16Uiu2HA[1-9A-HJ-NP-Za-km-z]{45}$",
    });
    let key = param(
        "X-API-Key",
        "header",
        "Admin key. Without it the public view hides IP, ENR and multiaddr and rounds \
         latitude/longitude to one decimal; an unknown key is refused with 401.",
        &json!({"type": "string"}),
        false,
    );
    let unauthorized = error_response("The X-API-Key is not a valid key.");
    let bad = error_response("A parameter is malformed.");
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "valtrack tracker API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Beacon nodes valtrack tracks and the validators estimated behind them.",
        },
        "paths": {
            "/validators": {"get": {
                "summary": "Validator estimates per node in a time window",
                "parameters": [
                    param("from", "query", "Earliest estimate time (inclusive). Default: 0. After `to`: 400.", &time, false),
                    param("to", "query", "Latest estimate time (inclusive). Default: no limit.", &time, false),
                    param("limit", "query", "Most estimates returned. Default: 1000.", &limit, false),
                    key,
                ],
                "responses": {
                    "200": ok("Estimates, oldest first.", json!({
                        "type": "object",
                        "properties": {
                            "from": count,
                            "to": {"type": ["integer", "null"], "minimum": 0, "description": "null when no bound was given"},
                            "count": count,
                            "estimates": {"type": "array", "items": {"$ref": "#/components/schemas/Estimate"}},
                        },
                    })),
                    "400": bad, "401": unauthorized,
                },
            }},
            "/peers": {"get": {
                "summary": "A page of peers, ordered by peer id",
                "parameters": [
                    param("limit", "query", "Peers per page. Default: 100.", &limit, false),
                    param("offset", "query", "Peers to skip. Default: 0.", &unsigned, false),
                    key,
                ],
                "responses": {
                    "200": ok("The page.", json!({
                        "type": "object",
                        "properties": {
                            "total": count, "offset": count,
                            "peers": {"type": "array", "items": {"$ref": "#/components/schemas/Peer"}},
                        },
                    })),
                    "400": bad, "401": unauthorized,
                },
            }},
            "/peers/{peer_id}": {"get": {
                "summary": "One peer and its estimate history (newest first)",
                "parameters": [
                    param("peer_id", "path", "libp2p peer id (16Uiu2…).", &peer_id, true),
                    key,
                ],
                "responses": {
                    "200": ok("The peer.", json!({
                        "type": "object",
                        "properties": {
                            "peer": {"$ref": "#/components/schemas/Peer"},
                            "history": {"type": "array", "items": {"$ref": "#/components/schemas/Estimate"}},
                        },
                    })),
                    "400": bad,
                    "401": unauthorized,
                    "404": error_response("No such peer."),
                },
            }},
            "/stats": {"get": {
                "summary": "Counts by client, country, ASN and fork digest (recomputed at most every 2 s)",
                "parameters": [key],
                "responses": {
                    "200": ok("Aggregates.", json!({"$ref": "#/components/schemas/Stats"})),
                    "401": unauthorized,
                },
            }},
            "/healthz": {"get": {
                "summary": "Liveness: the store answers",
                "parameters": [key],
                "responses": {
                    "200": ok("Healthy.", json!({"type": "object", "properties": {"status": {"type": "string"}}})),
                    "401": unauthorized,
                    "500": error_response("The store failed."),
                },
            }},
            "/openapi.json": {"get": {
                "summary": "This document",
                "parameters": [key],
                "responses": {"200": ok("OpenAPI 3 document.", json!({"type": "object"})), "401": unauthorized},
            }},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "Estimate": {"type": "object", "properties": {
                "peer_id": {"type": "string"}, "epoch": count, "timestamp": count,
                "estimated_validators": {"type": "integer", "minimum": 0, "description": "A lower bound unless method is attribution; stake_max_eth bounds it from above"},
                "method": {"type": "string", "enum": ["short_lived_subnets", "custody_group_count", "attribution", "legacy_attnets", "combined", "none"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "custody_group_count": {"type": "integer", "nullable": true},
                "stake_min_eth": {"type": "integer", "nullable": true},
                "stake_max_eth": {"type": "integer", "nullable": true},
                "short_lived_subnets": count,
                "all_subnets": {"type": "boolean"},
                "matches_node_id_prediction": {"type": "boolean"},
                "attributed_validators": {"type": "integer", "minimum": 0, "description": "Validators attributed to the peer from attestations it delivered first (a lower bound the estimate used)"},
                "vantage_points": {"type": "integer", "minimum": 0, "description": "Sentries (crawler ids) whose first deliveries back those attributions"},
                "contested_validators": {"type": "integer", "minimum": 0, "description": "Validators the sentries disagreed on (another peer named in the same epoch): not counted, they lower the confidence"},
            }},
            "Location": {"type": "object", "properties": {
                "ip": {"type": "string", "description": "0.0.0.0 in the public view"},
                "address_kind": {"type": "string", "enum": ["public", "private", "loopback", "link_local", "unspecified", "multicast", "reserved"]},
                "country": {"type": "string", "nullable": true},
                "city": {"type": "string", "nullable": true},
                "latitude": {"type": "number", "nullable": true},
                "longitude": {"type": "number", "nullable": true},
                "asn": {"type": "integer", "nullable": true},
                "as_org": {"type": "string", "nullable": true},
                "hosting": {"type": "boolean"},
            }},
            "Peer": {"type": "object", "properties": {
                "peer_id": {"type": "string"}, "node_id": {"type": "string"},
                "enr": {"type": "string", "nullable": true, "description": "admin view only"},
                "enr_seq": {"type": "integer", "nullable": true},
                "multiaddr": {"type": "string", "nullable": true, "description": "admin view only"},
                "ip": {"type": "string", "nullable": true, "description": "admin view only"},
                "agent_version": {"type": "string", "nullable": true},
                "client": {"type": "object", "nullable": true},
                "fork_digest": {"type": "string", "nullable": true},
                "attnets": {"type": "array", "nullable": true, "items": {"type": "integer"}},
                "cgc": {"type": "integer", "nullable": true},
                "first_seen_ms": count, "last_seen_ms": count,
                "disappeared": {"type": "boolean"},
                "handshakes_ok": count, "handshakes_failed": count,
                "last_error": {"type": "string", "nullable": true},
                "location": {"allOf": [{"$ref": "#/components/schemas/Location"}], "nullable": true},
                "estimate": {"allOf": [{"$ref": "#/components/schemas/Estimate"}], "nullable": true},
                "estimates_stored": count,
                "attestations_delivered": count,
                "attributed_validators": count,
            }},
            "Stats": {"type": "object", "properties": {
                "peers": count, "peers_handshaked": count,
                "peers_with_validators": count,
                "estimated_validators": {"type": "integer", "minimum": 0, "description": "Sum of the latest estimates: a lower bound (custody counts saturate: 8 validators may show as 1, 500 as 64 or 128)"},
                "estimated_validators_max": {"type": "integer", "minimum": 0, "description": "Sum of the upper bounds the estimates allow, where they have one"},
                "peers_unbounded": {"type": "integer", "minimum": 0, "description": "Peers with validators whose estimate has no upper bound"},
                "hosting": count,
                "clients": {"type": "object", "additionalProperties": count},
                "countries": {"type": "object", "additionalProperties": count},
                "asns": {"type": "object", "additionalProperties": count},
                "fork_digests": {"type": "object", "additionalProperties": count},
            }},
        }},
    })
}
