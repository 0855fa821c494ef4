//! Generates the protobuf message types (no gRPC services: this crate has no I/O)
//! with a vendored `protoc`, so no system install is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../../proto";
    let files = [
        "../../proto/shuangyong/v1/events.proto",
        "../../proto/shuangyong/v1/intake.proto",
        "../../proto/shuangyong/v1/query.proto",
        "../../proto/shuangyong/v1/admin.proto",
        "../../proto/shuangyong/v1/placement_intake.proto",
        "../../proto/shuangyong/v1/placement_query.proto",
        "../../proto/shuangyong/v1/access.proto",
        "../../proto/shuangyong/v1/notifications.proto",
        "../../proto/shuangyong/v1/notification_events.proto",
    ];
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    config.enable_type_names();
    config.compile_protos(
        &files,
        &[proto_root.into(), protoc_bin_vendored::include_path()?],
    )?;
    println!("cargo:rerun-if-changed={proto_root}");
    Ok(())
}
