//! `sy rebuild`: asks a projection replica to rebuild its read model from
//! the log (`Admin.Rebuild`, served beside Query at `--query-url`) and
//! follows the progress stream: replaying, verifying against the live model
//! at the same position, switching. ABORTED (the two disagree; nothing was
//! switched) is a failed verification, exit 3.

use sy_api::pb::admin_client::AdminClient;
use sy_api::pb::rebuild_progress::Phase;
use sy_api::pb::{self, RebuildProgress, RebuildRequest};
use tonic::Code;

use crate::error::Error;
use crate::log;
use crate::render::or_dash;
use crate::rpc::{self, Endpoints, as_actor};

const CALL: &str = "Admin.Rebuild";

pub fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Unspecified => "starting",
        Phase::Replaying => "replaying the log",
        Phase::Verifying => "verifying against the live read model",
        Phase::Switched => "switched",
    }
}

/// A failed call, with ABORTED as a failed verification.
fn failed(status: tonic::Status) -> Error {
    if status.code() == Code::Aborted {
        Error::Verification(format!(
            "rebuild ABORTED, nothing was switched: {}",
            status.message()
        ))
    } else {
        Error::Rpc { call: CALL, status }
    }
}

/// What the last message says, once the stream has ended.
pub fn outcome(last: Option<&RebuildProgress>) -> Result<String, Error> {
    match last {
        Some(done) if done.phase() == Phase::Switched => Ok(format!(
            "switched: the read model was rebuilt from the log and verified against the live one at position {}\n\
             log digest         {}\n\
             read model digest  {}\n\
             data dir           {}",
            done.position,
            or_dash(&done.log_digest),
            or_dash(&done.read_model_digest),
            or_dash(&done.data_dir),
        )),
        Some(progress) => Err(Error::Failed(format!(
            "the rebuild stream ended while {} (position {}), before the switch",
            phase_label(progress.phase()),
            progress.position
        ))),
        None => Err(Error::Failed(
            "the rebuild stream ended without any progress".into(),
        )),
    }
}

/// Runs `sy rebuild`.
pub async fn run(endpoints: &Endpoints, actor: &pb::Actor) -> Result<(), Error> {
    let channel = rpc::connect_streaming(&endpoints.query_url).await?;
    let mut admin = AdminClient::new(channel);
    say!("rebuilding the read model of {}", endpoints.query_url);
    let mut stream = admin
        .rebuild(as_actor(RebuildRequest {}, actor)?)
        .await
        .map_err(failed)?
        .into_inner();
    let bar = log::progress(0, phase_label(Phase::Unspecified));
    let mut last: Option<RebuildProgress> = None;
    while let Some(progress) = stream.message().await.map_err(|status| {
        bar.abandon();
        failed(status)
    })? {
        let phase = progress.phase();
        if last.as_ref().map(RebuildProgress::phase) != Some(phase) {
            bar.set_message(phase_label(phase));
            if phase == Phase::Verifying {
                bar.suspend(|| {
                    say!(
                        "verifying at position {} (live at {})",
                        progress.position,
                        progress.live_position
                    );
                });
            }
        }
        bar.set_length(progress.live_position.max(progress.position));
        bar.set_position(progress.position);
        let switched = phase == Phase::Switched;
        last = Some(progress);
        if switched {
            break;
        }
    }
    bar.finish_and_clear();
    say!("{}", outcome(last.as_ref())?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aborted_is_a_failed_verification() {
        let err = failed(tonic::Status::aborted("log digest differs: a vs b"));
        assert_eq!(err.exit_code(), crate::error::EXIT_VERIFICATION);
        assert!(err.to_string().contains("log digest differs: a vs b"));
        let err = failed(tonic::Status::failed_precondition(
            "a rebuild is already running",
        ));
        assert_eq!(err.exit_code(), crate::error::EXIT_FAILED);
    }

    #[test]
    fn only_a_switch_ends_a_rebuild() {
        let mut progress = RebuildProgress {
            phase: Phase::Verifying as i32,
            position: 120,
            live_position: 120,
            ..Default::default()
        };
        assert!(outcome(Some(&progress)).is_err());
        assert!(outcome(None).is_err());
        progress.phase = Phase::Switched as i32;
        progress.log_digest = "ab".repeat(32);
        progress.data_dir = "/data/gen-2".into();
        let text = outcome(Some(&progress)).unwrap();
        assert!(text.contains("position 120"));
        assert!(text.contains("data dir           /data/gen-2"));
        assert!(text.contains("read model digest  -"));
    }
}
