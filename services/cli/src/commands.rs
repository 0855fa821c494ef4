//! Intake commands as one value: every call of intake's `Intake` (requests)
//! and `Placements` (people, placements, allowances, stations) services, so
//! scripts (both demos, the walkthrough) are data, sent by one function that
//! names each call.

use jiff::Timestamp;
use sy_api::pb;

use crate::error::Error;
use crate::rpc::{self, IntakeClients, as_actor};

/// Declares [`Cmd`] from one table (variant, message, client and method,
/// RPC name), so a call's name, its context and how it is sent cannot
/// disagree.
macro_rules! commands {
    ($($variant:ident($message:ident) => $client:ident.$method:ident, $call:literal;)*) => {
        /// One intake command, the id of its aggregate filled in when the
        /// script knows it.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Cmd {
            $($variant(pb::$message),)*
        }

        impl Cmd {
            /// The RPC's name, as printed and in errors.
            pub fn call(&self) -> &'static str {
                match self {
                    $(Cmd::$variant(_) => $call,)*
                }
            }

            pub fn context(&self) -> Option<&pb::CommandContext> {
                match self {
                    $(Cmd::$variant(c) => c.context.as_ref(),)*
                }
            }

            pub fn context_mut(&mut self) -> &mut Option<pb::CommandContext> {
                match self {
                    $(Cmd::$variant(c) => &mut c.context,)*
                }
            }
        }

        /// Sends `cmd` as `actor`; the result once JetStream acknowledged it.
        /// A call over the credential's rate is sent again after the delay
        /// the server asks for, growing with each attempt and jittered
        /// (safe: every command carries its idempotency key), a bounded
        /// number of times.
        pub async fn send(
            clients: &mut IntakeClients,
            cmd: Cmd,
            actor: &pb::Actor,
        ) -> Result<pb::CommandResult, Error> {
            let call = cmd.call();
            let mut throttled = 0;
            loop {
                let response = match cmd.clone() {
                    $(Cmd::$variant(c) => clients.$client.$method(as_actor(c, actor)?).await,)*
                };
                match response {
                    Ok(response) => return Ok(response.into_inner()),
                    Err(status)
                        if status.code() == tonic::Code::ResourceExhausted
                            && throttled < rpc::MAX_THROTTLED =>
                    {
                        throttled += 1;
                        tokio::time::sleep(rpc::throttle_delay(&status, throttled)).await;
                    }
                    Err(status) => return Err(Error::rpc(call)(status)),
                }
            }
        }
    };
}

commands! {
    Submit(SubmitRequestCommand) => requests.submit_request, "SubmitRequest";
    Assign(AssignRequestCommand) => requests.assign_request, "AssignRequest";
    Start(StartRequestCommand) => requests.start_request, "StartRequest";
    Progress(RecordProgressCommand) => requests.record_progress, "RecordProgress";
    Resolve(ResolveRequestCommand) => requests.resolve_request, "ResolveRequest";
    Close(CloseRequestCommand) => requests.close_request, "CloseRequest";
    Reject(RejectRequestCommand) => requests.reject_request, "RejectRequest";
    Reopen(ReopenRequestCommand) => requests.reopen_request, "ReopenRequest";
    Escalate(EscalateRequestCommand) => requests.escalate_request, "EscalateRequest";
    ChangeDueDate(ChangeDueDateCommand) => requests.change_due_date, "ChangeDueDate";
    AddSubTask(AddSubTaskCommand) => requests.add_sub_task, "AddSubTask";
    CompleteSubTask(CompleteSubTaskCommand) => requests.complete_sub_task, "CompleteSubTask";
    RecordInspection(RecordInspectionCommand) => requests.record_inspection, "RecordInspection";
    RegisterPerson(RegisterPersonCommand) => placements.register_person, "RegisterPerson";
    ErasePerson(ErasePersonCommand) => placements.erase_person, "ErasePerson";
    PlaceLegalHold(PlaceLegalHoldCommand) => placements.place_legal_hold, "PlaceLegalHold";
    ReleaseLegalHold(ReleaseLegalHoldCommand) => placements.release_legal_hold, "ReleaseLegalHold";
    RecordTraining(RecordTrainingCommand) => placements.record_training, "RecordTraining";
    RecordCertificate(RecordCertificateCommand) => placements.record_certificate, "RecordCertificate";
    RegisterPlacement(RegisterPlacementCommand) => placements.register_placement, "RegisterPlacement";
    Match(MatchPlacementCommand) => placements.match_placement, "MatchPlacement";
    PutOnDuty(PutOnDutyCommand) => placements.put_on_duty, "PutOnDuty";
    DeclinePlacement(DeclinePlacementCommand) => placements.decline_placement, "DeclinePlacement";
    WithdrawPlacement(WithdrawPlacementCommand) => placements.withdraw_placement, "WithdrawPlacement";
    RecommendToTalentPool(RecommendToTalentPoolCommand) => placements.recommend_to_talent_pool, "RecommendToTalentPool";
    AcceptSchoolRequest(AcceptSchoolRequestCommand) => placements.accept_school_request, "AcceptSchoolRequest";
    DeclineSchoolRequest(DeclineSchoolRequestCommand) => placements.decline_school_request, "DeclineSchoolRequest";
    EnrollInSchool(EnrollInSchoolCommand) => placements.enroll_in_school, "EnrollInSchool";
    GrantAllowance(GrantAllowanceCommand) => placements.grant_allowance, "GrantAllowance";
    PayAllowance(PayAllowanceCommand) => placements.pay_allowance, "PayAllowance";
    StopAllowance(StopAllowanceCommand) => placements.stop_allowance, "StopAllowance";
    OpenStation(OpenStationCommand) => placements.open_station, "OpenStation";
    ChangeStationSeats(ChangeStationSeatsCommand) => placements.change_station_seats, "ChangeStationSeats";
    EnrollChild(EnrollChildCommand) => placements.enroll_child, "EnrollChild";
    WithdrawChild(WithdrawChildCommand) => placements.withdraw_child, "WithdrawChild";
    SubscribeWebhook(SubscribeWebhookCommand) => requests.subscribe_webhook, "SubscribeWebhook";
    UnsubscribeWebhook(UnsubscribeWebhookCommand) => requests.unsubscribe_webhook, "UnsubscribeWebhook";
    AddDoubleListItem(AddDoubleListItemCommand) => requests.add_double_list_item, "AddDoubleListItem";
    RemoveDoubleListItem(RemoveDoubleListItemCommand) => requests.remove_double_list_item, "RemoveDoubleListItem";
    PublishDoubleList(PublishDoubleListCommand) => requests.publish_double_list, "PublishDoubleList";
}

/// What kind of aggregate an id a script learns names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Request,
    Person,
    Placement,
    Station,
    /// An agency's webhook subscription (addressed by the agency's code).
    Subscription,
    /// A yearly double list, named by year and direction rather than by id.
    DoubleList,
}

impl Slot {
    /// The aggregate's kind as printed: `request`, `person`, ...
    pub fn label(self) -> &'static str {
        match self {
            Slot::Request => "request",
            Slot::Person => "person",
            Slot::Placement => "placement",
            Slot::Station => "station",
            Slot::Subscription => "subscription",
            Slot::DoubleList => "double-list",
        }
    }
}

/// The ids a script learns from the results of its creating commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids([Option<String>; 5]);

impl Ids {
    pub fn get(&self, slot: Slot) -> Option<&str> {
        self.0[slot as usize].as_deref()
    }

    pub fn set(&mut self, slot: Slot, id: String) {
        self.0[slot as usize] = Some(id);
    }
}

impl Cmd {
    /// When the command is dated to have happened.
    pub fn occurred_at(&self) -> Option<Timestamp> {
        sy_domain::event::to_jiff(self.context()?.occurred_at.as_ref())
    }

    /// The aggregate the command creates: its result carries the new id.
    pub fn creates(&self) -> Option<Slot> {
        match self {
            Cmd::Submit(_) => Some(Slot::Request),
            Cmd::RegisterPerson(_) => Some(Slot::Person),
            Cmd::RegisterPlacement(_) => Some(Slot::Placement),
            Cmd::OpenStation(_) => Some(Slot::Station),
            Cmd::SubscribeWebhook(_) => Some(Slot::Subscription),
            _ => None,
        }
    }

    /// The kind of aggregate the command creates or addresses.
    pub fn aggregate(&self) -> Slot {
        if let Cmd::AddDoubleListItem(_)
        | Cmd::RemoveDoubleListItem(_)
        | Cmd::PublishDoubleList(_) = self
        {
            return Slot::DoubleList;
        }
        self.creates()
            .or_else(|| self.clone().target().map(|(_, slot)| slot))
            .expect("every command creates its aggregate or names it")
    }

    /// The field naming the aggregate the command addresses, and its kind.
    fn target(&mut self) -> Option<(&mut String, Slot)> {
        use Slot::{Person, Placement, Request, Station, Subscription};
        Some(match self {
            Cmd::Submit(_)
            | Cmd::RegisterPerson(_)
            | Cmd::OpenStation(_)
            | Cmd::SubscribeWebhook(_) => return None,
            Cmd::UnsubscribeWebhook(c) => (&mut c.agency, Subscription),
            // Named by year and direction: nothing a script fills in.
            Cmd::AddDoubleListItem(_)
            | Cmd::RemoveDoubleListItem(_)
            | Cmd::PublishDoubleList(_) => return None,
            Cmd::Assign(c) => (&mut c.request_id, Request),
            Cmd::Start(c) => (&mut c.request_id, Request),
            Cmd::Progress(c) => (&mut c.request_id, Request),
            Cmd::Resolve(c) => (&mut c.request_id, Request),
            Cmd::Close(c) => (&mut c.request_id, Request),
            Cmd::Reject(c) => (&mut c.request_id, Request),
            Cmd::Reopen(c) => (&mut c.request_id, Request),
            Cmd::Escalate(c) => (&mut c.request_id, Request),
            Cmd::ChangeDueDate(c) => (&mut c.request_id, Request),
            Cmd::AddSubTask(c) => (&mut c.request_id, Request),
            Cmd::CompleteSubTask(c) => (&mut c.request_id, Request),
            Cmd::RecordInspection(c) => (&mut c.request_id, Request),
            Cmd::ErasePerson(c) => (&mut c.person_id, Person),
            Cmd::PlaceLegalHold(c) => (&mut c.person_id, Person),
            Cmd::ReleaseLegalHold(c) => (&mut c.person_id, Person),
            Cmd::RecordTraining(c) => (&mut c.person_id, Person),
            Cmd::RecordCertificate(c) => (&mut c.person_id, Person),
            Cmd::RegisterPlacement(c) => (&mut c.person_id, Person),
            Cmd::GrantAllowance(c) => (&mut c.person_id, Person),
            Cmd::PayAllowance(c) => (&mut c.person_id, Person),
            Cmd::StopAllowance(c) => (&mut c.person_id, Person),
            Cmd::Match(c) => (&mut c.placement_id, Placement),
            Cmd::PutOnDuty(c) => (&mut c.placement_id, Placement),
            Cmd::DeclinePlacement(c) => (&mut c.placement_id, Placement),
            Cmd::WithdrawPlacement(c) => (&mut c.placement_id, Placement),
            Cmd::DeclineSchoolRequest(c) => (&mut c.placement_id, Placement),
            Cmd::RecommendToTalentPool(c) => (&mut c.placement_id, Placement),
            Cmd::AcceptSchoolRequest(c) => (&mut c.placement_id, Placement),
            Cmd::EnrollInSchool(c) => (&mut c.placement_id, Placement),
            Cmd::EnrollChild(c) => (&mut c.station_id, Station),
            Cmd::ChangeStationSeats(c) => (&mut c.station_id, Station),
            Cmd::WithdrawChild(c) => (&mut c.station_id, Station),
        })
    }

    /// Addresses the command to the script's aggregate, unless it names one.
    pub fn fill(&mut self, ids: &Ids) {
        if let Some((field, slot)) = self.target()
            && let (true, Some(id)) = (field.is_empty(), ids.get(slot))
        {
            *field = id.to_string();
        }
    }

    /// The text a reader would want to see next to a request's call.
    pub fn summary(&self) -> String {
        match self {
            Cmd::Submit(c) => format!("{} (area {})", c.title, c.area_code),
            Cmd::Assign(c) => format!("to {} due {}", c.department, c.due_date),
            Cmd::Start(c) => c.note.clone(),
            Cmd::Progress(c) => c.note.clone(),
            Cmd::Resolve(c) => c.resolution.clone(),
            Cmd::Close(c) => format!(
                "{}: {}",
                crate::render::satisfaction_label(c.satisfaction()),
                c.note
            ),
            Cmd::Reject(c) => c.reason.clone(),
            Cmd::Reopen(c) => c.reason.clone(),
            Cmd::Escalate(c) => format!(
                "to {} due {}: {}",
                crate::render::level_label(c.level()),
                if c.due_date.is_empty() {
                    "unchanged"
                } else {
                    &c.due_date
                },
                c.reason
            ),
            Cmd::ChangeDueDate(c) => format!("to {}: {}", c.due_date, c.reason),
            Cmd::AddSubTask(c) => format!("to {} due {}: {}", c.department, c.due_date, c.title),
            Cmd::CompleteSubTask(c) => format!("#{}: {}", c.sub_task_id, c.note),
            Cmd::RecordInspection(c) => format!(
                "visited {}{}: {}",
                c.visited_on,
                if c.follow_up_required {
                    ", follow-up required"
                } else {
                    ""
                },
                c.findings
            ),
            Cmd::AddDoubleListItem(c) => format!(
                "{} onto the {} {} double list 双清单: {}",
                c.request_id,
                c.year,
                crate::render::direction_label(c.direction()),
                c.note
            ),
            _ => String::new(),
        }
    }
}

/// A command context with an idempotency key, a correlation id and, when the
/// script dates the command, when it happened.
pub fn context(
    key: String,
    correlation_id: String,
    occurred_at: Option<Timestamp>,
) -> Option<pb::CommandContext> {
    Some(pb::CommandContext {
        idempotency_key: key,
        correlation_id,
        occurred_at: occurred_at.map(sy_domain::event::to_proto),
        expected_version: 0,
    })
}
