//! The bodies of the fuzz targets (`crates/da3d/fuzz`), here so that the inputs the fuzzers
//! found are replayed by ordinary tests (`tests/fuzz_regressions.rs`) through the same code.
//! Each function must return for any input; a panic is a bug.

use burn::tensor::Device;

use crate::bundle::{Model, fnv1a};
use crate::data::{self, Preprocessor, ReadOptions, RecordReader, read_table_bytes};

/// The CSV reader and everything after it that a user's file reaches before training: reading
/// with several option sets (picked by the first byte), fitting the preprocessing, transforming,
/// the streaming row encoder of `score`, and the paper's split.
pub fn csv_reader(bytes: &[u8]) {
    // The first byte picks the options, the rest is the file.
    let Some((&pick, file)) = bytes.split_first() else { return };
    let mut options = ReadOptions::default();
    if pick & 1 == 1 {
        options.label = Some("label".into());
        options.require_label = pick & 2 == 2;
    }
    if pick & 4 == 4 {
        options.categorical = vec!["*".into()];
    }
    if pick & 8 == 8 {
        options.split_column = Some("split".into());
    }
    if pick & 16 == 16 {
        options.ignore = vec!["meta_".into()];
    }
    if pick & 32 == 32 {
        options.delimiter = Some(b';');
    }
    let Ok(table) = read_table_bytes(file, &options) else { return };
    // Fit on the first half of the rows: the rest (and the streamed file) then holds values
    // outside the training range and unseen categories, as a scored file does.
    let rows: Vec<usize> = (0..table.n_rows()).collect();
    let fit_rows = &rows[..rows.len().div_ceil(2)];
    if let Ok(pre) = Preprocessor::fit(&table, fit_rows, options.label.clone()) {
        if let Ok((m, _)) = pre.transform(&table, &rows) {
            assert_eq!(m.rows, rows.len());
            assert_eq!(m.cols, pre.width());
            assert!(m.values.iter().all(|v| v.is_finite()), "non-finite feature");
        }
        // The streaming path of `score`: the same file, record by record.
        if let Ok(mut reader) = RecordReader::new(file, options.delimiter) {
            let headers = reader.headers().to_vec();
            if let Ok(encoder) = pre.row_encoder(&headers, options.label.as_deref(), pick & 64 == 64) {
                let (mut out, mut stats) = (Vec::new(), Default::default());
                while let Ok(Some((line, fields))) = reader.next_record() {
                    if encoder.encode(&fields, line, &mut out, &mut stats).is_err() {
                        break;
                    }
                }
                assert!(out.iter().all(|v: &f32| v.is_finite()), "non-finite streamed feature");
            }
        }
    }
    if table.labels.is_some() {
        let _ = data::prepare(&table, options.label.clone(), 0.01, 7);
    }
}

/// The model-bundle loader. A mutated bundle almost always fails the checksum, so the input is
/// also loaded with a correct checksum patched in: that reaches the header JSON, the stored
/// config and the weights. A bundle that loads must score and serialise again.
pub fn bundle_loader(bytes: &[u8]) {
    let device = Device::flex();
    let _ = Model::read_header(bytes);
    let _ = Model::from_bytes(bytes, &device);
    if bytes.len() > 8 {
        let mut fixed = bytes.to_vec();
        let end = fixed.len() - 8;
        let sum = fnv1a(&fixed[..end]);
        fixed[end..].copy_from_slice(&sum.to_le_bytes());
        if let Ok(model) = Model::from_bytes(&fixed, &device) {
            // A model that loads must also score and save again.
            let width = model.header.preprocessor.width();
            let x = data::Matrix::new(2, width, vec![0.5; 2 * width]);
            let _ = crate::wait(model.detector().score(&x, crate::ScoreKind::Model));
            let _ = model.to_bytes();
        }
    }
}

/// Valid bundles of the shapes the current format holds, trained once per process on a small
/// synthetic table (a categorical column among numbers): the default detector (a two-member
/// ensemble with the neighbours and tails terms) and DA³D alone (the alarm's score).
pub fn seed_bundles() -> &'static [Vec<u8>] {
    use crate::config::{Method, Preset};
    use crate::pipeline::{ConfigOverrides, Fit, FitRequest};
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut csv = String::from("x1,x2,x3,kind,label\n");
        for i in 0..160u32 {
            let t = i as f32 / 160.0;
            let anomalous = i % 20 == 7;
            let shift = if anomalous { 3.0 } else { 0.0 };
            let kind = ["a", "b", "c"][(i % 3) as usize];
            csv.push_str(&format!("{},{},{},{kind},{}\n", t + shift, (t * 6.0).sin(), (i % 7) as f32 * 0.1, anomalous as u8));
        }
        let options = ReadOptions::default();
        let table = read_table_bytes(csv.as_bytes(), &options).expect("the seed table reads");
        let device = Device::flex();
        let shapes = [(Preset::Robust, None, 2), (Preset::Paper, Some(Method::Da3d), 1)];
        shapes
            .into_iter()
            .map(|(preset, method, members)| {
                let overrides = ConfigOverrides {
                    method,
                    aae_epochs: Some(2),
                    pretrain_epochs: Some(1),
                    da3d_epochs: Some(1),
                    members: Some(members),
                    ..ConfigOverrides::new(preset)
                };
                let (data, config) = FitRequest::new(overrides).prepare(&table).expect("the seed config is valid");
                let mut fit = Fit::start(data, config, &options, &device, "flex").expect("the seed fit starts");
                while crate::wait(fit.trainer().step_epoch()).expect("the seed trains").is_some() {}
                crate::wait(fit.finish()).expect("the seed finishes").model.to_bytes().expect("the seed saves")
            })
            .collect()
    })
}

/// The input of a structure-aware target, read a piece at a time (zeros once it is spent).
struct Picks<'a>(&'a [u8]);

impl Picks<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
}

/// Values that probe a field's bounds: zero and one, negatives, sizes past any allocation,
/// numbers beyond f32 and u64, what is not a number at all.
fn probe_value(pick: u8, old: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    match pick % 24 {
        0 => json!(0),
        1 => json!(1),
        2 => json!(-1),
        3 => json!(2),
        4 => json!(0.5),
        5 => json!(1e-30),
        6 => json!(1e30),
        7 => json!(1e308),
        8 => json!(-1e308),
        9 => json!(u32::MAX),
        10 => json!(u64::MAX),
        11 => json!(i64::MIN),
        12 => json!(9_007_199_254_740_993u64),
        13 => json!(""),
        14 => json!("NaN"),
        15 => json!("inf"),
        16 => serde_json::Value::Null,
        17 => json!(true),
        18 => json!([]),
        19 => json!({}),
        20 => json!(1_000_000),
        21 => old.as_f64().map_or(json!(100_000), |v| json!(v * 1000.0)),
        22 => old.as_f64().map_or(json!(-3), |v| json!(-v)),
        _ => old.as_f64().map_or(json!("x"), |v| json!(v + 1.0)),
    }
}

/// JSON pointers of every leaf and every array under `v`.
fn paths(v: &serde_json::Value, at: String, leaves: &mut Vec<String>, arrays: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                paths(child, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), leaves, arrays);
            }
        }
        serde_json::Value::Array(items) => {
            arrays.push(at.clone());
            for (i, child) in items.iter().enumerate() {
                paths(child, format!("{at}/{i}"), leaves, arrays);
            }
        }
        _ => leaves.push(at),
    }
}

/// Valid bundles ([`seed_bundles`]) changed where they mean something: header fields set to
/// values that probe their bounds, arrays emptied, cut or grown, the neighbours term's reference
/// rows (deflated inside the header) given other values or another count, the weights' bytes
/// changed or cut, another format version; then framed with a correct checksum and loaded. The
/// first input byte picks the seed, the next how many changes, each change reads what it needs.
/// A bundle that loads must score two rows and save again.
pub fn bundle_fields(bytes: &[u8]) {
    use crate::bundle::{FORMAT_VERSION, codec, frame};
    let mut picks = Picks(bytes);
    let seeds = seed_bundles();
    let seed = &seeds[picks.byte() as usize % seeds.len()];
    let (mut version, header, weights) = frame::split(seed).expect("the seed bundles are valid");
    let mut header: serde_json::Value = serde_json::from_slice(header).expect("the seed header is JSON");
    let mut weights = weights.to_vec();
    let changes = 1 + picks.byte() % 4;
    for _ in 0..changes {
        let (mut leaves, mut arrays) = (Vec::new(), Vec::new());
        paths(&header, String::new(), &mut leaves, &mut arrays);
        match picks.byte() % 6 {
            0 | 1 => {
                let path = &leaves[picks.u32() as usize % leaves.len()];
                let slot = header.pointer_mut(path).expect("a leaf's path");
                // A long string is the neighbours term's deflated reference rows: change the rows.
                let rows = slot.as_str().filter(|s| s.len() > 64).and_then(|s| codec::decode(s).ok()).and_then(|b| codec::inflate(&b).ok());
                match rows {
                    Some(mut values) if picks.byte() % 2 == 0 => {
                        match picks.byte() % 4 {
                            0 => values.truncate(picks.u32() as usize % (values.len() + 1)),
                            1 => {
                                let extra = values.len().min(1 + picks.u32() as usize % 4096);
                                values.extend_from_within(..extra);
                            }
                            2 if !values.is_empty() => {
                                let at = picks.u32() as usize % values.len();
                                values[at] = [f32::NAN, f32::INFINITY, -f32::MAX, 1e30, 0.0][picks.byte() as usize % 5];
                            }
                            _ => values.clear(),
                        }
                        *slot = serde_json::Value::String(codec::encode(&codec::deflate(&values)));
                    }
                    _ => *slot = probe_value(picks.byte(), slot),
                }
            }
            2 if !arrays.is_empty() => {
                let path = &arrays[picks.u32() as usize % arrays.len()];
                let items = header.pointer_mut(path).and_then(|v| v.as_array_mut()).expect("an array's path");
                match picks.byte() % 4 {
                    0 => items.clear(),
                    1 => items.truncate(picks.u32() as usize % (items.len() + 1)),
                    2 if !items.is_empty() => {
                        let copies = 1 + picks.byte() as usize % 64;
                        let item = items[picks.u32() as usize % items.len()].clone();
                        items.extend(std::iter::repeat_n(item, copies));
                    }
                    _ => items.reverse(),
                }
            }
            3 if !weights.is_empty() => {
                let at = picks.u32() as usize % weights.len();
                weights[at] = picks.byte();
            }
            4 if !weights.is_empty() => {
                let keep = picks.u32() as usize % weights.len();
                weights.truncate(keep);
            }
            _ => version = 1 + picks.byte() as u32 % FORMAT_VERSION,
        }
    }
    let bytes = frame::frame(version, &serde_json::to_vec(&header).expect("JSON"), &weights);
    let device = Device::flex();
    if let Ok(model) = Model::from_bytes(&bytes, &device) {
        let width = model.header.preprocessor.width();
        let x = data::Matrix::new(2, width, vec![0.5; 2 * width]);
        let _ = crate::wait(model.detector().score(&x, crate::ScoreKind::Model));
        let _ = model.to_bytes();
    }
}
