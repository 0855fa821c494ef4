//! The `sy-intake` binary parses its flags. Being an integration test of this
//! package, it also makes `cargo test --workspace` build the binary that
//! the end-to-end suites in `tests/` spawn.

use std::process::Command;

#[test]
fn help_lists_the_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_sy-intake"))
        .arg("--help")
        .output()
        .expect("sy-intake runs");
    assert!(output.status.success(), "--help failed: {output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("--nats-url"),
        "--help does not mention --nats-url:\n{help}"
    );
}
