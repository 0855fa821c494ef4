//! Fuzz target: arbitrary bytes as any intake command message, parsed and
//! decided (`sy_fuzz::parse_command`). Must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sy_fuzz::parse_command(data));
