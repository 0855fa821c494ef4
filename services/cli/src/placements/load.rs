//! Runs the scenario's scripts through [`crate::load`]: people concurrently,
//! each one's commands in order; then the stations, which need the
//! children's person ids.

use std::collections::HashMap;

use super::plan::{Kind, Scenario, Track};
use crate::commands::Slot;
use crate::load::{Sent, send_all};
use crate::rpc::IntakeClients;

/// What loading one track did.
#[derive(Debug)]
pub struct Loaded {
    pub kind: Kind,
    pub index: u32,
    pub sent: Sent,
}

/// Sends the people's tracks, `concurrency` at a time, then the stations'
/// (which need the children's person ids); reports per track, people first.
pub async fn load(clients: &IntakeClients, scenario: &Scenario, concurrency: usize) -> Vec<Loaded> {
    let mut loaded = load_tracks(clients, &scenario.people, &HashMap::new(), concurrency).await;
    let children: HashMap<u32, String> = loaded
        .iter()
        .filter(|l| l.kind == Kind::Child)
        .filter_map(|l| Some((l.index, l.sent.ids.get(Slot::Person)?.to_string())))
        .collect();
    loaded.extend(load_tracks(clients, &scenario.stations, &children, concurrency).await);
    loaded
}

async fn load_tracks(
    clients: &IntakeClients,
    tracks: &[Track],
    children: &HashMap<u32, String>,
    concurrency: usize,
) -> Vec<Loaded> {
    let steps = tracks.iter().map(|track| track.steps.as_slice());
    let sent = send_all(clients, steps, children, concurrency).await;
    tracks
        .iter()
        .zip(sent)
        .map(|(track, sent)| Loaded {
            kind: track.kind,
            index: track.index,
            sent,
        })
        .collect()
}
