//! Generates the gRPC services of `proto/shuangyong/v1`. Messages are not
//! generated again: they come from `sy-domain` (extern path), so the domain and
//! the wire share one set of types.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../../proto";
    let files = [
        "../../proto/shuangyong/v1/intake.proto",
        "../../proto/shuangyong/v1/query.proto",
        "../../proto/shuangyong/v1/admin.proto",
        "../../proto/shuangyong/v1/placement_intake.proto",
        "../../proto/shuangyong/v1/placement_query.proto",
    ];
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .extern_path(".shuangyong.v1", "::sy_domain::pb")
        .file_descriptor_set_path(out_dir.join("shuangyong_descriptor.bin"))
        .compile_with_config(
            config,
            &files.map(PathBuf::from),
            &[
                PathBuf::from(proto_root),
                protoc_bin_vendored::include_path()?,
            ],
        )?;
    println!("cargo:rerun-if-changed={proto_root}");
    Ok(())
}
