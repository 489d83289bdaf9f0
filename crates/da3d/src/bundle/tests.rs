//! Loading refuses what a bundle may not hold, before it allocates.

use burn::tensor::Device;
use serde_json::Value;

use super::*;
use super::frame::{frame, split};

/// A small real bundle (the fuzzers' seed), with its header replaced by `edit(header)` and a
/// correct checksum.
fn edited(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let bytes: &[u8] = include_bytes!("../../fuzz/regression/bundle_loader/valid-tiny.da3d");
    let (version, header, weights) = split(bytes).expect("the seed bundle is valid");
    let mut header: Value = serde_json::from_slice(header).unwrap();
    edit(&mut header);
    frame(version, &serde_json::to_vec(&header).unwrap(), weights)
}

fn load_error(bytes: &[u8]) -> String {
    Model::from_bytes(bytes, &Device::flex()).err().expect("refused").to_string()
}

#[test]
fn the_seed_bundle_loads_unchanged() {
    assert!(Model::from_bytes(&edited(|_| {}), &Device::flex()).is_ok());
}

/// Every `robust` and `quick` model loads: the networks it does not store stay within three
/// quarters of the bound on what loading builds beside the stored autoencoders, at any width
/// (`robust` models of some 260 to 3,000 inputs were refused under a bound of 2^24).
#[test]
fn the_defaults_unstored_networks_stay_within_the_bound_at_any_width() {
    use crate::config::{DataShape, Preset, TrainingConfig};
    for preset in [Preset::Robust, Preset::Quick] {
        for inputs in [2, 6, 20, 50, 77, 100, 150, 200, 256, 300, 400, 500, 600, 1_000, 1_500, 2_000, 3_000, 10_000, 50_000] {
            let config = TrainingConfig::preset_for_data(preset, DataShape::numeric(inputs, 1_000), None);
            let networks = config.networks(inputs);
            let members = config.ensemble.members as u64;
            let (stored, unstored) = (networks.aae_parameter_count() * members, (networks.parameter_count() - networks.aae_parameter_count()) * members);
            assert!(
                unstored <= (stored * validate::UNSTORED_PER_STORED).max(validate::UNSTORED_PARAMETERS) * 3 / 4,
                "{preset:?}, {inputs} inputs: {unstored} unstored against {stored} stored"
            );
        }
    }
}

#[test]
fn huge_stored_networks_are_refused_before_allocating() {
    // Consistent config and networks, two alarm layers of 60,000 units (within the width
    // limit): 14 GB of weights that are not there.
    let bytes = edited(|h| {
        h["config"]["architecture"]["alarm"] = serde_json::json!([60_000, 60_000]);
        h["networks"]["alarm"]["hidden"] = serde_json::json!([60_000, 60_000]);
    });
    let e = load_error(&bytes);
    assert!(e.contains("parameters but the weights hold only"), "{e}");
}

#[test]
fn member_counts_and_score_scales_must_fit_the_format() {
    // A format-1 bundle claiming an ensemble.
    let bytes = edited(|h| h["config"]["ensemble"] = serde_json::json!({"members": 2, "scoring": "alarm"}));
    assert!(load_error(&bytes).contains("bundle format 1 cannot hold 2 ensemble members"), "{}", load_error(&bytes));
    // The combined score without its scales.
    let bytes = edited(|h| h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "alarm-and-reconstruction"}));
    assert!(load_error(&bytes).contains("1 members but 0 score scales"), "{}", load_error(&bytes));
    // Scales of the wrong width, or not finite.
    let scale = |residual: serde_json::Value| serde_json::json!([{"residual": residual, "logit": [0.0, 1.0], "log_error": [0.0, 1.0]}]);
    let bytes = edited(|h| {
        h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "alarm-and-reconstruction"});
        h["scales"] = scale(serde_json::json!([[0.0, 1.0]]));
    });
    assert!(load_error(&bytes).contains("residual moments for"), "{}", load_error(&bytes));
    let d = Model::read_header(&edited(|_| {})).unwrap().networks.aae.d_input;
    let bytes = edited(|h| {
        h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "alarm-and-reconstruction"});
        let mut residual = vec![serde_json::json!([0.0, 1.0]); d];
        residual[0] = serde_json::json!([0.0, -1.0]);
        h["scales"] = scale(serde_json::json!(residual));
    });
    assert!(load_error(&bytes).contains("not finite and positive"), "{}", load_error(&bytes));
}

#[test]
fn a_residual_tails_score_needs_format_4() {
    let d = Model::read_header(&edited(|_| {})).unwrap().networks.aae.d_input;
    let tails_scored = |h: &mut Value| {
        h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "reconstruction-and-tails"});
        h["config"]["schedule"]["pretrain_epochs"] = serde_json::json!(0);
        h["config"]["schedule"]["da3d_epochs"] = serde_json::json!(0);
        h["scales"] = serde_json::json!([{"residual": vec![[0.0, 1.0]; d], "logit": [0.0, 1.0], "log_error": [0.0, 1.0]}]);
    };
    // Older formats cannot hold it (an older build would not know the score) ...
    let e = load_error(&edited(tails_scored));
    assert!(e.contains("bundle format 1 cannot hold a residual tails term"), "{e}");
    // ... formats 4 and 5 are only for it (5 or for a neighbours term) ...
    let bytes: &[u8] = include_bytes!("../../fuzz/regression/bundle_loader/valid-tiny.da3d");
    let (_, header, weights) = split(bytes).unwrap();
    let e = load_error(&frame(4, header, weights));
    assert!(e.contains("bundle format 4 needs a residual tails term"), "{e}");
    let e = load_error(&frame(5, header, weights));
    assert!(e.contains("bundle format 5 needs a neighbours term or a residual tails term"), "{e}");
    // ... and the tails term alone needs format 5 (a format-4 build does not know it).
    let tails_alone = |h: &mut Value| {
        tails_scored(h);
        h["config"]["ensemble"]["scoring"] = serde_json::json!("tails");
    };
    let e = load_error(&edited(tails_alone));
    assert!(e.contains("bundle format 1 cannot hold a residual tails term (format 5 does)"), "{e}");
    let alone = edited(tails_alone);
    let (_, header, weights) = split(&alone).unwrap();
    let e = load_error(&frame(4, header, weights));
    assert!(e.contains("bundle format 4 cannot hold the score `tails` (format 5 does)"), "{e}");
}

#[test]
fn a_model_that_reads_its_autoencoders_alone_stores_them_alone_as_format_6() {
    use crate::detector::ScoreKind;
    let seed = Model::from_bytes(&edited(|_| {}), &Device::flex()).unwrap();
    let d = seed.header.networks.aae.d_input;
    // The seed model, scored by its reconstruction alone and trained without an alarm.
    let mut model = seed.clone();
    model.header.config.ensemble.scoring = Scoring::Reconstruction;
    model.header.config.schedule.pretrain_epochs = 0;
    model.header.config.schedule.da3d_epochs = 0;
    model.header.scales = Some(vec![MemberScale { residual: vec![(0.0, 1.0); d], logit: (0.0, 1.0), log_error: (0.0, 1.0), tails: None }]);
    assert!(reads_autoencoders_alone(&model.header.config) && !reads_autoencoders_alone(&seed.header.config));
    let bytes = model.to_bytes().unwrap();
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 6);
    let (_, _, weights) = split(&bytes).unwrap();
    let seed_bytes = seed.to_bytes().unwrap();
    let (_, _, full) = split(&seed_bytes).unwrap();
    let aae = model.header.networks.aae_parameter_count() as usize;
    assert!(weights.len() >= 4 * aae && weights.len() < full.len(), "{} bytes of weights for {aae} parameters", weights.len());
    // It loads to the same autoencoder: the same scores.
    let loaded = Model::from_bytes(&bytes, &Device::flex()).unwrap();
    let rows = crate::data::Matrix::new(3, d, (0..3 * d).map(|i| (i % 7) as f32 / 7.0).collect());
    for kind in [ScoreKind::Model, ScoreKind::Reconstruction] {
        assert_eq!(wait(loaded.detector().score(&rows, kind)).unwrap(), wait(model.detector().score(&rows, kind)).unwrap());
    }
    assert_eq!(loaded.to_bytes().unwrap(), bytes, "written again byte for byte");
    // A format-6 file whose config scores with the alarm (or trains it) is refused: the
    // alarm it needs is not there.
    let (_, header, weights) = split(&bytes).unwrap();
    let mut h: Value = serde_json::from_slice(header).unwrap();
    h["config"]["schedule"]["da3d_epochs"] = serde_json::json!(3);
    let e = load_error(&frame(6, &serde_json::to_vec(&h).unwrap(), weights));
    assert!(e.contains("bundle format 6 holds the autoencoders alone"), "{e}");
    // Weights too few for the autoencoders are refused before allocating.
    let e = load_error(&frame(6, header, &weights[..4 * aae - 1]));
    assert!(e.contains(&format!("the stored networks have {aae} parameters but the weights hold only")), "{e}");
    // The alarm it does not store is built from the config: two layers of 60,000 units (14 GB)
    // are refused before anything is built.
    let mut h: Value = serde_json::from_slice(header).unwrap();
    h["config"]["architecture"]["alarm"] = serde_json::json!([60_000, 60_000]);
    h["networks"]["alarm"]["hidden"] = serde_json::json!([60_000, 60_000]);
    let e = load_error(&frame(6, &serde_json::to_vec(&h).unwrap(), weights));
    assert!(e.contains("the config's alarm, generator and critics would have"), "{e}");
}

#[test]
fn a_neighbours_term_needs_format_3_reference_rows_of_the_input_width_and_its_config() {
    let d = Model::read_header(&edited(|_| {})).unwrap().networks.aae.d_input;
    let scales = serde_json::json!([{"residual": vec![[0.0, 1.0]; d], "logit": [0.0, 1.0], "log_error": [0.0, 1.0]}]);
    let combined = |h: &mut Value, k: usize| {
        h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "alarm-and-reconstruction", "neighbours": k});
        h["scales"] = scales.clone();
    };
    let neighbours = |width: usize, values: Vec<f32>, std: f32| serde_json::json!({"k": 1, "width": width, "reference": values, "log_distance": [0.0, std]});
    // A format-1 file (older builds' layout) may not carry the term, nor a config asking for it
    // come without its rows.
    let bytes = edited(|h| {
        combined(h, 1);
        h["neighbours"] = neighbours(d, vec![0.0; 2 * d], 1.0);
    });
    assert!(load_error(&bytes).contains("bundle format 1 cannot hold a neighbours term"), "{}", load_error(&bytes));
    let reframed = |bytes: Vec<u8>| {
        // The seed bundle's one member, as the `Vec<Networks>` record formats 2 and 3 hold.
        let (_, header, _) = split(&bytes).unwrap();
        let single: Networks = Model::from_bytes(&edited(|_| {}), &Device::flex()).unwrap().members.remove(0);
        frame(3, header, &vec![single].into_record().into_bytes().unwrap())
    };
    let ok = reframed(edited(|h| {
        combined(h, 1);
        h["neighbours"] = neighbours(d, vec![0.0; 2 * d], 1.0);
    }));
    let model = Model::from_bytes(&ok, &Device::flex()).expect("a consistent format-3 bundle loads");
    // This build writes it as format 5, the reference rows as base64 of their bytes.
    let again = model.to_bytes().unwrap();
    assert_eq!(again[8..12], 5u32.to_le_bytes());
    let header: Value = serde_json::from_slice(split(&again).unwrap().1).unwrap();
    assert!(header["neighbours"]["reference"].is_string(), "{}", header["neighbours"]);
    assert_eq!(Model::from_bytes(&again, &Device::flex()).unwrap().header, model.header);
    let e = load_error(&reframed(edited(|h| combined(h, 1))));
    assert!(e.contains("bundle format 3 needs a neighbours term"), "{e}");
    let e = load_error(&reframed(edited(|h| {
        combined(h, 1);
        h["neighbours"] = neighbours(d + 1, vec![0.0; 2 * (d + 1)], 1.0);
    })));
    assert!(e.contains("the networks take"), "{e}");
    let e = load_error(&reframed(edited(|h| {
        combined(h, 1);
        h["neighbours"] = neighbours(d, vec![0.0; 2 * d], 0.0);
    })));
    assert!(e.contains("not finite"), "{e}");
    let e = load_error(&reframed(edited(|h| {
        combined(h, 0);
        h["neighbours"] = neighbours(d, vec![0.0; 2 * d], 1.0);
    })));
    assert!(e.contains("does not ask for"), "{e}");
}

#[test]
fn stored_networks_must_match_the_stored_config() {
    let bytes = edited(|h| h["networks"]["alarm"]["dropout"] = serde_json::json!(1.2));
    assert!(load_error(&bytes).contains("the stored networks do not match the stored config"));
}

#[test]
fn the_density_ratio_needs_format_8() {
    let bytes: &[u8] = include_bytes!("../../fuzz/regression/bundle_loader/valid-tiny.da3d");
    let (_, header, weights) = split(bytes).unwrap();
    let mut h: Value = serde_json::from_slice(header).unwrap();
    h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "scaled-tails", "neighbours": 5, "density_ratio": 0.25});
    let e = load_error(&frame(7, &serde_json::to_vec(&h).unwrap(), weights));
    assert!(e.contains("format 8 does"), "{e}");
    let e = load_error(&frame(9, &serde_json::to_vec(&h).unwrap(), weights));
    assert!(e.contains("newer da3d"), "{e}");
}

#[test]
fn the_default_score_needs_format_7() {
    let bytes: &[u8] = include_bytes!("../../fuzz/regression/bundle_loader/valid-tiny.da3d");
    let (_, header, weights) = split(bytes).unwrap();
    let mut h: Value = serde_json::from_slice(header).unwrap();
    h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "scaled-tails"});
    for version in [5, 6] {
        let e = load_error(&frame(version, &serde_json::to_vec(&h).unwrap(), weights));
        assert!(e.contains("format 7 does"), "format {version}: {e}");
    }
    h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "tails", "neighbours": 5, "neighbours_distance": "mean-of-k"});
    let e = load_error(&frame(6, &serde_json::to_vec(&h).unwrap(), weights));
    assert!(e.contains("format 7 does") || e.contains("neighbours"), "{e}");
}
