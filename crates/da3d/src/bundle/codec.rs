//! What the bundle header holds that is large, written compactly and read back within bounds:
//! the neighbours term's reference rows as base64 of their deflated little-endian f32 bytes
//! (format 5; formats 3 and 4 hold JSON numbers, read as well), and the held-out metrics of any
//! build's schema. Reading never allocates more than a model may hold: the inflated bytes are
//! capped at [`MAX_REFERENCE_VALUES`] values, numbers are counted as they are read, and whatever
//! the header holds where it should not is skipped without being kept.

use std::fmt;
use std::io::{Read, Write};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::TestMetrics;
use crate::config::NeighbourDistance;
use crate::detector::Neighbours;
use crate::detector::neighbours::{DensityRatio, MAX_REFERENCE_VALUES};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Deflated (fast level) little-endian bytes of `values`.
pub(crate) fn deflate(values: &[f32]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    for chunk in values.chunks(1 << 14) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        encoder.write_all(&bytes).expect("writing to memory");
    }
    encoder.finish().expect("writing to memory")
}

/// The values of [`deflate`]'s bytes.
pub(crate) fn inflate(bytes: &[u8]) -> Result<Vec<f32>, String> {
    let cap = (MAX_REFERENCE_VALUES * 4) as u64;
    let mut raw = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(cap + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("not deflated data: {e}"))?;
    if raw.len() as u64 > cap {
        return Err(format!("more than {MAX_REFERENCE_VALUES} values (the most a model keeps)"));
    }
    if raw.len() % 4 != 0 {
        return Err(format!("{} bytes are not whole f32 values", raw.len()));
    }
    Ok(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
    let text = text.as_bytes();
    if text.len() % 4 != 0 {
        return Err(format!("base64 of {} characters, not a multiple of 4", text.len()));
    }
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    for (q, quad) in text.chunks(4).enumerate() {
        let padding = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && (q + 1) * 4 != text.len()) {
            return Err("base64 padding inside the text".into());
        }
        let mut n = 0u32;
        for (i, &c) in quad.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if i >= 4 - padding => 0,
                _ => return Err(format!("{:?} is not a base64 character", c as char)),
            };
            n = n << 6 | v as u32;
        }
        bytes.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - padding]);
    }
    Ok(bytes)
}

/// The reference rows as stored: a base64 string of their deflated bytes, or (older formats) an
/// array of numbers; at most [`MAX_REFERENCE_VALUES`] values either way.
struct ReferenceRows(Vec<f32>);

impl Serialize for ReferenceRows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(&deflate(&self.0)))
    }
}

impl<'de> Deserialize<'de> for ReferenceRows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rows;

        impl<'de> Visitor<'de> for Rows {
            type Value = ReferenceRows;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("base64 of deflated f32 bytes, or an array of numbers")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<ReferenceRows, E> {
                decode(text).and_then(|b| inflate(&b)).map(ReferenceRows).map_err(|e| E::custom(format!("reference rows: {e}")))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReferenceRows, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<f32>()? {
                    if values.len() == MAX_REFERENCE_VALUES {
                        return Err(de::Error::custom(format!("reference rows: more than {MAX_REFERENCE_VALUES} values")));
                    }
                    values.push(v);
                }
                Ok(ReferenceRows(values))
            }
        }

        d.deserialize_any(Rows)
    }
}

/// The neighbours term as the header stores it.
#[derive(Serialize, Deserialize)]
struct StoredNeighbours {
    k: usize,
    /// Absent in bundles before format 7: the `k`-th distance.
    #[serde(default, skip_serializing_if = "NeighbourDistance::is_kth")]
    distance: NeighbourDistance,
    width: usize,
    reference: ReferenceRows,
    log_distance: (f32, f32),
    /// Absent before format 8, and where the training rows left it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ratio: Option<StoredRatio>,
}

/// The neighbours term's density ratio as the header stores it.
#[derive(Serialize, Deserialize)]
struct StoredRatio {
    k: usize,
    own: ReferenceRows,
    floor: f32,
    moments: (f32, f32),
    weight: f32,
}

/// `#[serde(with)]` for the header's `Option<Neighbours>`.
pub(super) mod neighbours {
    use super::*;

    pub fn serialize<S: Serializer>(n: &Option<Neighbours>, s: S) -> Result<S::Ok, S::Error> {
        n.as_ref()
            .map(|n| StoredNeighbours {
                k: n.k,
                distance: n.distance,
                width: n.width,
                reference: ReferenceRows(n.reference.clone()),
                log_distance: n.log_distance,
                ratio: n.ratio.as_ref().map(|r| StoredRatio {
                    k: r.k,
                    own: ReferenceRows(r.own.clone()),
                    floor: r.floor,
                    moments: r.moments,
                    weight: r.weight,
                }),
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Neighbours>, D::Error> {
        let stored = Option::<StoredNeighbours>::deserialize(d)?;
        Ok(stored.map(|s| {
            let ratio = s.ratio.map(|r| DensityRatio { k: r.k, own: r.own.0, floor: r.floor, moments: r.moments, weight: r.weight });
            Neighbours::from_parts(s.k, s.distance, s.width, s.reference.0, s.log_distance, ratio)
        }))
    }
}

/// A number, or anything else (skipped, not kept): `None`.
struct Lenient(Option<f64>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Number;

        impl<'de> Visitor<'de> for Number {
            type Value = Lenient;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lenient, E> {
                Ok(Lenient(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient, E> {
                Ok(Lenient(Some(v as f64)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient, E> {
                Ok(Lenient(Some(v as f64)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lenient, D::Error> {
                Lenient::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lenient, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lenient, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
        }

        d.deserialize_any(Number)
    }
}

/// `deserialize_with` for the header's metrics, as stored by any build: today's schema, or the
/// two untyped ones before it (the CLI's `test_roc_auc…`, the page's `roc_auc…` with curves).
/// Without a ROC AUC and an average precision, or not an object at all, they read as none.
pub(super) fn lenient_metrics<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TestMetrics>, D::Error> {
    struct Metrics;

    impl<'de> Visitor<'de> for Metrics {
        type Value = Option<TestMetrics>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("held-out metrics")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<TestMetrics>, A::Error> {
            let (mut roc_auc, mut average_precision, mut rows, mut anomalies) = (None, None, None, None);
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                let slot = match key.as_ref() {
                    "roc_auc" | "test_roc_auc" => &mut roc_auc,
                    "average_precision" | "test_average_precision" => &mut average_precision,
                    "rows" | "test_rows" => &mut rows,
                    "anomalies" => &mut anomalies,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                };
                *slot = map.next_value::<Lenient>()?.0;
            }
            let count = |v: Option<f64>| v.filter(|v| *v >= 0.0 && v.fract() == 0.0).map_or(0, |v| v as usize);
            Ok(match (roc_auc, average_precision) {
                (Some(roc_auc), Some(average_precision)) => {
                    Some(TestMetrics { roc_auc, average_precision, rows: count(rows), anomalies: count(anomalies) })
                }
                _ => None,
            })
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<TestMetrics>, D::Error> {
            d.deserialize_any(Metrics)
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<TestMetrics>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<TestMetrics>, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<TestMetrics>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<TestMetrics>, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<TestMetrics>, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<TestMetrics>, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<TestMetrics>, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<TestMetrics>, E> {
            Ok(None)
        }
    }

    d.deserialize_option(Metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Matrix;

    fn neighbours_json(n: &Neighbours) -> serde_json::Value {
        let mut out = Vec::new();
        neighbours::serialize(&Some(n.clone()), &mut serde_json::Serializer::new(&mut out)).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn read_neighbours(json: serde_json::Value) -> Result<Neighbours, String> {
        neighbours::deserialize(json).map(|n| n.expect("stored")).map_err(|e| e.to_string())
    }

    #[test]
    fn reference_rows_are_stored_as_base64_of_their_bytes_and_read_from_numbers_too() {
        let bytes: Vec<u8> = (0..=255).collect();
        for n in 0..8 {
            let text = encode(&bytes[..n]);
            assert_eq!(text.len(), n.div_ceil(3) * 4);
            assert_eq!(decode(&text).unwrap(), &bytes[..n]);
        }
        assert_eq!(encode(&1f32.to_le_bytes()), "AACAPw==");
        let values = vec![0.0, 1.0, -2.5, f32::MIN_POSITIVE, 0.1, 1e-7, 3.4e38, -0.0, f32::MAX];
        let back = inflate(&deflate(&values)).unwrap();
        assert_eq!(back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), values.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        // One-hot columns deflate to little: 100,000 values of 0 and 1 in a few kilobytes.
        let one_hot: Vec<f32> = (0..100_000).map(|i| (i % 7 == 0) as u8 as f32).collect();
        assert!(deflate(&one_hot).len() < 10_000);
        let train = Matrix::new(4, 2, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
        let (n, _) = Neighbours::fit(&train, 1, NeighbourDistance::Kth, 0.0, 0).unwrap();
        let json = neighbours_json(&n);
        assert_eq!(json["reference"], serde_json::json!(encode(&deflate(&n.reference))));
        assert_eq!(read_neighbours(json.clone()).unwrap(), n);
        // Format 3 and 4 bundles hold numbers.
        let mut numbers = json.clone();
        numbers["reference"] = serde_json::json!(n.reference);
        assert_eq!(read_neighbours(numbers).unwrap(), n);
        let one = encode(&deflate(&[1.0]));
        let unpadded = encode(&deflate(&[1.0])[..]).replace('=', "");
        for bad in ["AACAPw=", "AA=APw==", "AAC*Pw==", "AACAPw==", unpadded.as_str(), one.as_str()] {
            let mut edited = json.clone();
            edited["reference"] = serde_json::json!(bad);
            let e = read_neighbours(edited).map(|n| n.reference.len());
            if bad == one {
                assert_eq!(e.unwrap(), 1, "one value: accepted here, refused by check() for width 2");
            } else {
                assert!(e.is_err(), "{bad}: {e:?}");
            }
        }
        let mut short = json.clone();
        short["reference"] = serde_json::json!(encode(&{
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&[0, 0, 128]).unwrap();
            e.finish().unwrap()
        }));
        let e = read_neighbours(short).unwrap_err();
        assert!(e.contains("3 bytes are not whole f32 values"), "{e}");
    }

    /// The density ratio is stored beside the reference rows (its reference rows' own distances
    /// as their bytes) and read back whole; a term without one stores none.
    #[test]
    fn the_density_ratio_is_stored_with_the_term() {
        let rows = 40;
        let train = Matrix::new(rows, 2, (0..rows * 2).map(|i| ((i * 37) % 101) as f32 / 101.0).collect());
        let (n, _) = Neighbours::fit(&train, 5, NeighbourDistance::MeanOfK, 0.25, 0).unwrap();
        let ratio = n.ratio.clone().expect("distinct rows keep the ratio");
        let json = neighbours_json(&n);
        assert_eq!(json["ratio"]["own"], serde_json::json!(encode(&deflate(&ratio.own))));
        assert_eq!(json["ratio"]["weight"], serde_json::json!(0.25));
        let back = read_neighbours(json.clone()).unwrap();
        assert_eq!(back, n);
        back.check(2).unwrap();
        let x = Matrix::new(2, 2, vec![0.5, 0.5, 2.0, -1.0]);
        assert_eq!(back.terms(&x).unwrap(), n.terms(&x).unwrap());
        let (plain, _) = Neighbours::fit(&train, 5, NeighbourDistance::MeanOfK, 0.0, 0).unwrap();
        assert!(neighbours_json(&plain).get("ratio").is_none());
        // A stored ratio that does not fit the reference rows is refused by check().
        let mut short = json;
        short["ratio"]["own"] = serde_json::json!(encode(&deflate(&ratio.own[1..])));
        let e = read_neighbours(short).unwrap().check(2).unwrap_err().to_string();
        assert!(e.contains("holds 39 distances, but the term has 40 reference rows"), "{e}");
    }

    /// A deflate bomb (a few kilobytes that inflate to gigabytes) stops at the cap, and an array
    /// of numbers longer than any model keeps is refused as it is read.
    #[test]
    fn stored_reference_rows_are_read_within_bounds() {
        let mut bomb = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            bomb.write_all(&zeros).unwrap();
        }
        let bomb = bomb.finish().unwrap();
        assert!(bomb.len() < 200_000, "{} bytes", bomb.len());
        let e = inflate(&bomb).unwrap_err();
        assert!(e.contains("more than 5000000 values"), "{e}");
        let json = serde_json::json!({"k": 1, "width": 1, "reference": vec![0.0; MAX_REFERENCE_VALUES + 1], "log_distance": [0.0, 1.0]});
        let e = read_neighbours(json).unwrap_err();
        assert!(e.contains("more than 5000000 values"), "{e}");
    }

    #[test]
    fn metrics_of_every_schema_read_and_anything_else_is_none() {
        let read = |v: serde_json::Value| lenient_metrics(v).unwrap();
        let cli = read(serde_json::json!({"test_roc_auc": 0.8, "test_average_precision": 0.3, "test_rows": 10}));
        assert_eq!(cli.map(|m| (m.roc_auc, m.rows)), Some((0.8, 10)));
        let page = read(serde_json::json!({"roc_auc": 0.7, "average_precision": 0.2, "roc": [[0, 0]]})).unwrap();
        assert_eq!(page.roc_auc, 0.7);
        assert_eq!(read(serde_json::json!([1, 2, 3])), None);
        assert_eq!(read(serde_json::json!({"roc_auc": "high", "average_precision": 0.2})), None);
        assert_eq!(read(serde_json::json!(null)), None);
    }
}
