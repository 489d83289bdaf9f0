//! The CSV reader (see `da3d::fuzzing::csv_reader`).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| da3d::fuzzing::csv_reader(bytes));
