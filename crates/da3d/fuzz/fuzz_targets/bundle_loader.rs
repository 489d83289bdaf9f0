//! The model-bundle loader (see `da3d::fuzzing::bundle_loader`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| da3d::fuzzing::bundle_loader(bytes));
