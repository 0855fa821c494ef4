//! `sy status`: where a projection replica is (`GetProjectionStatus`): the
//! position it has folded, the log digest there (compare it with `sy verify
//! --expect-digest`), optionally the read model digest, the quarantine count,
//! and how far it lags behind the log.

use comfy_table::Table;
use sy_api::pb;

use crate::args::StatusArgs;
use crate::error::Error;
use crate::render;
use crate::rpc::{Endpoints, read_with_retry};

/// The status as a two-column table.
pub fn table(url: &str, status: &pb::ProjectionStatus) -> Table {
    let mut table = render::table(&["", "value"]);
    let (log_last, lag) = if status.read_only {
        (
            "- (read-only: not following the log)".to_string(),
            "-".to_string(),
        )
    } else if status.log_reachable {
        (
            status.log_last_position.to_string(),
            status
                .log_last_position
                .saturating_sub(status.position)
                .to_string(),
        )
    } else {
        ("unreachable".to_string(), "unknown".to_string())
    };
    let read_model_digest = if status.read_model_digest.is_empty() {
        "(not computed: --digest)".to_string()
    } else {
        status.read_model_digest.clone()
    };
    let mode = if status.read_only {
        "read-only (a fixed directory, e.g. from sy as-of)"
    } else {
        "following the log"
    };
    let rows = [
        ("replica", url.to_string()),
        ("mode", mode.to_string()),
        ("position", status.position.to_string()),
        ("log last position", log_last),
        ("lag (events)", lag),
        ("log digest", status.log_digest.clone()),
        ("read model digest", read_model_digest),
        ("quarantined", status.quarantined.to_string()),
    ];
    for (name, value) in rows {
        table.add_row(vec![name.to_string(), value]);
    }
    table
}

/// Runs `sy status`.
pub async fn run(endpoints: &Endpoints, args: &StatusArgs) -> Result<(), Error> {
    let mut query = endpoints.query().await?;
    let status = read_with_retry("GetProjectionStatus", async || {
        query
            .get_projection_status(pb::GetProjectionStatusRequest {
                include_read_model_digest: args.digest,
                min_position: args.min_position,
            })
            .await
    })
    .await?;
    say!("{}", table(&endpoints.query_url, &status));
    if args.digest && !status.read_only && status.log_last_position != status.position {
        say!(
            "note: the fold is running, so the read model digest may already include events past position {}; \
             compare read model digests of replicas that are caught up or read-only",
            status.position
        );
    }
    say!(
        "compare an export: sy verify EXPORT --expect-digest {} --expect-position {}",
        status.log_digest,
        status.position
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_shown_only_when_the_log_is_known() {
        let status = pb::ProjectionStatus {
            position: 90,
            log_digest: "ab".repeat(32),
            quarantined: 2,
            log_last_position: 100,
            log_reachable: true,
            ..Default::default()
        };
        let text = table("http://q", &status).to_string();
        assert!(text.contains("lag (events)"));
        assert!(text.contains(" 10 "));
        assert!(text.contains("(not computed: --digest)"));
        assert!(text.contains("following the log"));

        let unreachable = pb::ProjectionStatus {
            log_reachable: false,
            ..status.clone()
        };
        assert!(
            table("http://q", &unreachable)
                .to_string()
                .contains("unreachable")
        );
        let read_only = pb::ProjectionStatus {
            read_only: true,
            ..status
        };
        assert!(
            table("http://q", &read_only)
                .to_string()
                .contains("read-only")
        );
    }
}
