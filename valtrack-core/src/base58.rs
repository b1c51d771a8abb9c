//! Base58btc (the Bitcoin alphabet, as libp2p's text PeerIds use) for short byte strings.
//!
//! The `bs58` crate converts one digit (one byte) at a time; a consumer formats or parses a
//! PeerId for nearly every event, and there that cost was a quarter of the Parquet writer's
//! time. Here the number is held in 32-bit limbs and converted five base-58 digits at a time
//! (58^5 < 2^32), which is several times faster for the 39-byte PeerIds. Inputs are bounded
//! ([`MAX_BYTES`]); the output is identical to `bs58`'s (a property test checks it).

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Each ASCII byte's digit value, or `0xff`.
const DIGITS: [u8; 128] = {
    let mut table = [0xff; 128];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Longest byte string handled (after its leading zero bytes).
pub(crate) const MAX_BYTES: usize = 64;
const LIMBS: usize = MAX_BYTES / 4;
/// 58^5, the base of one step.
const STEP: u64 = 656_356_768;
/// Digits a [`MAX_BYTES`] value can need (88), rounded up to whole steps.
const MAX_DIGITS: usize = 90;

/// Longest text [`encode`] writes: one `1` per leading zero byte, then the digits.
pub(crate) const MAX_TEXT: usize = MAX_BYTES + MAX_DIGITS;

/// Writes the base58 form of `bytes` into `out` and returns its length. `None` when the bytes
/// after the leading zeros are longer than [`MAX_BYTES`] or there are more than
/// [`MAX_BYTES`] leading zeros.
pub(crate) fn encode(bytes: &[u8], out: &mut [u8; MAX_TEXT]) -> Option<usize> {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let value = &bytes[zeros..];
    if zeros > MAX_BYTES || value.len() > MAX_BYTES {
        return None;
    }
    // big-endian bytes → little-endian limbs
    let mut limbs = [0u32; LIMBS];
    for (limb, chunk) in limbs.iter_mut().zip(value.rchunks(4)) {
        *limb = chunk.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b));
    }
    let mut len = value.len().div_ceil(4);
    let mut digits = [0u8; MAX_DIGITS];
    let mut n = 0;
    while len > 0 {
        let mut rem = 0u64;
        for limb in limbs[..len].iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / STEP) as u32;
            rem = cur % STEP;
        }
        while len > 0 && limbs[len - 1] == 0 {
            len -= 1;
        }
        for _ in 0..5 {
            digits[n] = (rem % 58) as u8;
            rem /= 58;
            n += 1;
        }
    }
    while n > 0 && digits[n - 1] == 0 {
        n -= 1;
    }
    out[..zeros].fill(b'1');
    for (o, &d) in out[zeros..zeros + n]
        .iter_mut()
        .zip(digits[..n].iter().rev())
    {
        *o = ALPHABET[usize::from(d)];
    }
    Some(zeros + n)
}

/// Why [`decode`] refused a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A character outside the alphabet.
    NotBase58,
    /// The value needs more than [`MAX_BYTES`] bytes, or there are too many leading `1`s.
    TooLong,
}

/// Decodes base58 `text` into `out`, returning the number of bytes written.
pub(crate) fn decode(text: &[u8], out: &mut [u8; 2 * MAX_BYTES]) -> Result<usize, DecodeError> {
    let zeros = text.iter().take_while(|&&c| c == b'1').count();
    if zeros > MAX_BYTES {
        return Err(DecodeError::TooLong);
    }
    let digits = &text[zeros..];
    let mut limbs = [0u32; LIMBS];
    let mut len = 0;
    // leading group shorter, so the rest are whole steps
    let first = match digits.len() % 5 {
        0 => 5,
        r => r,
    };
    let mut start = 0;
    let mut group = first.min(digits.len());
    while start < digits.len() {
        let mut value = 0u64;
        let mut scale = 1u64;
        for &c in &digits[start..start + group] {
            let d = DIGITS
                .get(usize::from(c))
                .copied()
                .filter(|&d| d != 0xff)
                .ok_or(DecodeError::NotBase58)?;
            value = value * 58 + u64::from(d);
            scale *= 58;
        }
        let mut carry = value;
        for limb in &mut limbs[..len] {
            let cur = u64::from(*limb) * scale + carry;
            *limb = cur as u32;
            carry = cur >> 32;
        }
        if carry > 0 {
            if len == LIMBS {
                return Err(DecodeError::TooLong);
            }
            limbs[len] = carry as u32;
            len += 1;
        }
        start += group;
        group = 5;
    }
    out[..zeros].fill(0);
    let mut n = zeros;
    let mut leading = true;
    for limb in limbs[..len].iter().rev() {
        for b in limb.to_be_bytes() {
            if leading && b == 0 {
                continue;
            }
            leading = false;
            out[n] = b;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn encoded(bytes: &[u8]) -> Option<String> {
        let mut out = [0u8; MAX_TEXT];
        let n = encode(bytes, &mut out)?;
        Some(String::from_utf8(out[..n].to_vec()).expect("ascii"))
    }

    fn decoded(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = [0u8; 2 * MAX_BYTES];
        decode(text, &mut out).map(|n| out[..n].to_vec())
    }

    #[test]
    fn edge_cases_match_bs58() {
        for bytes in [
            &[][..],
            &[0],
            &[0, 0, 0],
            &[1],
            &[57],
            &[58],
            &[0, 0, 255, 255],
            &[255; 64],
            &[0; 64],
        ] {
            let text = bs58::encode(bytes).into_string();
            assert_eq!(encoded(bytes).as_deref(), Some(text.as_str()), "{bytes:?}");
            assert_eq!(decoded(text.as_bytes()).as_deref(), Ok(bytes), "{text}");
        }
        assert_eq!(encoded(&[1; 65]), None);
        assert_eq!(decoded(b"0OIl"), Err(DecodeError::NotBase58));
        assert_eq!(decoded("é".as_bytes()), Err(DecodeError::NotBase58));
        let too_long = bs58::encode([255u8; 65]).into_string();
        assert_eq!(decoded(too_long.as_bytes()), Err(DecodeError::TooLong));
    }

    proptest! {
        #[test]
        fn encodes_as_bs58_does(zeros in 0usize..4, value in proptest::collection::vec(any::<u8>(), 0..=60)) {
            let mut bytes = vec![0u8; zeros];
            bytes.extend(value);
            let text = bs58::encode(&bytes).into_string();
            prop_assert_eq!(encoded(&bytes), Some(text.clone()));
            prop_assert_eq!(decoded(text.as_bytes()), Ok(bytes));
        }

        #[test]
        fn decodes_any_text_as_bs58_does(text in "[1-9A-Za-z]{0,90}") {
            let ours = decoded(text.as_bytes());
            match bs58::decode(&text).into_vec() {
                Ok(theirs) if theirs.len() - theirs.iter().take_while(|&&b| b == 0).count() <= MAX_BYTES
                    && theirs.iter().take_while(|&&b| b == 0).count() <= MAX_BYTES =>
                {
                    prop_assert_eq!(ours, Ok(theirs));
                }
                Ok(_) => prop_assert_eq!(ours, Err(DecodeError::TooLong)),
                // a text both too long and with a bad character may be refused for either
                Err(_) => prop_assert!(ours.is_err()),
            }
        }
    }
}
