//! The gRPC surface both services share: generated `Intake` and `Query`
//! services, the one table from domain errors to gRPC statuses, the caller's
//! identity from metadata and the layer that authenticates every call
//! (`auth`, a call hook of `hook`, as the metrics layer is), server plumbing
//! (health, reflection, shutdown, logs), and the flags every service takes
//! (`args`), the key files of signed events (`event_keys`), and the bounds on what a caller may send (`codec` for bodies
//! that do not decode, `limits` for their size), TLS and the identity of a
//! client certificate (`tls`), who may call what (`policy`: roles and the
//! method table), per-credential limits (`quota`), files re-read without a
//! restart (`reload`), and reading owner-only secret files (`secret_file`).
#![forbid(unsafe_code)]

pub mod args;
pub mod auth;
pub mod codec;
pub mod event_keys;
pub mod hook;
pub mod identity;
pub mod limits;
pub mod policy;
pub mod quota;
pub mod reload;
pub mod secret_file;
pub mod server;
pub mod status;
pub mod telemetry;
pub mod tls;

/// Messages (from `sy-domain`) and the generated gRPC clients and servers.
pub mod pb {
    #![allow(
        missing_docs,
        unused_qualifications,
        clippy::doc_markdown,
        clippy::large_enum_variant
    )]
    pub use sy_domain::pb::*;
    include!(concat!(env!("OUT_DIR"), "/server/shuangyong.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/client/shuangyong.v1.rs"));
}

/// Encoded descriptors of the protos, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/shuangyong_descriptor.bin"));
