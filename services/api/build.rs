//! Generates the gRPC services of `proto/shuangyong/v1`. Messages are not
//! generated again: they come from `sy-domain` (extern path), so the domain and
//! the wire share one set of types.
//!
//! Servers and clients are generated apart: the servers decode requests with
//! `sy_api::codec::RequestCodec` (an undecodable request is the caller's
//! mistake, `INVALID_ARGUMENT`), the clients keep tonic-prost's codec (an
//! undecodable reply stays `INTERNAL`, as gRPC says).

use std::path::{Path, PathBuf};

const PROTO_ROOT: &str = "../../proto";
const FILES: [&str; 6] = [
    "../../proto/shuangyong/v1/intake.proto",
    "../../proto/shuangyong/v1/query.proto",
    "../../proto/shuangyong/v1/admin.proto",
    "../../proto/shuangyong/v1/placement_intake.proto",
    "../../proto/shuangyong/v1/placement_query.proto",
    "../../proto/shuangyong/v1/notifications.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let servers = tonic_prost_build::configure()
        .build_client(false)
        .codec_path("crate::codec::RequestCodec")
        .file_descriptor_set_path(out_dir.join("shuangyong_descriptor.bin"));
    generate(servers, &out_dir.join("server"))?;
    generate(
        tonic_prost_build::configure().build_server(false),
        &out_dir.join("client"),
    )?;
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    Ok(())
}

/// Runs `builder` over the protos into `out_dir`, with the vendored `protoc`.
fn generate(
    builder: tonic_prost_build::Builder,
    out_dir: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out_dir)?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    builder
        .extern_path(".shuangyong.v1", "::sy_domain::pb")
        .out_dir(out_dir)
        .compile_with_config(
            config,
            &FILES.map(PathBuf::from),
            &[
                PathBuf::from(PROTO_ROOT),
                protoc_bin_vendored::include_path()?,
            ],
        )?;
    Ok(())
}
