#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| openjpki_fuzz::attest_inputs(data));
