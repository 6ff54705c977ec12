//! The appearance embedding of a vehicle: 256 signed bytes compared by cosine similarity.
//!
//! Made on the edge (`xueliang-vision` projects the classifier's pooled feature to 256 dimensions
//! and quantises it to int8), carried with the sighting, and searched on the county and city
//! ("find similar vehicle", following a vehicle whose plate is covered). This type is only the
//! value and its comparison, so the store and the platform can use it without ONNX Runtime.
//!
//! Invariants: exactly [`Embedding::DIM`] components in `-127..=127` (never -128, so negation
//! stays in range); the byte form is the components as two's-complement bytes, in order, with no
//! header or scale (the vector's length does not matter to the cosine). Cost: a cosine is three
//! 256-long integer dot products, well under a microsecond.

/// A vehicle's appearance, int8-quantised (see the module docs).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Embedding([i8; Embedding::DIM]);

impl Embedding {
    /// Number of components (and bytes).
    pub const DIM: usize = 256;

    /// Wraps quantised components; `-128` is clamped to `-127`.
    pub fn from_components(mut components: [i8; Embedding::DIM]) -> Self {
        for c in &mut components {
            *c = (*c).max(-127);
        }
        Embedding(components)
    }

    /// The components.
    pub fn components(&self) -> &[i8; Embedding::DIM] {
        &self.0
    }

    /// The stored form: one two's-complement byte per component.
    pub fn to_bytes(&self) -> [u8; Embedding::DIM] {
        self.0.map(|c| c as u8)
    }

    /// Reads the stored form; `None` unless `bytes` has exactly [`Self::DIM`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: &[u8; Embedding::DIM] = bytes.try_into().ok()?;
        Some(Embedding::from_components(arr.map(|b| b as i8)))
    }

    /// Cosine similarity in `-1..=1`: 1 for the same direction, about 0 for unrelated vehicles.
    /// 0 when either vector is all zeros.
    pub fn cosine(&self, other: &Embedding) -> f32 {
        let (mut ab, mut aa, mut bb) = (0i32, 0i32, 0i32);
        for (&a, &b) in self.0.iter().zip(&other.0) {
            let (a, b) = (i32::from(a), i32::from(b));
            ab += a * b;
            aa += a * a;
            bb += b * b;
        }
        if aa == 0 || bb == 0 {
            return 0.0;
        }
        (f64::from(ab) / (f64::from(aa) * f64::from(bb)).sqrt()) as f32
    }
}

/// JSON and other text formats carry the stored form as 512 hex digits.
impl serde::Serialize for Embedding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex: String = self.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }
}

impl<'de> serde::Deserialize<'de> for Embedding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let hex = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes: Option<Vec<u8>> = (hex.len() == 2 * Embedding::DIM)
            .then(|| {
                (0..Embedding::DIM)
                    .map(|i| {
                        hex.get(2 * i..2 * i + 2)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    })
                    .collect()
            })
            .flatten();
        bytes
            .as_deref()
            .and_then(Embedding::from_bytes)
            .ok_or_else(|| serde::de::Error::custom("an embedding is 512 hex digits"))
    }
}

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Embedding({:?}..)", &self.0[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_hex_and_round_trips() {
        let e = ramp(3);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json.len(), 2 * Embedding::DIM + 2);
        assert_eq!(serde_json::from_str::<Embedding>(&json).unwrap(), e);
        assert!(serde_json::from_str::<Embedding>("\"00ff\"").is_err());
    }

    fn ramp(step: i32) -> Embedding {
        Embedding::from_components(std::array::from_fn(|i| {
            ((i as i32 * step) % 255 - 127) as i8
        }))
    }

    #[test]
    fn bytes_round_trip_and_length_is_checked() {
        let e = ramp(7);
        let bytes = e.to_bytes();
        assert_eq!(bytes[0], (-127i8) as u8);
        assert_eq!(bytes[1], (-120i8) as u8);
        assert_eq!(Embedding::from_bytes(&bytes), Some(e));
        assert_eq!(Embedding::from_bytes(&bytes[..255]), None);
        assert_eq!(Embedding::from_bytes(&[0; 257]), None);
        // -128 never appears in a stored embedding.
        let e = Embedding::from_bytes(&[0x80; 256]).unwrap();
        assert!(e.components().iter().all(|&c| c == -127));
    }

    #[test]
    fn cosine_of_same_opposite_orthogonal_and_zero() {
        let e = ramp(7);
        assert!((e.cosine(&e) - 1.0).abs() < 1e-6);
        let neg = Embedding::from_components(e.components().map(|c| -c));
        assert!((e.cosine(&neg) + 1.0).abs() < 1e-6);
        let mut a = [0i8; 256];
        let mut b = [0i8; 256];
        a[0] = 100;
        b[1] = -50;
        let (a, b) = (Embedding::from_components(a), Embedding::from_components(b));
        assert_eq!(a.cosine(&b), 0.0);
        // Scale does not matter: (3, 4) vs (6, 8) is 1, (3, 4) vs (4, 3) is 24/25.
        let two = |x: i8, y: i8| {
            let mut c = [0i8; 256];
            c[10] = x;
            c[200] = y;
            Embedding::from_components(c)
        };
        assert!((two(3, 4).cosine(&two(6, 8)) - 1.0).abs() < 1e-6);
        assert!((two(3, 4).cosine(&two(4, 3)) - 0.96).abs() < 1e-6);
        assert_eq!(two(0, 0).cosine(&e), 0.0);
    }
}
