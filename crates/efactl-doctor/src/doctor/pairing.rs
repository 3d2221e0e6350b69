//! Round-robin pairing (the circle method): every rank is in exactly one pair per round, and
//! after N-1 rounds (N rounds for odd N, one rank resting each time) every pair has met once.
//! Links are then measured without two tests sharing a node.

/// `rounds[r][rank]` is rank's partner in round r, or None when it rests.
pub fn schedule(n: usize) -> Vec<Vec<Option<usize>>> {
    if n < 2 {
        return Vec::new();
    }
    // With an odd count a phantom rank n joins; whoever meets it rests.
    let m = if n % 2 == 0 { n } else { n + 1 };
    let mut rounds = Vec::with_capacity(m - 1);
    for r in 0..m - 1 {
        let mut partner = vec![None; n];
        for i in 0..m / 2 {
            let a = if i == 0 { m - 1 } else { (r + i) % (m - 1) };
            let b = (r + m - 1 - i) % (m - 1);
            if a < n && b < n {
                partner[a] = Some(b);
                partner[b] = Some(a);
            }
        }
        rounds.push(partner);
    }
    rounds
}

/// Keeps at most `max_rounds` rounds, spread evenly: `--pairs` sampling for large N.
pub fn sample(rounds: Vec<Vec<Option<usize>>>, max_rounds: usize) -> Vec<Vec<Option<usize>>> {
    if max_rounds == 0 || rounds.len() <= max_rounds {
        return rounds;
    }
    let step = rounds.len() as f64 / max_rounds as f64;
    (0..max_rounds)
        .map(|i| rounds[(i as f64 * step) as usize].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_pair_meets_exactly_once() {
        for n in 2..=17 {
            let s = schedule(n);
            assert_eq!(s.len(), if n % 2 == 0 { n - 1 } else { n });
            let mut met = HashSet::new();
            for round in &s {
                for (a, p) in round.iter().enumerate() {
                    if let Some(b) = *p {
                        assert_eq!(round[b], Some(a), "pairing is symmetric");
                        assert_ne!(a, b);
                        if a < b {
                            assert!(met.insert((a, b)), "n={n}: {a}-{b} met twice");
                        }
                    }
                }
                let resting = round.iter().filter(|p| p.is_none()).count();
                assert_eq!(resting, n % 2, "n={n}: one rests only when n is odd");
            }
            assert_eq!(met.len(), n * (n - 1) / 2, "n={n}");
        }
        assert!(schedule(1).is_empty());
        assert_eq!(sample(schedule(64), 5).len(), 5);
    }
}
