//! What the classifier's outputs mean: vehicle-type masses, the per-track type decision, and the
//! appearance embedding. Pure functions over slices, tested without a model.
//!
//! - [`TypeMasses::from_logits`]: softmax over the 1000 ImageNet logits (in `f64`), then per
//!   vehicle type the summed probability of its ImageNet classes ([`TYPE_CLASSES`]; e.g. "jeep,
//!   landrover" → SUV). Classes that fire on ordinary cars in real footage (amphibian,
//!   recreational vehicle) and car parts (wheel, grille, mirror) are left out on purpose.
//! - [`TypeVote`]: the edge adds the masses of a track's classified crops (the best one to three
//!   shots) and [`TypeVote::decide`]s once: the classifier may only choose among the types the
//!   detector's COCO class allows (car → car/SUV/pickup/van; truck → pickup/van/truck/bus; bus,
//!   motorcycle and bicycle only themselves), and only when the best allowed type's averaged mass
//!   reaches the cut ([`TYPE_CUT`], 0.20); otherwise the detector's class stands. On the research
//!   set this took tracks from 11/14 (detector only) to 14/14.
//! - [`embed`]: the 1280-d pooled feature → 256 int8 ([`base::Embedding`]): subtract the mean,
//!   L2-normalise, project with a fixed ±1 matrix (signs from splitmix64, seed "XULIANG"), scale
//!   the largest component to ±127 and round half away from zero. Deterministic across machines
//!   (all in `f64`, fixed summation order); the 40 KiB sign table is built once per process.
//!
//! Performance contract: `from_logits` is 1000 `exp`s; `embed` 256 × 1280 additions (~0.3 ms);
//! `TypeVote` is a few dozen floats. No allocation except the sign table, once.

use std::sync::OnceLock;

use base::{Embedding, VehicleClass};

/// Number of ImageNet classes in the classifier's `logits`.
pub const IMAGENET_CLASSES: usize = 1000;
/// Length of the classifier's pooled `feature`.
pub const FEATURE_DIM: usize = 1280;
/// Minimum averaged mass for the classifier to overrule the detector's class.
pub const TYPE_CUT: f32 = 0.20;

/// ImageNet-1k class indices (ILSVRC-2012 order) whose probability counts towards each type.
pub const TYPE_CLASSES: [(VehicleClass, &[u16]); 8] = [
    // beach wagon, cab, convertible, limousine, Model T, racer, sports car
    (VehicleClass::Car, &[436, 468, 511, 627, 661, 751, 817]),
    // jeep, landrover
    (VehicleClass::Suv, &[609]),
    // pickup, pickup truck
    (VehicleClass::Pickup, &[717]),
    // ambulance, minibus, minivan, moving van, police van
    (VehicleClass::Van, &[407, 654, 656, 675, 734]),
    // school bus, trolleybus
    (VehicleClass::Bus, &[779, 874]),
    // fire engine, garbage truck, snowplow, tow truck, trailer truck
    (VehicleClass::Truck, &[555, 569, 803, 864, 867]),
    // moped, motor scooter
    (VehicleClass::Motorcycle, &[665, 670]),
    // tandem bicycle, mountain bike, tricycle
    (VehicleClass::Bicycle, &[444, 671, 870]),
];

/// Summed softmax probability per vehicle type, in [`TYPE_CLASSES`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TypeMasses(pub [f32; 8]);

impl TypeMasses {
    /// Softmax over `logits` (all 1000), summed per type.
    ///
    /// # Panics
    /// If `logits` is shorter than [`IMAGENET_CLASSES`].
    pub fn from_logits(logits: &[f32]) -> TypeMasses {
        let logits = &logits[..IMAGENET_CLASSES];
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let total: f64 = logits.iter().map(|&z| f64::from(z - max).exp()).sum();
        TypeMasses(TYPE_CLASSES.map(|(_, classes)| {
            let sum: f64 = classes
                .iter()
                .map(|&i| f64::from(logits[usize::from(i)] - max).exp())
                .sum();
            (sum / total) as f32
        }))
    }

    /// The mass of one type; 0 for `Unknown`.
    pub fn get(&self, class: VehicleClass) -> f32 {
        TYPE_CLASSES
            .iter()
            .position(|(c, _)| *c == class)
            .map_or(0.0, |i| self.0[i])
    }

    /// `(type, mass)` pairs in [`TYPE_CLASSES`] order.
    pub fn iter(&self) -> impl Iterator<Item = (VehicleClass, f32)> + '_ {
        TYPE_CLASSES.iter().map(|(c, _)| *c).zip(self.0)
    }
}

/// Who decided a track's vehicle type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeSource {
    /// The classifier's averaged mass reached the cut.
    Classifier,
    /// The detector's class stands (no crop classified, or the classifier was unsure).
    Detector,
}

/// A track's vehicle type with its confidence (the averaged mass, or the detector's score).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TypeDecision {
    pub class: VehicleClass,
    pub confidence: f32,
    pub source: TypeSource,
}

/// Type masses accumulated over one track's classified crops.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TypeVote {
    sums: [f64; 8],
    crops: u32,
}

impl TypeVote {
    pub fn new() -> TypeVote {
        TypeVote::default()
    }

    /// Adds one crop's masses.
    pub fn add(&mut self, masses: &TypeMasses) {
        for (s, &m) in self.sums.iter_mut().zip(&masses.0) {
            *s += f64::from(m);
        }
        self.crops += 1;
    }

    /// Crops added so far.
    pub fn crops(&self) -> u32 {
        self.crops
    }

    /// The averaged masses (all zero before any crop).
    pub fn mean(&self) -> TypeMasses {
        let n = f64::from(self.crops.max(1));
        TypeMasses(self.sums.map(|s| (s / n) as f32))
    }

    /// The track's type: the best type the `detector` class allows if its averaged mass is at
    /// least `cut` (ties go to the earlier type in the allowed list), else the detector's class
    /// with its `detector_score`.
    pub fn decide(&self, detector: VehicleClass, detector_score: f32, cut: f32) -> TypeDecision {
        let fallback = TypeDecision {
            class: detector,
            confidence: detector_score,
            source: TypeSource::Detector,
        };
        if self.crops == 0 {
            return fallback;
        }
        let mean = self.mean();
        let mut best: Option<(VehicleClass, f32)> = None;
        for &class in allowed(detector) {
            let m = mean.get(class);
            if best.is_none_or(|(_, b)| m > b) {
                best = Some((class, m));
            }
        }
        match best {
            Some((class, mass)) if mass >= cut => TypeDecision {
                class,
                confidence: mass,
                source: TypeSource::Classifier,
            },
            _ => fallback,
        }
    }
}

/// The types the classifier may choose for a detector class, in tie-break order.
fn allowed(detector: VehicleClass) -> &'static [VehicleClass] {
    use VehicleClass::*;
    match detector {
        Car | Suv | Pickup | Van => &[Car, Suv, Pickup, Van],
        Truck => &[Pickup, Van, Truck, Bus],
        Bus => &[Bus],
        Motorcycle => &[Motorcycle],
        Bicycle => &[Bicycle],
        Unknown => &[Car, Suv, Pickup, Van, Bus, Truck, Motorcycle, Bicycle],
    }
}

/// Seed of the projection: ASCII "XULIANG".
pub const EMBEDDING_SEED: u64 = 0x0058_554C_4941_4E47;

/// Words of sign bits per projection row.
const ROW_WORDS: usize = FEATURE_DIM / 64;

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether projection entry `(row, col)` is +1 (else -1): the top bit of
/// `splitmix64(seed + row * 1280 + col)`.
pub fn projection_sign(row: usize, col: usize) -> bool {
    splitmix64(EMBEDDING_SEED.wrapping_add((row * FEATURE_DIM + col) as u64)) >> 63 == 1
}

/// The projection's sign bits, row-major, bit `c % 64` of word `c / 64` set for +1.
fn projection() -> &'static [u64] {
    static BITS: OnceLock<Vec<u64>> = OnceLock::new();
    BITS.get_or_init(|| {
        let mut bits = vec![0u64; Embedding::DIM * ROW_WORDS];
        for r in 0..Embedding::DIM {
            for c in 0..FEATURE_DIM {
                if projection_sign(r, c) {
                    bits[r * ROW_WORDS + c / 64] |= 1 << (c % 64);
                }
            }
        }
        bits
    })
}

/// The appearance embedding of a pooled classifier feature (see the module docs).
///
/// # Panics
/// If `feature` is shorter than [`FEATURE_DIM`].
pub fn embed(feature: &[f32]) -> Embedding {
    let feature = &feature[..FEATURE_DIM];
    let mean = feature.iter().map(|&v| f64::from(v)).sum::<f64>() / FEATURE_DIM as f64;
    let mut x = [0f64; FEATURE_DIM];
    for (x, &v) in x.iter_mut().zip(feature) {
        *x = f64::from(v) - mean;
    }
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt() + 1e-12;
    for v in &mut x {
        *v /= norm;
    }
    let bits = projection();
    let mut z = [0f64; Embedding::DIM];
    for (r, z) in z.iter_mut().enumerate() {
        let row = &bits[r * ROW_WORDS..][..ROW_WORDS];
        // Four interleaved sums break the add dependency chain (4× faster); the order is fixed,
        // so the result is still the same on every machine.
        let mut acc = [0f64; 4];
        for (c, quad) in x.chunks_exact(4).enumerate() {
            let word = row[c / 16] >> ((c % 16) * 4);
            for (k, (&v, a)) in quad.iter().zip(&mut acc).enumerate() {
                // +v where the sign bit is set, -v elsewhere: flip the float's sign bit.
                let flip = (!(word >> k) & 1) << 63;
                *a += f64::from_bits(v.to_bits() ^ flip);
            }
        }
        *z = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
    let peak = z.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-12);
    Embedding::from_components(z.map(|v| {
        let q = (v * 127.0 / peak).abs() + 0.5;
        (q.floor().min(127.0) * v.signum()) as i8
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits where the given ImageNet classes carry the given probabilities (the rest share what
    /// is left evenly).
    fn logits(probs: &[(usize, f64)]) -> Vec<f32> {
        let rest = (1.0 - probs.iter().map(|p| p.1).sum::<f64>())
            / (IMAGENET_CLASSES - probs.len()) as f64;
        let mut p = vec![rest; IMAGENET_CLASSES];
        for &(i, v) in probs {
            p[i] = v;
        }
        p.iter().map(|v| v.ln() as f32).collect()
    }

    fn masses(pairs: &[(VehicleClass, f32)]) -> TypeMasses {
        let mut m = TypeMasses::default();
        for &(c, v) in pairs {
            let i = TYPE_CLASSES.iter().position(|t| t.0 == c).unwrap();
            m.0[i] = v;
        }
        m
    }

    #[test]
    fn masses_sum_the_types_classes() {
        // minibus 0.3 + moving van 0.1 → van 0.4; jeep 0.15 → SUV; sports car 0.05 → car.
        let m =
            TypeMasses::from_logits(&logits(&[(654, 0.3), (675, 0.1), (609, 0.15), (817, 0.05)]));
        // (Plus the leftover probability of the type's other classes, 0.0004 each.)
        assert!((m.get(VehicleClass::Van) - 0.4012).abs() < 1e-4, "{m:?}");
        assert!((m.get(VehicleClass::Suv) - 0.15).abs() < 1e-4);
        assert!((m.get(VehicleClass::Car) - 0.0524).abs() < 1e-4);
        assert_eq!(m.get(VehicleClass::Unknown), 0.0);
        // Uniform logits: every class 1/1000, so a type's mass is its number of classes / 1000.
        let m = TypeMasses::from_logits(&[3.0; IMAGENET_CLASSES]);
        for ((class, mass), (_, classes)) in m.iter().zip(TYPE_CLASSES) {
            assert!(
                (mass - classes.len() as f32 / 1000.0).abs() < 1e-6,
                "{class}"
            );
        }
        // Large logits do not overflow.
        let mut big = vec![0f32; IMAGENET_CLASSES];
        big[717] = 1000.0;
        assert!((TypeMasses::from_logits(&big).get(VehicleClass::Pickup) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn type_classes_are_distinct_and_in_range() {
        let mut all: Vec<u16> = TYPE_CLASSES
            .iter()
            .flat_map(|t| t.1.iter().copied())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(all.iter().all(|&i| usize::from(i) < IMAGENET_CLASSES));
    }

    #[test]
    fn classifier_overrules_the_detector_within_its_class() {
        use VehicleClass::*;
        let mut vote = TypeVote::new();
        // The grey van the detector calls "truck": van mass over the cut.
        vote.add(&masses(&[(Van, 0.38), (Bus, 0.08), (Truck, 0.08)]));
        let d = vote.decide(Truck, 0.49, TYPE_CUT);
        assert_eq!((d.class, d.source), (Van, TypeSource::Classifier));
        assert!((d.confidence - 0.38).abs() < 1e-6);
        // A bus may not become a van, however sure the classifier is: gating keeps the detector.
        let d = vote.decide(Bus, 0.9, TYPE_CUT);
        assert_eq!(
            (d.class, d.confidence, d.source),
            (Bus, 0.9, TypeSource::Detector)
        );
        // Masses are averaged over the crops: two unsure crops pull the van below the cut.
        vote.add(&masses(&[(Van, 0.0)]));
        assert!((vote.mean().get(Van) - 0.19).abs() < 1e-6);
        let d = vote.decide(Truck, 0.49, TYPE_CUT);
        assert_eq!((d.class, d.source), (Truck, TypeSource::Detector));
        assert_eq!(vote.crops(), 2);
        // The cut is inclusive and configurable.
        assert_eq!(vote.decide(Truck, 0.49, 0.19).class, Van);
    }

    #[test]
    fn no_crop_or_a_type_outside_the_allowed_set_falls_back() {
        use VehicleClass::*;
        let d = TypeVote::new().decide(Car, 0.7, TYPE_CUT);
        assert_eq!(
            (d.class, d.confidence, d.source),
            (Car, 0.7, TypeSource::Detector)
        );
        // A "car" whose crop looks like a moped stays a car.
        let mut vote = TypeVote::new();
        vote.add(&masses(&[(Motorcycle, 0.8), (Car, 0.1)]));
        assert_eq!(vote.decide(Car, 0.6, TYPE_CUT).source, TypeSource::Detector);
        assert_eq!(
            vote.decide(Motorcycle, 0.6, TYPE_CUT).source,
            TypeSource::Classifier
        );
        // Pickup vs SUV: the larger mass wins; a tie goes to the earlier allowed type (SUV).
        let mut vote = TypeVote::new();
        vote.add(&masses(&[(Suv, 0.25), (Pickup, 0.25)]));
        assert_eq!(vote.decide(Car, 0.6, TYPE_CUT).class, Suv);
        assert_eq!(
            vote.decide(Truck, 0.6, TYPE_CUT).class,
            Pickup,
            "SUV not allowed for trucks"
        );
    }

    #[test]
    fn projection_signs_match_the_reference() {
        // testvectors.json "projection_first16_row0".
        let want = [-1, 1, 1, 1, 1, 1, -1, -1, -1, 1, -1, 1, 1, -1, 1, -1];
        let got: Vec<i32> = (0..16)
            .map(|c| if projection_sign(0, c) { 1 } else { -1 })
            .collect();
        assert_eq!(got, want);
        let last: Vec<bool> = (1272..1280).map(|c| projection_sign(255, c)).collect();
        assert_eq!(last, [false, true, true, false, true, false, true, false]);
        // The bit table agrees with the function.
        let bits = projection();
        assert_eq!(bits[255 * ROW_WORDS + 19] >> 63, 0);
        assert_eq!((bits[255 * ROW_WORDS + 19] >> 62) & 1, 1);
    }

    /// `vehicle_attrs.py::embed` of `f[i] = ((37 i) mod 101) / 17` (float32), all 256 bytes.
    const KNOWN_EMBEDDING: &str =
        "e11b4242f1f4e4ebea03ff088111132bf938ed57f821fe1ef70101c3ebfff51f\
        bef1f214dd4be627110816f8da5911f5203120c9e410f949f9eccef7c2f812f5e717e7e705d7dcf11f01081502\
        59b33c142f0000e71fedc3091b1acc25c1ea19ecddf709e6641126cb402cbbc2cdede23d092b0d31fe44f5bef2\
        0aee28130d14cdcfe8da15d6523b2206c4f4bbbfb1122306fcd744162ddf150236fd14fe1b06dddccefa1e03e5\
        e903f4f2162f44f0001c4b4238fd2a120d19310ec8d3e123e123f3aa13c7482a1dc2045e4a12daf9ce26f6fdd2\
        1103f535fa0dfb43f3e006dbfa02cb1cb8d501fafd3220ac0cdae8d83128032c01f1ebdf18fcc100e563ff16";

    fn known_feature() -> Vec<f32> {
        (0..FEATURE_DIM)
            .map(|i| ((i * 37) % 101) as f32 / 17.0)
            .collect()
    }

    #[test]
    fn embedding_bytes_of_a_known_vector() {
        let e = embed(&known_feature());
        let hex: String = e.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, KNOWN_EMBEDDING);
        assert_eq!(e.components()[12], -127, "the peak is scaled to ±127");
        // Deterministic, and independent of the feature's offset and scale.
        assert_eq!(embed(&known_feature()), e);
        let shifted: Vec<f32> = known_feature().iter().map(|v| v * 4.0 + 1.0).collect();
        assert!(embed(&shifted).cosine(&e) > 0.999);
    }

    #[test]
    fn cosine_separates_related_and_unrelated_features() {
        let a = known_feature();
        // Small perturbation vs an unrelated feature.
        let near: Vec<f32> = a
            .iter()
            .enumerate()
            .map(|(i, v)| v + (i % 7) as f32 * 0.05)
            .collect();
        let far: Vec<f32> = (0..FEATURE_DIM)
            .map(|i| ((i * 53) % 97) as f32 / 13.0)
            .collect();
        let (ea, en, ef) = (embed(&a), embed(&near), embed(&far));
        assert!(ea.cosine(&en) > 0.95, "{}", ea.cosine(&en));
        assert!(ea.cosine(&ef).abs() < 0.3, "{}", ea.cosine(&ef));
        // A constant feature has no direction: all zeros, cosine 0.
        let flat = embed(&[1.5; FEATURE_DIM]);
        assert!(flat.components().iter().all(|&c| c == 0));
        assert_eq!(flat.cosine(&ea), 0.0);
    }
}
