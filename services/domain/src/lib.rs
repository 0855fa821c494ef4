//! The domain of support requests (军地双向支持需求) and the placement
//! programmes: the log's protobuf types and, for every aggregate kind, the one
//! way of each thing: its command messages parsed at the edge through
//! `command_meta::CommandMessage` (in `<kind>/command.rs`), and the pure
//! `decide` / `apply` pair of the `aggregate::Aggregate` trait, with the
//! follow-up commands an event implies (`follow_up::Implies`).
//!
//! Nothing here does I/O or knows about NATS, sled or gRPC transport, so the
//! rules can be tested as given(events) / when(command) / then(event or error)
//! and folded identically by intake (to decide) and projection (to serve).
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod allowance;
pub mod audit;
pub mod command_meta;
pub mod double_list;
pub mod error;
pub mod event;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod follow_up;
pub mod notification;
pub mod person;
pub mod person_data;
pub mod pii;
pub mod placement;
pub mod request;
pub mod signature;
pub mod station;
pub mod subscription;
pub mod supervision;
pub mod upcast;
pub mod validate;

/// Protobuf messages generated from `proto/shuangyong/v1` (messages only; the
/// gRPC services are generated in `sy-api`).
pub mod pb {
    #![allow(missing_docs, clippy::doc_markdown, clippy::large_enum_variant)]
    include!(concat!(env!("OUT_DIR"), "/shuangyong.v1.rs"));
}

pub use error::{DomainError, FieldViolation};
