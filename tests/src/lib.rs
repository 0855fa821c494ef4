//! Testkit for the end-to-end suites: real `nats-server`, real service
//! binaries, real gRPC.
//!
//! - [`NatsServer`]: a JetStream server on a free port (or one chosen
//!   beforehand with [`free_port`]) with its own store, killable and
//!   restartable on the same port (after nats.rs's test crate); or secured
//!   as a deployment runs it (TLS, users from `sy setup`: [`Secrets`]).
//! - [`Service`]: `sy-intake` / `sy-projection` as child processes, found
//!   serving through their `listening addr=` log line; SIGKILL, SIGTERM and
//!   restart on the same data dir.
//! - [`Pki`] (`tls`): a test CA, server and client certificates, and TLS
//!   channels; [`ServiceBuilder::tls`] serves TLS with them.
//! - [`System`]: both services on one server with a stream and a data dir of
//!   their own, with clients that carry the actor metadata.
//!
//! Every child's output is kept and printed when its owner drops, so a failing
//! test shows what each process said.
//!
//! Run: `cargo test --workspace` (builds the service binaries too), or
//! `cargo build --workspace --bins && cargo test -p sy-tests`. Environment:
//! `SY_NATS_SERVER` (nats-server binary), `SY_INTAKE_BIN` / `SY_PROJECTION_BIN`
//! (service binaries), `SY_TEST_RUST_LOG` (the services' `RUST_LOG`, default
//! `info`), `SY_TEST_QUIET=1` (no log dumps).
#![forbid(unsafe_code)]

pub mod check;
pub mod client;
pub mod log;
pub mod metrics;
pub mod nats;
pub mod process;
pub mod service;
pub mod system;
pub mod tls;

pub use check::{board, expect_code, get_request, health, list_all, row, violated_fields};
pub use client::{
    AGENCY, AREA_CODE, ActorInterceptor, DEPARTMENT, DEPARTMENT_AGENCY, IntakeClient, QueryClient,
    USER, ctx, date_in_days, eventually, fresh_ctx, new_key, submit_command,
};
pub use log::log_as_intake_makes_it;
pub use nats::{NatsServer, Secrets, free_port};
pub use process::binary_path;
pub use service::{Service, ServiceBuilder};
pub use sy_api::pb;
pub use system::{CONVERGE, SIGNING_KEY_ID, System, SystemBuilder, wait_applied};
pub use tls::{KeyedCert, Pki, TestCa, tls_channel};
