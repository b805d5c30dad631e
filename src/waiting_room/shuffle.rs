//! The pre-queue's order: a shuffle anyone can recompute.
//!
//! Before the on-sale the room publishes `seed_hash = SHA-256(seed)`; after it, the seed.
//! The pre-queue's entries, sorted by id (bytewise), are shuffled by Fisher–Yates from the
//! last index down: for `i = n-1 … 1`, `j = u64(SHA-256(seed ‖ i as 8 bytes big-endian)[0..8])
//! mod (i + 1)`, swap `i` and `j`. The result is positions 1…n in order. The bias of the
//! modulo is below n / 2^64. Any language with SHA-256 can check an on-sale with the
//! audit's seed and list, and nobody (Marquee included) could pick the seed after seeing
//! who queued, since its hash was out first.

use sha2::{Digest, Sha256};

/// A new secret seed: 32 random bytes, hex.
pub fn new_seed() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    hex::encode(bytes)
}

/// The published commitment to a seed: SHA-256 of its bytes, hex. Pure.
pub fn seed_hash(seed_hex: &str) -> String {
    let bytes = hex::decode(seed_hex).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// The index the shuffle swaps `i` with. Pure.
fn pick(seed: &[u8], i: u64) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(seed);
    hasher.update(i.to_be_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % (i + 1)
}

/// The pre-queue in admission order: `ids` sorted bytewise, then shuffled with the seed.
/// Pure.
pub fn order(seed_hex: &str, ids: &[String]) -> Vec<String> {
    let seed = hex::decode(seed_hex).unwrap_or_default();
    let mut order: Vec<String> = ids.to_vec();
    order.sort();
    for i in (1..order.len()).rev() {
        let j = pick(&seed, i as u64) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_commits_to_the_seed() {
        let seed = new_seed();
        assert_eq!(seed.len(), 64);
        assert_eq!(seed_hash(&seed), seed_hash(&seed));
        assert_ne!(seed_hash(&seed), seed_hash(&new_seed()));
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            seed_hash(&"00".repeat(32)),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn the_order_depends_on_the_seed_and_the_set_not_on_the_order_given() {
        let ids: Vec<String> = (0..20).map(|i| format!("qen_{i:02}")).collect();
        let mut reversed = ids.clone();
        reversed.reverse();
        let seed = "ab".repeat(32);
        let shuffled = order(&seed, &ids);
        assert_eq!(shuffled, order(&seed, &reversed));
        assert_ne!(shuffled, order(&"cd".repeat(32), &ids));
        let mut sorted = shuffled.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "a permutation");
        assert!(order(&seed, &[]).is_empty());
        assert_eq!(order(&seed, &["only".into()]), ["only"]);
    }

    /// Over many seeds, each of 8 entries lands in each of 8 positions about equally
    /// often: Pearson's chi-square over the 64 cells stays under the 0.999 quantile for
    /// 49 degrees of freedom (85.35).
    #[test]
    fn positions_are_uniform_over_seeds() {
        let ids: Vec<String> = (0..8).map(|i| format!("qen_{i}")).collect();
        let runs = 16_000;
        let mut counts = [[0u32; 8]; 8];
        for run in 0..runs {
            let seed = hex::encode(Sha256::digest(format!("seed {run}")));
            for (position, id) in order(&seed, &ids).iter().enumerate() {
                let entry: usize = id[4..].parse().unwrap();
                counts[entry][position] += 1;
            }
        }
        let expected = f64::from(runs) / 8.0;
        let chi_square: f64 = counts
            .iter()
            .flatten()
            .map(|&observed| (f64::from(observed) - expected).powi(2) / expected)
            .sum();
        assert!(
            chi_square < 85.35,
            "chi-square {chi_square:.1} over 49 degrees of freedom"
        );
    }
}
