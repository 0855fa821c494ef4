//! `sy requests submit|assign|start|progress|resolve|close|reject|reopen|
//! escalate|due-date|sub-task|sub-task-done|inspect`: each step of a request's lifecycle as its Intake RPC,
//! sent as the operator. Who may send which is intake's policy (the
//! requesting party submits, closes and reopens; the coordinating office
//! assigns; the department works it; the supervision office escalates and
//! moves due dates): `sy` does not guess it, it reports intake's refusal.

use sy_api::pb;

use super::{context_of, or_empty, write};
use crate::args::{LevelArg, RatingArg, RequestStep};
use crate::commands::Cmd;
use crate::error::Error;
use crate::rpc::Endpoints;

/// Sends the step `step` names as `operator`, printing its result.
pub async fn run(
    endpoints: &Endpoints,
    operator: &pb::Actor,
    step: &RequestStep,
) -> Result<(), Error> {
    let (cmd, json) = plan(step);
    write(endpoints, operator, cmd, json).await
}

/// The command for `step`, and whether its result is wanted as JSON.
fn plan(step: &RequestStep) -> (Cmd, bool) {
    let key = |w| context_of(w, "requests");
    match step {
        RequestStep::Submit(a) => (
            Cmd::Submit(pb::SubmitRequestCommand {
                context: key(&a.write),
                direction: pb::Direction::from(a.direction) as i32,
                requester: Some(pb::RequestingParty {
                    agency: String::new(),
                    name: a.requester_name.clone(),
                }),
                category: pb::Category::from(a.category) as i32,
                title: a.title.clone(),
                description: a.description.clone(),
                area_code: a.area.clone(),
                priority: a.priority.map_or(0, |p| pb::Priority::from(p) as i32),
                due_date: or_empty(&a.due),
                supervision_level: level(a.level),
                person_id: or_empty(&a.person),
            }),
            a.write.json,
        ),
        RequestStep::Assign(a) => (
            Cmd::Assign(pb::AssignRequestCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                department: a.department.clone(),
                due_date: a.due.clone(),
                note: a.note.clone(),
            }),
            a.write.json,
        ),
        RequestStep::Start(a) => (
            Cmd::Start(pb::StartRequestCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                note: a.note.clone(),
            }),
            a.write.json,
        ),
        RequestStep::Progress(a) => (
            Cmd::Progress(pb::RecordProgressCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                note: a.note.clone(),
            }),
            a.write.json,
        ),
        RequestStep::Resolve(a) => (
            Cmd::Resolve(pb::ResolveRequestCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                resolution: a.resolution.clone(),
            }),
            a.write.json,
        ),
        RequestStep::Close(a) => (
            Cmd::Close(pb::CloseRequestCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                note: a.note.clone(),
                satisfaction: satisfaction(a.rating) as i32,
            }),
            a.write.json,
        ),
        RequestStep::Reject(a) => (
            Cmd::Reject(pb::RejectRequestCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
        RequestStep::Reopen(a) => (
            Cmd::Reopen(pb::ReopenRequestCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
        RequestStep::Escalate(a) => (
            Cmd::Escalate(pb::EscalateRequestCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                level: level(Some(a.level)),
                reason: a.reason.clone(),
                due_date: or_empty(&a.due),
            }),
            a.write.json,
        ),
        RequestStep::SubTask(a) => (
            Cmd::AddSubTask(pb::AddSubTaskCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                department: a.department.clone(),
                due_date: a.due.clone(),
                title: a.title.clone(),
            }),
            a.write.json,
        ),
        RequestStep::SubTaskDone(a) => (
            Cmd::CompleteSubTask(pb::CompleteSubTaskCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                sub_task_id: a.sub_task,
                note: a.note.clone(),
            }),
            a.write.json,
        ),
        RequestStep::Inspect(a) => (
            Cmd::RecordInspection(pb::RecordInspectionCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                visited_on: a.visited_on.clone(),
                findings: a.findings.clone(),
                follow_up_required: a.follow_up,
            }),
            a.write.json,
        ),
        RequestStep::DueDate(a) => (
            Cmd::ChangeDueDate(pb::ChangeDueDateCommand {
                context: key(&a.write),
                request_id: a.request.id.clone(),
                due_date: a.due.clone(),
                reason: a.reason.clone(),
            }),
            a.write.json,
        ),
    }
}

fn satisfaction(rating: RatingArg) -> pb::Satisfaction {
    match rating {
        RatingArg::Satisfied => pb::Satisfaction::Satisfied,
        RatingArg::BasicallySatisfied => pb::Satisfaction::BasicallySatisfied,
        RatingArg::Dissatisfied => pb::Satisfaction::Dissatisfied,
    }
}

fn level(level: Option<LevelArg>) -> i32 {
    level.map_or(0, |l| pb::SupervisionLevel::from(l) as i32)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command, RequestsCommand};

    fn planned(args: &[&str]) -> (Cmd, bool) {
        let cli = Cli::try_parse_from(args).expect("parses");
        let Command::Requests {
            command: RequestsCommand::Step(step),
        } = cli.command
        else {
            panic!("not a lifecycle step");
        };
        plan(&step)
    }

    #[test]
    fn each_step_is_its_rpc_with_its_fields() {
        let (submit, json) = planned(&[
            "sy",
            "requests",
            "submit",
            "--direction",
            "military-to-local",
            "--category",
            "medical",
            "--title",
            "体检",
            "--requester-name",
            "某部卫生队",
            "--area",
            "500106001001",
            "--due",
            "2027-01-10",
            "--level",
            "district",
            "--json",
        ]);
        assert!(json);
        let Cmd::Submit(submit) = submit else {
            panic!("not a submission");
        };
        assert_eq!(submit.direction, pb::Direction::MilitaryToLocal as i32);
        assert_eq!(submit.category, pb::Category::Medical as i32);
        assert_eq!(
            submit.supervision_level,
            pb::SupervisionLevel::District as i32
        );
        assert_eq!(submit.priority, 0, "left to intake's default");
        assert_eq!(submit.due_date, "2027-01-10");
        assert_eq!(
            submit.requester.unwrap().agency,
            "",
            "the caller's own agency"
        );
        let key = submit.context.unwrap().idempotency_key;
        assert!(key.starts_with("sy-requests-"), "{key}");

        let (assign, json) = planned(&[
            "sy",
            "requests",
            "assign",
            "r-1",
            "--department",
            "district-housing-bureau",
            "--due",
            "2027-01-10",
            "--idempotency-key",
            "k-1",
        ]);
        assert!(!json);
        assert_eq!(assign.call(), "AssignRequest");
        assert_eq!(assign.context().unwrap().idempotency_key, "k-1");
        let Cmd::Assign(assign) = assign else {
            panic!("not an assignment");
        };
        assert_eq!(
            (
                assign.request_id.as_str(),
                assign.department.as_str(),
                assign.due_date.as_str()
            ),
            ("r-1", "district-housing-bureau", "2027-01-10")
        );

        let calls = [
            (&["start", "r-1"][..], "StartRequest"),
            (&["progress", "r-1", "--note", "n"], "RecordProgress"),
            (
                &["resolve", "r-1", "--resolution", "done"],
                "ResolveRequest",
            ),
            (&["close", "r-1", "--rating", "satisfied"], "CloseRequest"),
            (
                &[
                    "sub-task",
                    "r-1",
                    "--department",
                    "d",
                    "--due",
                    "2027-01-10",
                    "--title",
                    "t",
                ],
                "AddSubTask",
            ),
            (&["sub-task-done", "r-1", "2"], "CompleteSubTask"),
            (
                &[
                    "inspect",
                    "r-1",
                    "--visited-on",
                    "2026-12-01",
                    "--findings",
                    "f",
                ],
                "RecordInspection",
            ),
            (&["reject", "r-1", "--reason", "no"], "RejectRequest"),
            (&["reopen", "r-1", "--reason", "not done"], "ReopenRequest"),
            (
                &["escalate", "r-1", "--level", "city", "--reason", "late"],
                "EscalateRequest",
            ),
            (
                &["due-date", "r-1", "--due", "2027-02-01", "--reason", "r"],
                "ChangeDueDate",
            ),
        ];
        for (args, call) in calls {
            let line: Vec<&str> = ["sy", "requests"].iter().chain(args).copied().collect();
            let (cmd, _) = planned(&line);
            assert_eq!(cmd.call(), call);
            assert_eq!(cmd.aggregate(), crate::commands::Slot::Request, "{call}");
        }
    }

    #[test]
    fn a_malformed_day_is_a_usage_error_naming_its_flag() {
        for bad in ["2027-02-30", "10/01/2027", "tomorrow"] {
            let err = Cli::try_parse_from([
                "sy",
                "requests",
                "assign",
                "r-1",
                "--department",
                "d",
                "--due",
                bad,
            ])
            .expect_err(bad);
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(text.contains("--due"), "{text}");
            assert!(text.contains("YYYY-MM-DD"), "{text}");
        }
        assert!(
            Cli::try_parse_from(["sy", "requests", "progress", "r-1"]).is_err(),
            "progress says what was done"
        );
    }
}
