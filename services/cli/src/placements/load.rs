//! Runs the tracks: people concurrently, each one's commands in order; then
//! the stations, which need the children's person ids.

use std::collections::HashMap;

use futures::StreamExt;
use sy_api::pb::placements_client::PlacementsClient;
use tonic::transport::Channel;

use super::command::{Ids, PCmd, send};
use super::plan::{Kind, Scenario, Track};
use crate::demo::Outcome;
use crate::error::Error;

/// What loading one track did.
#[derive(Debug)]
pub struct Loaded {
    pub kind: Kind,
    pub index: u32,
    pub ids: Ids,
    pub outcomes: Vec<Outcome>,
    pub max_position: u64,
    pub error: Option<Error>,
}

/// Sends the people's tracks, `concurrency` at a time, then the stations'
/// (which need the children's person ids); reports per track, people first.
pub async fn load(
    client: &PlacementsClient<Channel>,
    scenario: &Scenario,
    concurrency: usize,
) -> Vec<Loaded> {
    let no_children = HashMap::new();
    let mut loaded: Vec<Loaded> = futures::stream::iter(scenario.people.iter())
        .map(|track| load_one(client.clone(), track, &no_children))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    loaded.sort_by_key(|l| (l.kind, l.index));
    let children: HashMap<u32, String> = loaded
        .iter()
        .filter(|l| l.kind == Kind::Child)
        .filter_map(|l| Some((l.index, l.ids.person.clone()?)))
        .collect();
    let mut stations: Vec<Loaded> = futures::stream::iter(scenario.stations.iter())
        .map(|track| load_one(client.clone(), track, &children))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    stations.sort_by_key(|l| l.index);
    loaded.extend(stations);
    loaded
}

async fn load_one(
    mut client: PlacementsClient<Channel>,
    track: &Track,
    children: &HashMap<u32, String>,
) -> Loaded {
    let mut loaded = Loaded {
        kind: track.kind,
        index: track.index,
        ids: Ids::default(),
        outcomes: Vec::new(),
        max_position: 0,
        error: None,
    };
    for step in &track.steps {
        let mut cmd = step.cmd.clone();
        cmd.fill(&loaded.ids);
        if let (PCmd::EnrollChild(c), Some(child)) = (&mut cmd, step.child) {
            match children.get(&child) {
                Some(id) => c.child_person_id.clone_from(id),
                None => {
                    loaded.error = Some(Error::Failed(format!(
                        "child {child} was not registered, so it cannot be enrolled"
                    )));
                    break;
                }
            }
        }
        let creates = match &cmd {
            PCmd::RegisterPerson(_) => Some(Slot::Person),
            PCmd::RegisterPlacement(_) => Some(Slot::Placement),
            PCmd::OpenStation(_) => Some(Slot::Station),
            _ => None,
        };
        match send(&mut client, cmd, &step.actor).await {
            Ok(result) => {
                loaded.max_position = loaded.max_position.max(result.position);
                loaded.outcomes.push(if result.replayed {
                    Outcome::Replayed
                } else {
                    Outcome::Written
                });
                if let Some(slot) = creates {
                    *loaded.ids.slot(slot) = Some(result.aggregate_id);
                }
            }
            Err(err) if code(&err) == Some(tonic::Code::AlreadyExists) => {
                match creates {
                    None => {}
                    // The person is registered (an earlier run, another key):
                    // the refusal names them.
                    Some(Slot::Person) => match existing_id(&err) {
                        Some(id) => loaded.ids.person = Some(id),
                        None => {
                            loaded.error = Some(err);
                            break;
                        }
                    },
                    Some(_) => {
                        loaded.error = Some(err);
                        break;
                    }
                }
                loaded.outcomes.push(Outcome::Kept);
            }
            Err(err) => {
                loaded.error = Some(err);
                break;
            }
        }
    }
    loaded
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Person,
    Placement,
    Station,
}

impl Ids {
    fn slot(&mut self, slot: Slot) -> &mut Option<String> {
        match slot {
            Slot::Person => &mut self.person,
            Slot::Placement => &mut self.placement,
            Slot::Station => &mut self.station,
        }
    }
}

fn code(err: &Error) -> Option<tonic::Code> {
    err.status().map(tonic::Status::code)
}

/// The UUID an `ALREADY_EXISTS` message names ("person <id> already exists").
fn existing_id(err: &Error) -> Option<String> {
    let status = err.status()?;
    status
        .message()
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find_map(|word| uuid::Uuid::try_parse(word).ok())
        .map(|id| id.to_string())
}

/// Totals of a load per kind of track.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub tracks: usize,
    pub commands: usize,
    pub written: usize,
    pub replayed: usize,
    pub kept: usize,
    pub failed: usize,
    pub max_position: u64,
}

impl Totals {
    pub(super) fn add(&mut self, l: &Loaded) {
        self.tracks += 1;
        self.commands += l.outcomes.len();
        for o in &l.outcomes {
            match o {
                Outcome::Written => self.written += 1,
                Outcome::Replayed => self.replayed += 1,
                Outcome::Kept => self.kept += 1,
            }
        }
        self.failed += usize::from(l.error.is_some());
        self.max_position = self.max_position.max(l.max_position);
    }
}

pub fn totals(loaded: &[Loaded]) -> Totals {
    let mut t = Totals::default();
    for l in loaded {
        t.add(l);
    }
    t
}
