//! Fuzz target: arbitrary bytes as a sequence of event envelopes, decoded,
//! upcast and folded into every aggregate kind (`sy_fuzz::fold_events`).
//! Must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sy_fuzz::fold_events(data));
