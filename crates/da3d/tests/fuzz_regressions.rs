//! Replays the inputs kept in `crates/da3d/fuzz/regression/<target>/` (ones the fuzzers found,
//! plus hand-made edge cases) through the fuzz targets' code: each must return without a panic.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regression").join(target);
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{target}: {} panics", path.display());
        n += 1;
    }
    n
}

#[test]
fn csv_reader_regressions() {
    assert!(replay("csv_reader", da3d::fuzzing::csv_reader) > 0, "no regression inputs found");
}

#[test]
fn bundle_loader_regressions() {
    assert!(replay("bundle_loader", da3d::fuzzing::bundle_loader) > 0, "no regression inputs found");
}

#[test]
fn bundle_fields_regressions() {
    assert!(replay("bundle_fields", da3d::fuzzing::bundle_fields) > 0, "no regression inputs found");
}

#[test]
fn the_structure_aware_seeds_are_valid_bundles_of_both_scores() {
    use da3d::bundle::Model;
    let seeds = da3d::fuzzing::seed_bundles();
    assert_eq!(seeds.len(), 2);
    let device = burn::tensor::Device::flex();
    let models: Vec<Model> = seeds.iter().map(|b| Model::from_bytes(b, &device).expect("a seed loads")).collect();
    assert_eq!(models[0].header.config.ensemble.members, 2);
    assert!(models[0].header.neighbours.is_some(), "the default seed holds the neighbours term");
    assert_eq!(models[1].header.config.method, da3d::config::Method::Da3d);
}
