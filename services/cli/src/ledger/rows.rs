//! A ledger row checked and turned into the commands that file it: a
//! submission and, when the row names a department, its assignment.
//!
//! The checks are the domain's own: each row's commands are parsed exactly
//! as intake parses them (`CommandMessage::parse`, with the deployment's
//! districts), and every violation is reported against the column holding
//! the field. Only what intake cannot know from one command is checked
//! here: a cell's word (方向, 类别 ...), a department the deployment's role
//! policy does not know, and a row key used twice.

use std::collections::HashMap;

use jiff::Timestamp;
use sy_api::pb;
use sy_api::policy::{Policy, Role};
use sy_domain::command_meta::{CommandMessage, ParseEnv};
use sy_domain::error::{DomainError, FieldViolation};

use super::columns::{CATEGORIES, Column, DIRECTIONS, LEVELS, PRIORITIES, Words, parse_word};

/// The commands that file one row.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The row's number in the sheet.
    pub row: u32,
    pub submit: pb::SubmitRequestCommand,
    pub assign: Option<pb::AssignRequestCommand>,
}

/// What is wrong with one cell (or, with no column, the sheet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub row: u32,
    /// The column's header, or the field the domain named.
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "row {}, column {}: {}",
            self.row, self.column, self.reason
        )
    }
}

/// Where each known column is in the sheet.
#[derive(Debug)]
pub struct Layout(HashMap<Column, usize>);

impl Layout {
    /// Finds the columns by their headers; every missing required column is
    /// a problem of row 1.
    pub fn of(header: &[String]) -> Result<Self, Vec<Problem>> {
        let at: HashMap<Column, usize> = Column::ALL
            .iter()
            .filter_map(|c| Some((*c, header.iter().position(|h| h == c.header())?)))
            .collect();
        let missing: Vec<Problem> = Column::ALL
            .iter()
            .filter(|c| c.required() && !at.contains_key(c))
            .map(|c| Problem {
                row: 1,
                column: c.header().into(),
                reason: "the column is missing: the first row must name it".into(),
            })
            .collect();
        if missing.is_empty() {
            Ok(Self(at))
        } else {
            Err(missing)
        }
    }

    fn cell<'a>(&self, cells: &'a [String], column: Column) -> &'a str {
        self.0
            .get(&column)
            .and_then(|i| cells.get(*i))
            .map_or("", |c| c.as_str())
    }
}

/// Checks rows against one deployment, as one importing actor.
pub struct Checker<'a> {
    pub env: ParseEnv,
    pub actor: &'a pb::Actor,
    pub policy: &'a Policy,
    pub now: Timestamp,
}

/// The idempotency key of a row's submission.
pub fn submit_key(row_key: &str) -> String {
    format!("ledger-{row_key}")
}

impl Checker<'_> {
    /// The row's commands, or one problem per bad column.
    pub fn check(
        &self,
        layout: &Layout,
        row: u32,
        cells: &[String],
    ) -> Result<Planned, Vec<Problem>> {
        let cell = |c| layout.cell(cells, c);
        let mut problems = Vec::new();
        let direction = enum_cell(&mut problems, Column::Direction, DIRECTIONS, cell);
        let category = enum_cell(&mut problems, Column::Category, CATEGORIES, cell);
        let priority = enum_cell(&mut problems, Column::Priority, PRIORITIES, cell);
        let level = enum_cell(&mut problems, Column::Level, LEVELS, cell);
        let row_key = cell(Column::Key);
        if row_key.is_empty() {
            problems.push((Column::Key, "is required: it keys the row's import".into()));
        }
        let key = submit_key(row_key);
        let submit = pb::SubmitRequestCommand {
            context: context(&key),
            direction,
            requester: Some(pb::RequestingParty {
                agency: String::new(),
                name: cell(Column::Requester).into(),
            }),
            category,
            title: cell(Column::Title).into(),
            description: cell(Column::Description).into(),
            area_code: cell(Column::Area).into(),
            priority,
            due_date: String::new(),
            supervision_level: level,
            person_id: String::new(),
        };
        let department = cell(Column::Department);
        let (submit, assign) = if department.is_empty() {
            // Without a department, the due date is the submission's.
            let due_date = cell(Column::Due).into();
            (pb::SubmitRequestCommand { due_date, ..submit }, None)
        } else {
            if !self.policy.grant(department).has(Role::Department) {
                problems.push((
                    Column::Department,
                    format!(
                        "unknown department {department}: the role policy grants it no department role"
                    ),
                ));
            }
            if cell(Column::Due).is_empty() {
                problems.push((
                    Column::Due,
                    "is required when 承办部门 names a department".into(),
                ));
            }
            let request_id = sy_domain::request::request_id_for(&self.actor.agency, &key);
            let assign = pb::AssignRequestCommand {
                context: context(&format!("{key}/assign")),
                request_id: request_id.to_string(),
                department: department.into(),
                due_date: cell(Column::Due).into(),
                note: String::new(),
            };
            (submit, Some(assign))
        };
        let mut violations = self.violations(&submit);
        if let Some(assign) = &assign {
            violations.extend(self.violations(assign));
        }
        finish(row, problems, violations, submit, assign)
    }

    /// Every field the domain refuses in `message`, as intake would.
    fn violations<M: CommandMessage>(&self, message: &M) -> Vec<FieldViolation> {
        match message.parse(&self.env, self.actor, self.now) {
            Ok(_) => Vec::new(),
            Err(DomainError::Invalid(violations)) => violations,
            Err(other) => vec![FieldViolation::new("context", other.to_string())],
        }
    }
}

/// The value of an enum column's cell as its field's number: 0 (unset)
/// for an empty cell, and for an unknown word, which is a problem.
fn enum_cell<'a, E: Copy + Into<i32>>(
    problems: &mut Vec<(Column, String)>,
    column: Column,
    words: Words<E>,
    cell: impl Fn(Column) -> &'a str,
) -> i32 {
    match parse_word(words, cell(column)) {
        Ok(value) => value.map_or(0, Into::into),
        Err(reason) => {
            problems.push((column, reason));
            0
        }
    }
}

fn context(key: &str) -> Option<pb::CommandContext> {
    crate::commands::context(key.to_string(), String::new(), None)
}

/// The row's commands, or its problems: the ledger's own first, then the
/// domain's, one per column (a cell the ledger refused is not reported
/// again as, say, "is required").
fn finish(
    row: u32,
    ledger: Vec<(Column, String)>,
    domain: Vec<FieldViolation>,
    submit: pb::SubmitRequestCommand,
    assign: Option<pb::AssignRequestCommand>,
) -> Result<Planned, Vec<Problem>> {
    let mut problems: Vec<Problem> = Vec::new();
    let named = ledger.into_iter().map(|(c, r)| (c.header().to_string(), r));
    let fields = domain.into_iter().map(|v| {
        let column = Column::of_field(&v.field).map_or(v.field, |c| c.header().to_string());
        (column, v.reason)
    });
    for (column, reason) in named.chain(fields) {
        if !problems.iter().any(|p| p.column == column) {
            problems.push(Problem {
                row,
                column,
                reason,
            });
        }
    }
    if problems.is_empty() {
        Ok(Planned {
            row,
            submit,
            assign,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sy_domain::validate::Districts;

    const POLICY: &str = r#"
[[grant]]
agencies = ["district-housing-bureau", "unit-*"]
roles = ["department"]
"#;

    fn checker<'a>(policy: &'a Policy, actor: &'a pb::Actor) -> Checker<'a> {
        Checker {
            env: ParseEnv {
                districts: Districts::parse("500106").unwrap(),
                identity_key: [0; 32],
            },
            actor,
            policy,
            now: "2026-12-01T02:00:00Z".parse().unwrap(),
        }
    }

    fn header() -> Vec<String> {
        Column::ALL.iter().map(|c| c.header().to_string()).collect()
    }

    fn row(edit: &[(Column, &str)]) -> Vec<String> {
        let mut cells: Vec<String> = Column::ALL
            .iter()
            .map(|c| {
                match c {
                    Column::Key => "L-1",
                    Column::Direction => "部队需求",
                    Column::Requester => "某部营房科",
                    Column::Category => "营区训练场",
                    Column::Title => "营区道路维修",
                    Column::Area => "500106001001",
                    Column::Department => "district-housing-bureau",
                    Column::Due => "2026-12-20",
                    Column::Level => "区级督办",
                    _ => "",
                }
                .to_string()
            })
            .collect();
        for (column, value) in edit {
            let at = Column::ALL.iter().position(|c| c == column).unwrap();
            cells[at] = value.to_string();
        }
        cells
    }

    fn actor() -> pb::Actor {
        pb::Actor {
            agency: "district-veterans-bureau".into(),
            user: "clerk".into(),
        }
    }

    #[test]
    fn a_good_row_is_a_keyed_submission_and_its_assignment() {
        let (policy, actor) = (Policy::parse(POLICY).unwrap(), actor());
        let layout = Layout::of(&header()).unwrap();
        let planned = checker(&policy, &actor)
            .check(&layout, 2, &row(&[]))
            .unwrap();
        let submit = &planned.submit;
        assert_eq!(
            submit.context.as_ref().unwrap().idempotency_key,
            "ledger-L-1"
        );
        assert_eq!(submit.direction, pb::Direction::MilitaryToLocal as i32);
        assert_eq!(
            submit.supervision_level,
            pb::SupervisionLevel::District as i32
        );
        assert_eq!(submit.priority, 0, "intake's default");
        let assign = planned.assign.unwrap();
        assert_eq!(
            assign.request_id,
            sy_domain::request::request_id_for("district-veterans-bureau", "ledger-L-1")
                .to_string()
        );
        assert_eq!(assign.context.unwrap().idempotency_key, "ledger-L-1/assign");
        assert_eq!(assign.due_date, "2026-12-20");

        let alone = checker(&policy, &actor)
            .check(&layout, 3, &row(&[(Column::Department, "")]))
            .unwrap();
        assert!(alone.assign.is_none());
        assert_eq!(alone.submit.due_date, "2026-12-20", "due at submission");
    }

    #[test]
    fn each_bad_cell_is_one_problem_naming_its_column() {
        let (policy, actor) = (Policy::parse(POLICY).unwrap(), actor());
        let layout = Layout::of(&header()).unwrap();
        let check = |edit: &[(Column, &str)]| {
            checker(&policy, &actor)
                .check(&layout, 7, &row(edit))
                .unwrap_err()
                .into_iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        };
        let got = check(&[(Column::Due, "2026-02-30")]);
        assert_eq!(
            got,
            ["row 7, column 办结时限: 2026-02-30 is not a calendar date"]
        );
        let got = check(&[(Column::Department, "district-nowhere")]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("row 7, column 承办部门: unknown department"),
            "{got:?}"
        );
        let got = check(&[(Column::Area, "500107001001")]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("row 7, column 区域代码:"), "{got:?}");
        let got = check(&[(Column::Direction, "军队"), (Column::Title, "")]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].starts_with("row 7, column 方向: \"军队\" is not one of"),
            "{got:?}"
        );
        assert!(got[1].starts_with("row 7, column 标题:"), "{got:?}");
        let got = check(&[(Column::Due, "")]);
        assert_eq!(
            got,
            ["row 7, column 办结时限: is required when 承办部门 names a department"]
        );
    }

    #[test]
    fn a_missing_column_is_named_once() {
        let header: Vec<String> = header()
            .into_iter()
            .filter(|h| h != Column::Area.header())
            .collect();
        let problems = Layout::of(&header).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].column, "区域代码");
        assert_eq!(problems[0].row, 1);
    }
}
