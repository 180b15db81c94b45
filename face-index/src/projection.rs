//! The few directions the graph walks in. People differ mostly along a few directions of a
//! face descriptor (its principal components: sex, age, build…), while one person's photos
//! scatter along all of them. So the graph holds each vector's coordinates along its first
//! [`Projection::dimensions`] principal axes, learned from the vectors the index is built of
//! (64 signed bytes where the whole face takes 128): its edges then follow what tells people
//! apart rather than one photo's scatter, and a search reaches a person's photos in fewer steps
//! (`bench/FINDINGS.md`, "Fewer steps, not cheaper ones"; a step costs about the same, since it
//! waits on each read's latency, not on its bytes). Among photos nearly equally far (a
//! stranger's nearest) the projected order is loose, so the index re-ranks what the search kept
//! by the whole vectors (`wholes`).

use nalgebra::{DMatrix, SymmetricEigen};
use serde::{Deserialize, Serialize};

/// A centred, orthonormal projection onto the principal axes of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Projection {
    /// The sample's mean: every vector is projected relative to it.
    mean: Vec<f32>,
    /// The axes, row after row (`dimensions` rows of `mean.len()` floats), by falling variance.
    axes: Vec<f32>,
}

impl Projection {
    /// The first `keep` principal axes of `sample` (vectors of one length; many more of them
    /// than that length, or the covariance is noise).
    pub(crate) fn learn<'a>(
        sample: impl ExactSizeIterator<Item = &'a [f32]> + Clone,
        keep: usize,
    ) -> Self {
        let count = sample.len().max(1) as f64;
        let length = sample.clone().next().map_or(0, <[f32]>::len);
        let mut mean = vec![0.0_f64; length];
        for v in sample.clone() {
            for (m, x) in mean.iter_mut().zip(v) {
                *m += f64::from(*x) / count;
            }
        }
        // The upper triangle of the covariance, summed in f64 (a million small products).
        let mut covariance = DMatrix::<f64>::zeros(length, length);
        let mut centred = vec![0.0_f64; length];
        for v in sample {
            for ((c, x), m) in centred.iter_mut().zip(v).zip(&mean) {
                *c = f64::from(*x) - m;
            }
            for i in 0..length {
                let ci = centred[i];
                for j in i..length {
                    covariance[(i, j)] += ci * centred[j];
                }
            }
        }
        for i in 0..length {
            for j in 0..i {
                covariance[(i, j)] = covariance[(j, i)];
            }
        }
        let eigen = SymmetricEigen::new(covariance);
        let mut order: Vec<usize> = (0..length).collect();
        order.sort_by(|a, b| eigen.eigenvalues[*b].total_cmp(&eigen.eigenvalues[*a]));
        let axes = order
            .iter()
            .take(keep.min(length))
            .flat_map(|&axis| {
                eigen
                    .eigenvectors
                    .column(axis)
                    .iter()
                    .map(|x| *x as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        Self {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            axes,
        }
    }

    /// How many coordinates a projected vector has.
    pub(crate) fn dimensions(&self) -> usize {
        self.axes.len() / self.mean.len().max(1)
    }

    /// The length of the vectors it projects.
    pub(crate) fn input_dimensions(&self) -> usize {
        self.mean.len()
    }

    /// `vector`'s coordinates along the axes.
    pub(crate) fn apply(&self, vector: &[f32]) -> Vec<f32> {
        let centred: Vec<f32> = vector.iter().zip(&self.mean).map(|(x, m)| x - m).collect();
        self.axes
            .chunks_exact(self.mean.len())
            .map(|axis| axis.iter().zip(&centred).map(|(a, c)| a * c).sum())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::Faces;
    use domain::similarity::distance;

    #[test]
    fn keeps_the_directions_people_differ_in() {
        // Vectors that vary only along x + y (a lot) and z (a little), around (1, 1, 1).
        let sample: Vec<Vec<f32>> = (0..200)
            .map(|i| {
                let (a, b) = ((i % 20) as f32 - 9.5, ((i / 20) % 2) as f32 * 0.1);
                vec![1.0 + a, 1.0 + a, 1.0 + b]
            })
            .collect();
        let p = Projection::learn(sample.iter().map(Vec::as_slice), 1);
        assert_eq!((p.dimensions(), p.input_dimensions()), (1, 3));
        let axis = &p.axes;
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert!(
            (axis[0].abs() - half).abs() < 1e-4
                && (axis[1].abs() - half).abs() < 1e-4
                && axis[2].abs() < 1e-4,
            "{axis:?}"
        );
        // Two vectors apart along the kept axis only stay as far apart.
        let (u, v) = (&sample[0], &sample[5]);
        let (pu, pv) = (p.apply(u), p.apply(v));
        assert!((distance(&pu, &pv) - distance(u, v)).abs() < 1e-4);
    }

    #[test]
    fn faces_keep_their_distances_along_half_the_axes() {
        let mut faces = Faces::new(3, 128);
        let people: Vec<Vec<f32>> = (0..2000).map(|_| faces.identity()).collect();
        let sample: Vec<Vec<f32>> = people.iter().map(|c| faces.photo(c)).collect();
        let p = Projection::learn(sample.iter().map(Vec::as_slice), 64);
        assert_eq!(p.dimensions(), 64);
        // Orthonormal axes: a projected distance never exceeds the whole one.
        let (mut kept, mut whole) = (0.0, 0.0);
        for pair in sample.chunks_exact(2) {
            let d = distance(&p.apply(&pair[0]), &p.apply(&pair[1]));
            let full = distance(&pair[0], &pair[1]);
            assert!(d <= full + 1e-4, "{d} > {full}");
            kept += d * d;
            whole += full * full;
        }
        // Most of what tells two people apart is along the first half of the axes.
        assert!(kept / whole > 0.75, "{}", kept / whole);
    }
}
