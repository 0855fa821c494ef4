//! One placement command as a value, so the scenario can be written as data
//! and sent by one function that names each call (like `crate::commands`).

use jiff::Timestamp;
use sy_api::pb::{self, placements_client::PlacementsClient};
use tonic::transport::Channel;

use crate::error::Error;
use crate::rpc::as_actor;

/// One placement command, its ids filled in when the track knows them.
#[derive(Debug, Clone, PartialEq)]
pub enum PCmd {
    RegisterPerson(pb::RegisterPersonCommand),
    RecordTraining(pb::RecordTrainingCommand),
    RecordCertificate(pb::RecordCertificateCommand),
    RegisterPlacement(pb::RegisterPlacementCommand),
    Match(pb::MatchPlacementCommand),
    PutOnDuty(pb::PutOnDutyCommand),
    RecommendToTalentPool(pb::RecommendToTalentPoolCommand),
    AcceptSchoolRequest(pb::AcceptSchoolRequestCommand),
    EnrollInSchool(pb::EnrollInSchoolCommand),
    GrantAllowance(pb::GrantAllowanceCommand),
    PayAllowance(pb::PayAllowanceCommand),
    OpenStation(pb::OpenStationCommand),
    EnrollChild(pb::EnrollChildCommand),
}

/// The ids a track learns from its first commands' results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    pub person: Option<String>,
    pub placement: Option<String>,
    pub station: Option<String>,
}

impl PCmd {
    /// The RPC's name, as printed and in errors.
    pub fn call(&self) -> &'static str {
        match self {
            PCmd::RegisterPerson(_) => "RegisterPerson",
            PCmd::RecordTraining(_) => "RecordTraining",
            PCmd::RecordCertificate(_) => "RecordCertificate",
            PCmd::RegisterPlacement(_) => "RegisterPlacement",
            PCmd::Match(_) => "MatchPlacement",
            PCmd::PutOnDuty(_) => "PutOnDuty",
            PCmd::RecommendToTalentPool(_) => "RecommendToTalentPool",
            PCmd::AcceptSchoolRequest(_) => "AcceptSchoolRequest",
            PCmd::EnrollInSchool(_) => "EnrollInSchool",
            PCmd::GrantAllowance(_) => "GrantAllowance",
            PCmd::PayAllowance(_) => "PayAllowance",
            PCmd::OpenStation(_) => "OpenStation",
            PCmd::EnrollChild(_) => "EnrollChild",
        }
    }

    pub fn context(&self) -> Option<&pb::CommandContext> {
        match self {
            PCmd::RegisterPerson(c) => c.context.as_ref(),
            PCmd::RecordTraining(c) => c.context.as_ref(),
            PCmd::RecordCertificate(c) => c.context.as_ref(),
            PCmd::RegisterPlacement(c) => c.context.as_ref(),
            PCmd::Match(c) => c.context.as_ref(),
            PCmd::PutOnDuty(c) => c.context.as_ref(),
            PCmd::RecommendToTalentPool(c) => c.context.as_ref(),
            PCmd::AcceptSchoolRequest(c) => c.context.as_ref(),
            PCmd::EnrollInSchool(c) => c.context.as_ref(),
            PCmd::GrantAllowance(c) => c.context.as_ref(),
            PCmd::PayAllowance(c) => c.context.as_ref(),
            PCmd::OpenStation(c) => c.context.as_ref(),
            PCmd::EnrollChild(c) => c.context.as_ref(),
        }
    }

    /// When the command is dated to have happened.
    pub fn occurred_at(&self) -> Option<Timestamp> {
        let ts = self.context()?.occurred_at.as_ref()?;
        Timestamp::new(ts.seconds, ts.nanos).ok()
    }

    /// Addresses the command to the track's person, placement or station.
    pub fn fill(&mut self, ids: &Ids) {
        fn set(slot: &mut String, id: &Option<String>) {
            if let Some(id) = id {
                if slot.is_empty() {
                    slot.clone_from(id);
                }
            }
        }
        match self {
            PCmd::RegisterPerson(_) | PCmd::OpenStation(_) => {}
            PCmd::RecordTraining(c) => set(&mut c.person_id, &ids.person),
            PCmd::RecordCertificate(c) => set(&mut c.person_id, &ids.person),
            PCmd::RegisterPlacement(c) => set(&mut c.person_id, &ids.person),
            PCmd::GrantAllowance(c) => set(&mut c.person_id, &ids.person),
            PCmd::PayAllowance(c) => set(&mut c.person_id, &ids.person),
            PCmd::Match(c) => set(&mut c.placement_id, &ids.placement),
            PCmd::PutOnDuty(c) => set(&mut c.placement_id, &ids.placement),
            PCmd::RecommendToTalentPool(c) => set(&mut c.placement_id, &ids.placement),
            PCmd::AcceptSchoolRequest(c) => set(&mut c.placement_id, &ids.placement),
            PCmd::EnrollInSchool(c) => set(&mut c.placement_id, &ids.placement),
            PCmd::EnrollChild(c) => set(&mut c.station_id, &ids.station),
        }
    }
}

/// Sends `cmd` as `actor`; the result once JetStream acknowledged it.
pub async fn send(
    client: &mut PlacementsClient<Channel>,
    cmd: PCmd,
    actor: &pb::Actor,
) -> Result<pb::CommandResult, Error> {
    let call = cmd.call();
    let response = match cmd {
        PCmd::RegisterPerson(c) => client.register_person(as_actor(c, actor)).await,
        PCmd::RecordTraining(c) => client.record_training(as_actor(c, actor)).await,
        PCmd::RecordCertificate(c) => client.record_certificate(as_actor(c, actor)).await,
        PCmd::RegisterPlacement(c) => client.register_placement(as_actor(c, actor)).await,
        PCmd::Match(c) => client.match_placement(as_actor(c, actor)).await,
        PCmd::PutOnDuty(c) => client.put_on_duty(as_actor(c, actor)).await,
        PCmd::RecommendToTalentPool(c) => client.recommend_to_talent_pool(as_actor(c, actor)).await,
        PCmd::AcceptSchoolRequest(c) => client.accept_school_request(as_actor(c, actor)).await,
        PCmd::EnrollInSchool(c) => client.enroll_in_school(as_actor(c, actor)).await,
        PCmd::GrantAllowance(c) => client.grant_allowance(as_actor(c, actor)).await,
        PCmd::PayAllowance(c) => client.pay_allowance(as_actor(c, actor)).await,
        PCmd::OpenStation(c) => client.open_station(as_actor(c, actor)).await,
        PCmd::EnrollChild(c) => client.enroll_child(as_actor(c, actor)).await,
    };
    response
        .map(tonic::Response::into_inner)
        .map_err(Error::rpc(call))
}
