//! Counter trees (the clearance board, placement statistics): each key holds
//! `N` u64 BE counters, moved by signed changes summed over a batch and
//! removed when they all reach zero, so a tree is a function of the counts
//! alone. One path for every counter the read model keeps.

use super::ReadModelError;
use super::keys::{read_u64, u64_bytes};
use super::overlay::Overlay;

/// Adds `change` to `counts`. Counters never go below zero when changes
/// come from the fold's deltas; saturation only guards against a damaged
/// store.
pub fn add<const N: usize>(counts: [u64; N], change: &[i64; N]) -> [u64; N] {
    let mut sum = counts;
    for (total, change) in sum.iter_mut().zip(change) {
        debug_assert!(
            total.checked_add_signed(*change).is_some(),
            "counter out of range"
        );
        *total = total.saturating_add_signed(*change);
    }
    sum
}

pub fn encode<const N: usize>(counts: &[u64; N]) -> Vec<u8> {
    counts.iter().flat_map(|c| u64_bytes(*c)).collect()
}

pub fn decode<const N: usize>(bytes: &[u8]) -> Option<[u64; N]> {
    if bytes.len() != N * 8 {
        return None;
    }
    let mut counts = [0; N];
    for (count, chunk) in counts.iter_mut().zip(bytes.chunks_exact(8)) {
        *count = read_u64(chunk)?;
    }
    Some(counts)
}

/// Applies `changes` (key, change) to the counters in `tree`, the batch's
/// overlay, dropping counters that reach zero.
pub fn apply<'k, const N: usize>(
    tree: &Overlay<'_>,
    changes: impl IntoIterator<Item = (&'k [u8], [i64; N])>,
) -> Result<(), ReadModelError> {
    for (key, change) in changes {
        if change.iter().all(|c| *c == 0) {
            continue;
        }
        let counts = match tree.get(key)? {
            None => [0; N],
            Some(bytes) => decode(&bytes).ok_or_else(|| {
                ReadModelError::corrupt(format!(
                    "counter {} is malformed",
                    String::from_utf8_lossy(key)
                ))
            })?,
        };
        match add(counts, &change) {
            counts if counts == [0; N] => tree.remove(key),
            counts => tree.insert(key, encode(&counts)),
        }
    }
    Ok(())
}
