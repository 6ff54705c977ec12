//! Association of tracks with detections: buffered IoU and an optimal (Hungarian) assignment.
//!
//! Greedy "best pair first" matching swaps identities when two vehicles cross: near the
//! crossing one track's best box can be the other vehicle's. The Hungarian method minimises the
//! total cost over all pairs at once, so each track keeps the detection its motion predicts.
//! Pairs below the IoU gate are never matched; among feasible assignments the one with the most
//! pairs wins, then the one with the least cost.
//!
//! The IoU is *buffered* (C-BIoU, Yang et al. 2023): both boxes grow by a margin that follows
//! the track's position uncertainty, so a fresh track (velocity still unknown) or a track unseen
//! for a while still meets its vehicle, while a steady track keeps a tight gate.
//!
//! Performance: O(n²·m) for n ≤ m tracks or detections; a few microseconds at a few dozen.

use base::BBox;

/// Cost of a pair that must not be matched; larger than any sum of real costs (each ≤ 1).
const FORBIDDEN: f64 = 1e6;

/// IoU of `a` and `b` after growing both by `bx` px left and right and `by` px up and down.
pub(crate) fn buffered_iou(a: &BBox, b: &BBox, bx: f32, by: f32) -> f32 {
    let grow = |r: &BBox| BBox {
        x1: r.x1 - bx,
        y1: r.y1 - by,
        x2: r.x2 + bx,
        y2: r.y2 + by,
    };
    grow(a).iou(&grow(b))
}

/// Matches rows to columns of `iou` (row-major, `rows × cols`) maximising total IoU, keeping
/// only pairs with IoU ≥ `min_iou`. Returns (row, column) pairs in row order.
pub(crate) fn match_iou(
    iou: &[f32],
    rows: usize,
    cols: usize,
    min_iou: f32,
) -> Vec<(usize, usize)> {
    debug_assert_eq!(iou.len(), rows * cols);
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let cost = |r: usize, c: usize| {
        let v = iou[r * cols + c];
        if v >= min_iou && v > 0.0 {
            1.0 - f64::from(v)
        } else {
            FORBIDDEN
        }
    };
    let pairs = if rows <= cols {
        hungarian(rows, cols, cost)
    } else {
        let mut p: Vec<_> = hungarian(cols, rows, |c, r| cost(r, c))
            .into_iter()
            .map(|(c, r)| (r, c))
            .collect();
        p.sort_unstable();
        p
    };
    pairs
        .into_iter()
        .filter(|&(r, c)| cost(r, c) < FORBIDDEN)
        .collect()
}

/// Minimum-cost assignment of every row to a distinct column, `n ≤ m` (Kuhn–Munkres with
/// potentials). Returns (row, column) pairs in row order.
fn hungarian(n: usize, m: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<(usize, usize)> {
    debug_assert!(n <= m);
    // 1-based with a virtual column 0, as in the classic formulation.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut row_of = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                if cur < minv[j] {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut pairs: Vec<(usize, usize)> = (1..=m)
        .filter(|&j| row_of[j] != 0)
        .map(|j| (row_of[j] - 1, j - 1))
        .collect();
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Best (most pairs, then most IoU) matching by trying every injective map.
    fn brute_force(iou: &[f32], rows: usize, cols: usize, min_iou: f32) -> (usize, f64) {
        fn go(
            r: usize,
            used: &mut Vec<bool>,
            iou: &[f32],
            rows: usize,
            cols: usize,
            min_iou: f32,
        ) -> (usize, f64) {
            if r == rows {
                return (0, 0.0);
            }
            let mut best = go(r + 1, used, iou, rows, cols, min_iou);
            for c in 0..cols {
                let v = iou[r * cols + c];
                if used[c] || v < min_iou || v <= 0.0 {
                    continue;
                }
                used[c] = true;
                let (n, s) = go(r + 1, used, iou, rows, cols, min_iou);
                used[c] = false;
                let cand = (n + 1, s + f64::from(v));
                if cand.0 > best.0 || (cand.0 == best.0 && cand.1 > best.1 + 1e-9) {
                    best = cand;
                }
            }
            best
        }
        go(0, &mut vec![false; cols], iou, rows, cols, min_iou)
    }

    #[test]
    fn crossing_prefers_the_total_over_the_best_pair() {
        // Greedy takes (0, 0) at 0.9 and leaves row 1 with nothing; optimal is (0,1), (1,0).
        let iou = [0.9, 0.8, 0.7, 0.0];
        assert_eq!(match_iou(&iou, 2, 2, 0.3), [(0, 1), (1, 0)]);
    }

    #[test]
    fn gate_and_shapes() {
        assert!(match_iou(&[], 0, 3, 0.3).is_empty());
        assert!(match_iou(&[0.2, 0.1], 1, 2, 0.3).is_empty());
        // More rows than columns.
        assert_eq!(match_iou(&[0.1, 0.9, 0.5], 3, 1, 0.3), [(1, 0)]);
        assert_eq!(match_iou(&[0.42, 0.998], 2, 1, 0.2), [(1, 0)]);
    }

    #[test]
    fn buffer_bridges_a_gap() {
        let a = BBox {
            x1: 0.0,
            y1: 0.0,
            x2: 10.0,
            y2: 10.0,
        };
        let b = BBox { x1: 14.0, ..a };
        let b = BBox { x2: 24.0, ..b };
        assert_eq!(buffered_iou(&a, &b, 0.0, 0.0), 0.0);
        assert!(buffered_iou(&a, &b, 5.0, 0.0) > 0.1);
        assert!((buffered_iou(&a, &a, 7.0, 3.0) - 1.0).abs() < 1e-6);
    }

    proptest! {
        #[test]
        fn hungarian_is_optimal(
            (rows, cols, iou) in (0usize..5, 0usize..5).prop_flat_map(|(r, c)| {
                (Just(r), Just(c), prop::collection::vec(0.0f32..1.0, r * c))
            }),
            min_iou in 0.0f32..0.6,
        ) {
            let got = match_iou(&iou, rows, cols, min_iou);
            // A matching: distinct rows and columns, all above the gate.
            let mut rs: Vec<_> = got.iter().map(|p| p.0).collect();
            let mut cs: Vec<_> = got.iter().map(|p| p.1).collect();
            rs.dedup();
            cs.sort_unstable();
            cs.dedup();
            prop_assert_eq!(rs.len(), got.len());
            prop_assert_eq!(cs.len(), got.len());
            for &(r, c) in &got {
                prop_assert!(iou[r * cols + c] >= min_iou);
            }
            let total: f64 = got.iter().map(|&(r, c)| f64::from(iou[r * cols + c])).sum();
            let (n, best) = brute_force(&iou, rows, cols, min_iou);
            prop_assert_eq!(got.len(), n);
            prop_assert!((total - best).abs() < 1e-4, "{} vs {}", total, best);
        }
    }
}
