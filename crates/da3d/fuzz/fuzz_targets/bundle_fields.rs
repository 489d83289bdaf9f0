//! Valid bundles changed where they mean something (see `da3d::fuzzing::bundle_fields`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| da3d::fuzzing::bundle_fields(bytes));
