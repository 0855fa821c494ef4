//! `sy quarantine`: the events a projection replica's fold refused
//! (`ListQuarantined`): undecodable, a broken hash chain, or illegal for
//! the aggregate, or without intake's signature), with their position,
//! subject, reason, size and hash (the bytes are in the log: `sy export`),
//! oldest first.

use comfy_table::{Cell, CellAlignment, Table};
use sy_api::pb;

use crate::args::QuarantineArgs;
use crate::error::Error;
use crate::render;
use crate::rpc::{Endpoints, read_with_retry};

/// The quarantined events as a table.
pub fn table(events: &[pb::QuarantinedEvent]) -> Table {
    let mut table = render::table(&["position", "subject", "reason", "size (bytes)", "hash"]);
    for event in events {
        table.add_row(vec![
            Cell::new(event.position).set_alignment(CellAlignment::Right),
            Cell::new(&event.subject),
            Cell::new(&event.reason),
            Cell::new(event.payload_size).set_alignment(CellAlignment::Right),
            Cell::new(render::short_hash(&event.payload_hash)),
        ]);
    }
    table
}

/// Runs `sy quarantine`.
pub async fn run(endpoints: &Endpoints, args: &QuarantineArgs) -> Result<(), Error> {
    let mut query = endpoints.query().await?;
    let page = read_with_retry("ListQuarantined", async || {
        query
            .list_quarantined(pb::ListQuarantinedRequest {
                after_position: args.after,
                limit: args.limit,
            })
            .await
    })
    .await?;
    if page.events.is_empty() {
        say!(
            "no quarantined events after position {} (projection at position {})",
            args.after,
            page.position
        );
        return Ok(());
    }
    say!("{}", table(&page.events));
    say!(
        "{} quarantined events after position {} (projection at position {})",
        page.events.len(),
        args.after,
        page.position
    );
    if page.events.len() >= args.limit as usize
        && let Some(last) = page.events.last()
    {
        say!("more: --after {}", last.position);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_shows_the_size_not_the_bytes() {
        let text = table(&[pb::QuarantinedEvent {
            position: 42,
            subject: "sy.evt.request.x".into(),
            reason: "undecodable envelope".into(),
            payload_size: 300,
            payload_hash: vec![0xab; 32],
            ..Default::default()
        }])
        .to_string();
        assert!(text.contains("42"));
        assert!(text.contains("undecodable envelope"));
        assert!(text.contains("300"));
        assert!(text.contains(&render::short_hash(&[0xab; 32])));
    }
}
