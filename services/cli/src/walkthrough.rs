//! `sy walkthrough`: one new request from submission to close-out (销号),
//! every call and its `CommandResult` printed, then what the read side and the
//! log say about it: the request with its timeline (read at the last
//! position), its history with the hash chain checked, and its board row.
//! On the way the supervision office breaks out a sub-task (任务分解) for
//! another department and inspects the work (督查), and the requester
//! closes it out with a rating (满意). `supervision` is the walkthrough of
//! the supervision clocks.

use std::fmt::Write as _;

use sy_api::pb::{self, query_client::QueryClient};
use sy_domain::validate::china_date;

use crate::catalogue::{self, Party, SUPERVISION_OFFICE};
use crate::commands::{Cmd, Ids, Slot, context, send};
use crate::error::Error;
use crate::render;
use crate::rpc::{self, Channel, IntakeClients, read_with_retry};

pub mod supervision;

/// The department that works the walkthrough's request.
const DEPARTMENT: &str = "district-housing-bureau";
/// The military unit that raises it and confirms the close-out.
const REQUESTER: &str = "unit-31002";
/// The department that does the sub-task the supervision office breaks out.
const SUB_TASK_DEPARTMENT: &str = "district-planning-resources";

/// The script: who sends what. `run` fills in the request id after the submission.
fn script(
    run_id: &str,
    coordinator: &pb::Actor,
    today: jiff::civil::Date,
) -> Vec<(pb::Actor, Cmd)> {
    let ctx = |step: &str| {
        context(
            format!("walkthrough-{run_id}-{step}"),
            format!("walkthrough-{run_id}"),
            None,
        )
    };
    let due = today + jiff::ToSpan::days(30);
    let cat = catalogue::requests();
    let (requester, department): (&Party, &Party) = (cat.party(REQUESTER), cat.party(DEPARTMENT));
    let (office, planning) = (
        cat.party(SUPERVISION_OFFICE),
        cat.party(SUB_TASK_DEPARTMENT),
    );
    vec![
        (
            requester.actor(),
            Cmd::Submit(pb::SubmitRequestCommand {
                context: ctx("submit"),
                direction: pb::Direction::MilitaryToLocal as i32,
                requester: Some(pb::RequestingParty {
                    agency: requester.agency.clone(),
                    name: requester.name.clone(),
                }),
                category: pb::Category::BarracksAndTrainingGrounds as i32,
                title: "训练场排水改造：东侧训练场雨后积水".to_string(),
                description:
                    "东侧训练场地势低洼，每逢降雨大面积积水，影响日常训练，请协助实施排水改造。"
                        .to_string(),
                area_code: "500106004007".to_string(),
                priority: pb::Priority::High as i32,
                due_date: String::new(),
                supervision_level: pb::SupervisionLevel::District as i32,
                person_id: String::new(),
            }),
        ),
        (
            coordinator.clone(),
            Cmd::Assign(pb::AssignRequestCommand {
                context: ctx("assign"),
                request_id: String::new(),
                department: department.agency.clone(),
                due_date: due.to_string(),
                note: cat.assign_note(department),
            }),
        ),
        (
            department.actor(),
            Cmd::Start(pb::StartRequestCommand {
                context: ctx("start"),
                request_id: String::new(),
                note: cat.notes.start.clone(),
            }),
        ),
        (
            office.actor(),
            Cmd::AddSubTask(pb::AddSubTaskCommand {
                context: ctx("sub-task"),
                request_id: String::new(),
                department: planning.agency.clone(),
                due_date: (today + jiff::ToSpan::days(14)).to_string(),
                title: "排水管线用地规划审查".to_string(),
            }),
        ),
        (
            planning.actor(),
            Cmd::CompleteSubTask(pb::CompleteSubTaskCommand {
                context: ctx("sub-task-done"),
                request_id: String::new(),
                sub_task_id: 1,
                note: "管线走向已核准，用地手续齐全。".to_string(),
            }),
        ),
        (
            department.actor(),
            Cmd::Progress(pb::RecordProgressCommand {
                context: ctx("progress"),
                request_id: String::new(),
                note: "排水管网设计已完成，施工单位已进场铺设主管道。".to_string(),
            }),
        ),
        (
            office.actor(),
            Cmd::RecordInspection(pb::RecordInspectionCommand {
                context: ctx("inspection"),
                request_id: String::new(),
                visited_on: today.to_string(),
                findings: "现场查看主管道铺设，施工质量符合要求，按期推进。".to_string(),
                follow_up_required: false,
            }),
        ),
        (
            department.actor(),
            Cmd::Resolve(pb::ResolveRequestCommand {
                context: ctx("resolve"),
                request_id: String::new(),
                resolution: "新建排水沟和主管道已投入使用，经军地联合验收合格。".to_string(),
            }),
        ),
        (
            requester.actor(),
            Cmd::Close(pb::CloseRequestCommand {
                context: ctx("close"),
                request_id: String::new(),
                note: cat.notes.close.clone(),
                satisfaction: pb::Satisfaction::Satisfied as i32,
            }),
        ),
    ]
}

fn result_line(result: &pb::CommandResult) -> String {
    format!(
        "   -> {} version {} position {}{} event {}",
        result.aggregate_id,
        result.version,
        result.position,
        if result.replayed { " (replayed)" } else { "" },
        result.event_ids.join(",")
    )
}

/// Runs the walkthrough, printing as it goes (so a failure shows what came before).
pub async fn run(
    intake: &mut IntakeClients,
    query: &mut QueryClient<Channel>,
    coordinator: &pb::Actor,
) -> Result<(), Error> {
    let run_id = uuid::Uuid::now_v7().to_string();
    let today = china_date(jiff::Timestamp::now());
    say!("walkthrough {run_id}: one request from submission to close-out (销号)\n");

    let mut ids = Ids::default();
    let mut request_id = String::new();
    let mut position = 0;
    for (n, (who, mut cmd)) in script(&run_id, coordinator, today).into_iter().enumerate() {
        cmd.fill(&ids);
        let key = cmd
            .context()
            .map(|c| c.idempotency_key.clone())
            .unwrap_or_default();
        say!(
            "{}. {} as {}/{} (idempotency key {key})\n   {}",
            n + 1,
            cmd.call(),
            who.agency,
            who.user,
            cmd.summary()
        );
        let result = send(intake, cmd, &who).await?;
        say!("{}", result_line(&result));
        request_id = result.aggregate_id.clone();
        ids.set(Slot::Request, result.aggregate_id);
        position = result.position;
    }

    say!("\nGetRequest id={request_id} min_position={position}");
    let (request, reflects) = read_request(query, &request_id, position).await?;
    say!(
        "   status {} at version {}, answer reflects position {}",
        render::status_label(request.status()),
        request.version,
        reflects
    );
    say!("{}", render::request_fields(&request));
    say_raw!("{}", render::breakdown(&request, today));
    say!("{}", render::timeline(&request.timeline));

    say!("\nGetRequestHistory id={request_id} (from the event log itself)");
    let history = query
        .get_request_history(pb::GetRequestHistoryRequest {
            id: request_id.clone(),
        })
        .await
        .map_err(Error::rpc("GetRequestHistory"))?
        .into_inner();
    say_raw!("{}", history_text(&history));

    say!(
        "\nGetClearanceBoard min_position={position}: row {}",
        DEPARTMENT
    );
    let board = rpc::clearance_board(query, String::new(), position).await?;
    let rows: Vec<pb::BoardRow> = board
        .by_department
        .iter()
        .filter(|row| row.key == DEPARTMENT)
        .cloned()
        .collect();
    say!(
        "{}",
        render::board_section("department 责任单位", &rows, board.total.as_ref())
    );
    say!(
        "\nclosed out: request {request_id} went submitted → assigned → in progress (a sub-task done, an inspection) → resolved → closed in {} events, rated {} by the requester.",
        request.version,
        render::satisfaction_label(request.satisfaction())
    );
    Ok(())
}

/// The request as the projection has it at `min_position` or later, and
/// the position its answer reflects (retried while the projection catches up).
async fn read_request(
    query: &mut QueryClient<Channel>,
    id: &str,
    min_position: u64,
) -> Result<(pb::Request, u64), Error> {
    let got = read_with_retry("GetRequest", async || {
        query
            .get_request(pb::GetRequestRequest {
                id: id.to_string(),
                min_position,
            })
            .await
    })
    .await?;
    let request = got
        .request
        .ok_or_else(|| Error::Failed("GetRequest answered without a request".into()))?;
    Ok((request, got.position))
}

/// The history as a table, and whether each event names its predecessor's hash.
pub fn history_text(history: &pb::GetRequestHistoryResponse) -> String {
    let mut table = render::table(&[
        "position",
        "v",
        "event",
        "actor",
        "recorded",
        "hash",
        "prev_hash",
        "chain",
    ]);
    let mut intact = true;
    let mut previous: Vec<u8> = vec![0; 32];
    for event in &history.events {
        let envelope = event.envelope.clone().unwrap_or_default();
        let linked = envelope.prev_hash == previous;
        intact &= linked;
        table.add_row(vec![
            event.position.to_string(),
            envelope.aggregate_version.to_string(),
            render::event_cell(&envelope),
            render::actor(envelope.actor.as_ref()),
            render::time(envelope.recorded_at.as_ref()),
            render::short_hash(&event.hash),
            render::short_hash(&envelope.prev_hash),
            if linked { "ok" } else { "BROKEN" }.to_string(),
        ]);
        previous = event.hash.clone();
    }
    let mut out = String::new();
    let _ = writeln!(out, "{table}");
    let _ = writeln!(
        out,
        "   {} events, latest at position {}; hash chain {}",
        history.events.len(),
        history.position,
        if intact {
            "intact (each prev_hash is the hash of the event before it)"
        } else {
            "BROKEN"
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_breaks_out_a_sub_task_inspects_and_closes_as_the_requester() {
        let coordinator = catalogue::requests()
            .party("district-veterans-bureau")
            .actor();
        let steps = script("t", &coordinator, "2026-06-01".parse().unwrap());
        let calls: Vec<&str> = steps.iter().map(|(_, c)| c.call()).collect();
        assert_eq!(
            calls,
            [
                "SubmitRequest",
                "AssignRequest",
                "StartRequest",
                "AddSubTask",
                "CompleteSubTask",
                "RecordProgress",
                "RecordInspection",
                "ResolveRequest",
                "CloseRequest"
            ]
        );
        assert_eq!(steps[3].0.agency, SUPERVISION_OFFICE);
        assert_eq!(steps[4].0.agency, SUB_TASK_DEPARTMENT);
        assert_eq!(steps[6].0.agency, SUPERVISION_OFFICE);
        assert_eq!(steps[8].0.agency, REQUESTER);
        let Cmd::Close(close) = &steps[8].1 else {
            panic!("the last step closes");
        };
        assert_eq!(close.satisfaction(), pb::Satisfaction::Satisfied);
        assert_eq!(steps[0].0.agency, REQUESTER);
    }

    #[test]
    fn a_broken_chain_is_flagged() {
        let event = |position: u64, prev: u8, hash: u8| pb::HistoryEvent {
            position,
            envelope: Some(pb::EventEnvelope {
                aggregate_version: position,
                prev_hash: vec![prev; 32],
                ..Default::default()
            }),
            hash: vec![hash; 32],
        };
        let good = pb::GetRequestHistoryResponse {
            events: vec![event(1, 0, 1), event(2, 1, 2)],
            position: 2,
        };
        assert!(history_text(&good).contains("hash chain intact"));
        let bad = pb::GetRequestHistoryResponse {
            events: vec![event(1, 0, 1), event(2, 9, 2)],
            position: 2,
        };
        assert!(history_text(&bad).contains("hash chain BROKEN"));
    }
}
