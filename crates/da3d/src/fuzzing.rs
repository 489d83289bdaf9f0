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
