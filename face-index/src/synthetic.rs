//! Face-like vectors for tests and benchmarks. Uniform random vectors are the wrong test for a
//! face index: real descriptors cluster by person. Here every identity has a centre and each of
//! its "photos" is the centre plus noise, scaled so that two photos of one person are about
//! 0.38 apart and two people about 0.84 on average (what dlib's model measures on real photos:
//! same person 0.24–0.43, different people 0.81–0.87).
//!
//! People do not differ equally in every direction of a face descriptor: a few directions
//! (sex, age, build…) carry most of the difference, as a descriptor's principal components
//! show. The centres here follow a decaying spectrum (the variance of direction `j` ∝ 1/j, an
//! effective dimension of about 18), while a photo's noise is the same in every direction.
//! Centres equally spread in all 128 directions would be the hardest case for any index (every
//! stranger nearly equally far), harder than real faces; the benchmark's findings give the
//! index's recall on that case too.

/// Σ over directions of the centres' variance, twice which is the mean squared distance of two
/// centres: 0.84² − 0.38².
const CENTRE_VARIANCE: f32 = 0.2806;
/// Spread of one person's photos around their centre, per direction: ≈ 0.38 apart.
const PHOTO_SPREAD: f32 = 0.0238;

/// A small, seeded generator (splitmix64): the same seed gives the same data on every machine.
#[derive(Debug, Clone)]
pub struct Faces {
    state: u64,
    dimensions: usize,
}

impl Faces {
    pub fn new(seed: u64, dimensions: usize) -> Self {
        Self {
            state: seed,
            dimensions,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    /// A standard normal sample (Box–Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    /// A new person: the centre their photos scatter around.
    pub fn identity(&mut self) -> Vec<f32> {
        let harmonic: f32 = (1..=self.dimensions).map(|j| 1.0 / j as f32).sum();
        let scale = (CENTRE_VARIANCE / harmonic).sqrt();
        (0..self.dimensions)
            .map(|j| self.normal() * scale / ((j + 1) as f32).sqrt())
            .collect()
    }

    /// A new person whose centre is equally spread in every direction (the hardest case).
    pub fn isotropic_identity(&mut self) -> Vec<f32> {
        let spread = (CENTRE_VARIANCE / self.dimensions as f32).sqrt();
        (0..self.dimensions)
            .map(|_| self.normal() * spread)
            .collect()
    }

    /// One more photo of the person with centre `identity`.
    pub fn photo(&mut self, identity: &[f32]) -> Vec<f32> {
        identity
            .iter()
            .map(|c| c + self.normal() * PHOTO_SPREAD)
            .collect()
    }
}
