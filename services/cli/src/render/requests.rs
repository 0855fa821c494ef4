//! Support requests for people: labels for the request protocol's enums
//! (English with the article's Chinese term), the close-out board, request
//! lists, one request's fields and its timeline.

use comfy_table::{Cell, CellAlignment, Table};
use sy_api::pb::{self, Category, Direction, RequestStatus, SupervisionLevel};

use super::{duration, number, or_dash, satisfaction_label, table, time};

pub fn status_label(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Unspecified => "-",
        RequestStatus::Submitted => "submitted 已提报",
        RequestStatus::Assigned => "assigned 已交办",
        RequestStatus::InProgress => "in progress 办理中",
        RequestStatus::Resolved => "resolved 待确认",
        RequestStatus::Closed => "closed 已销号",
        RequestStatus::Rejected => "rejected 不予受理",
    }
}

pub fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::Unspecified => "-",
        Direction::MilitaryToLocal => "military→local 部队需求",
        Direction::LocalToMilitary => "local→military 地方需求",
    }
}

pub fn category_label(category: Category) -> &'static str {
    match category {
        Category::Unspecified => "-",
        Category::BarracksAndTrainingGrounds => "barracks & training grounds 营区训练场",
        Category::PropertyRegistration => "property registration 不动产登记",
        Category::Medical => "medical 就医保障",
        Category::FamilyDifficulty => "family difficulty 家庭困难",
        Category::StudentMilitaryTraining => "student military training 学生军训",
        Category::FreeClinic => "free clinic 义诊",
        Category::JointSecurity => "joint security 联防联控",
        Category::EmergencyRelief => "emergency relief 抢险救灾",
        Category::Other => "other 双清单其他",
    }
}

pub fn level_label(level: SupervisionLevel) -> &'static str {
    match level {
        SupervisionLevel::Unspecified => "-",
        SupervisionLevel::None => "none",
        SupervisionLevel::District => "district 区级督办",
        SupervisionLevel::City => "city 市级督办",
        SupervisionLevel::National => "national 市级以上督办",
    }
}

pub fn priority_label(priority: pb::Priority) -> &'static str {
    match priority {
        pb::Priority::Unspecified => "-",
        pb::Priority::Low => "low",
        pb::Priority::Normal => "normal",
        pb::Priority::High => "high",
        pb::Priority::Urgent => "urgent",
    }
}

/// A board row's key made readable: the projection names categories, levels
/// and directions by their enum names (with or without the prefix, any case);
/// department codes and anything else stay as they are.
pub fn board_key_label(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    let lookup = |prefix: &str| -> String {
        if upper.starts_with(prefix) {
            upper.clone()
        } else {
            format!("{prefix}{upper}")
        }
    };
    if let Some(c) = Category::from_str_name(&lookup("CATEGORY_")) {
        return category_label(c).to_string();
    }
    if let Some(l) = SupervisionLevel::from_str_name(&lookup("SUPERVISION_LEVEL_")) {
        return level_label(l).to_string();
    }
    if let Some(d) = Direction::from_str_name(&lookup("DIRECTION_")) {
        return direction_label(d).to_string();
    }
    key.to_string()
}

const BOARD_HEADER: [&str; 11] = [
    "",
    "submitted",
    "open",
    "overdue",
    "awaiting confirmation",
    "waited (oldest/mean days)",
    "closed",
    "on time 按期",
    "rejected",
    "mean time to close",
    "满意/基本满意/不满意",
];

/// A row's ratings as "satisfied/basically/dissatisfied", with close-outs
/// from before ratings after a plus ("3/1/0 +2 not rated").
fn ratings(counts: &pb::BoardCounts) -> String {
    let s = counts.satisfaction.unwrap_or_default();
    let mut text = format!(
        "{}/{}/{}",
        s.satisfied, s.basically_satisfied, s.dissatisfied
    );
    if s.not_rated > 0 {
        text.push_str(&format!(" +{} not rated", s.not_rated));
    }
    text
}

/// Closed on time of those with a due date, and the rate; `-` for none.
fn on_time(counts: &pb::BoardCounts) -> String {
    match counts.closed_with_due_date {
        0 => "-".to_string(),
        with_due => format!(
            "{}/{with_due} ({:.0}%)",
            counts.closed_on_time,
            counts.on_time_close_rate * 100.0
        ),
    }
}

/// How long resolved requests have awaited confirmation; `-` for none.
fn waited(counts: &pb::BoardCounts) -> String {
    match counts.awaiting_age.filter(|age| age.count > 0) {
        None => "-".to_string(),
        Some(age) => format!("{} / {:.1}", age.oldest_days, age.mean_days),
    }
}

fn board_row(label: String, counts: &pb::BoardCounts) -> Vec<Cell> {
    let mean = counts
        .close_times
        .as_ref()
        .map_or(0, |times| times.mean_seconds);
    vec![
        Cell::new(label),
        number(counts.submitted),
        number(counts.open),
        number(counts.overdue),
        number(counts.awaiting_confirmation),
        Cell::new(waited(counts)).set_alignment(CellAlignment::Right),
        number(counts.closed),
        Cell::new(on_time(counts)).set_alignment(CellAlignment::Right),
        number(counts.rejected),
        Cell::new(duration(mean)).set_alignment(CellAlignment::Right),
        Cell::new(ratings(counts)).set_alignment(CellAlignment::Right),
    ]
}

/// One board section (by department, category, ...) with a total row.
pub fn board_section(title: &str, rows: &[pb::BoardRow], total: Option<&pb::BoardCounts>) -> Table {
    let mut header = BOARD_HEADER;
    header[0] = title;
    let mut table = table(&header);
    for row in rows {
        let counts = row.counts.unwrap_or_default();
        table.add_row(board_row(board_key_label(&row.key), &counts));
    }
    if let Some(total) = total {
        table.add_row(board_row("total 合计".to_string(), total));
    }
    table
}

/// The whole close-out board as text.
pub fn board(board: &pb::ClearanceBoard) -> String {
    let total = board.total.unwrap_or_default();
    let mut out = format!(
        "close-out board 销号清零 as of {} (position {}): {} open, {} overdue, {} awaiting confirmation, {} closed of {} submitted\n",
        board.as_of,
        board.position,
        total.open,
        total.overdue,
        total.awaiting_confirmation,
        total.closed,
        total.submitted,
    );
    let sections: [(&str, &[pb::BoardRow]); 4] = [
        ("department 责任单位", &board.by_department),
        ("category 类别", &board.by_category),
        ("supervision 督办", &board.by_supervision_level),
        ("direction 方向", &board.by_direction),
    ];
    for (title, rows) in sections {
        if rows.is_empty() {
            continue;
        }
        out.push('\n');
        out.push_str(&board_section(title, rows, Some(&total)).to_string());
        out.push('\n');
    }
    if let Some(times) = total.close_times.as_ref().filter(|t| t.count > 0) {
        out.push_str(&format!(
            "\ntime to close over {} closed: mean {}; within 1 day {}, 7 days {}, 30 days {}, 90 days {}, over 90 days {}\n",
            times.count,
            duration(times.mean_seconds),
            times.within_1_day,
            times.within_7_days,
            times.within_30_days,
            times.within_90_days,
            times.over_90_days,
        ));
    }
    if let Some(s) = total
        .satisfaction
        .as_ref()
        .filter(|s| **s != Default::default())
    {
        out.push_str(&format!(
            "\nsatisfaction 满意度: {} 满意, {} 基本满意, {} 不满意 (each reopened its request), {} closed before ratings\n",
            s.satisfied, s.basically_satisfied, s.dissatisfied, s.not_rated,
        ));
    }
    out
}

/// Requests as a list table (no timelines).
pub fn request_list(requests: &[pb::Request]) -> Table {
    let mut table = table(&[
        "id",
        "status",
        "direction",
        "category",
        "department",
        "due",
        "supervision",
        "title",
    ]);
    for r in requests {
        table.add_row(vec![
            r.id.clone(),
            status_label(r.status()).to_string(),
            direction_label(r.direction()).to_string(),
            category_label(r.category()).to_string(),
            or_dash(&r.department).to_string(),
            or_dash(&r.due_date).to_string(),
            level_label(r.supervision_level()).to_string(),
            r.title.clone(),
        ]);
    }
    table
}

/// One request's fields, as a two-column table.
pub fn request_fields(r: &pb::Request) -> Table {
    let requester = r.requester.clone().unwrap_or_default();
    let submitted_by = r.submitted_by.clone().unwrap_or_default();
    let rows: Vec<(&str, String)> = vec![
        ("id", r.id.clone()),
        ("title", r.title.clone()),
        ("status", status_label(r.status()).to_string()),
        ("version", r.version.to_string()),
        ("direction", direction_label(r.direction()).to_string()),
        ("category", category_label(r.category()).to_string()),
        (
            "requester",
            format!("{} ({})", requester.name, requester.agency),
        ),
        ("area", r.area_code.clone()),
        ("priority", priority_label(r.priority()).to_string()),
        (
            "supervision",
            level_label(r.supervision_level()).to_string(),
        ),
        ("department", or_dash(&r.department).to_string()),
        ("due", or_dash(&r.due_date).to_string()),
        ("description", or_dash(&r.description).to_string()),
        ("resolution", or_dash(&r.resolution).to_string()),
        ("rejection", or_dash(&r.rejection_reason).to_string()),
        ("reopened", r.reopen_count.to_string()),
        ("clock actions", clock_actions(&r.supervision_fired)),
        (
            "satisfaction",
            satisfaction_label(r.satisfaction()).to_string(),
        ),
        ("rated 不满意", r.dissatisfied_count.to_string()),
        (
            "submitted",
            format!(
                "{} by {}/{}",
                time(r.submitted_at.as_ref()),
                submitted_by.agency,
                submitted_by.user
            ),
        ),
        ("assigned", time(r.assigned_at.as_ref())),
        ("started", time(r.started_at.as_ref())),
        ("resolved", time(r.resolved_at.as_ref())),
        ("closed", time(r.closed_at.as_ref())),
        ("updated", time(r.updated_at.as_ref())),
        ("last position", r.last_position.to_string()),
    ];
    super::field_table(rows)
}

/// How many supervision clock actions (reminders, automatic escalations)
/// the request recorded, and the latest one's key (rule, kind, due date,
/// day); the timeline lists each.
fn clock_actions(fired: &[String]) -> String {
    match fired.last() {
        Some(last) => format!("{} (latest {last})", fired.len()),
        None => "-".to_string(),
    }
}

/// A request's sub-tasks (任务分解) and inspection visits (督查), as text
/// to print under its fields; empty when it has neither. An open sub-task
/// due before `today` (China's date) is marked overdue.
pub fn breakdown(r: &pb::Request, today: jiff::civil::Date) -> String {
    let today = today.to_string();
    let mut out = String::new();
    if !r.sub_tasks.is_empty() {
        let mut tasks = table(&["sub-task", "department", "due", "title", "done", "note"]);
        for task in &r.sub_tasks {
            tasks.add_row(vec![
                Cell::new(format!("#{}", task.id)),
                Cell::new(&task.department),
                Cell::new(&task.due_date),
                Cell::new(or_dash(&task.title)),
                Cell::new(if task.done {
                    format!("done {}", time(task.completed_at.as_ref()))
                } else if task.due_date < today {
                    "open, overdue 逾期".to_string()
                } else {
                    "open".to_string()
                }),
                Cell::new(or_dash(&task.note)),
            ]);
        }
        out.push_str(&format!("sub-tasks 任务分解\n{tasks}\n"));
    }
    if !r.inspections.is_empty() {
        let mut visits = table(&["visited", "inspector", "follow-up", "findings"]);
        for visit in &r.inspections {
            let inspector = visit.inspector.clone().unwrap_or_default();
            visits.add_row(vec![
                Cell::new(&visit.visited_on),
                Cell::new(format!("{}/{}", inspector.agency, inspector.user)),
                Cell::new(if visit.follow_up_required {
                    "required"
                } else {
                    "-"
                }),
                Cell::new(or_dash(&visit.findings)),
            ]);
        }
        out.push_str(&format!("inspections 督查\n{visits}\n"));
    }
    out
}

/// A request's timeline, oldest first.
pub fn timeline(entries: &[pb::TimelineEntry]) -> Table {
    let mut table = table(&[
        "v",
        "position",
        "event",
        "occurred",
        "actor",
        "status after",
        "note",
    ]);
    for e in entries {
        let actor = e.actor.clone().unwrap_or_default();
        table.add_row(vec![
            number(e.version),
            number(e.position),
            Cell::new(&e.event_type),
            Cell::new(time(e.occurred_at.as_ref())),
            Cell::new(format!("{}/{}", actor.agency, actor.user)),
            Cell::new(status_label(e.status_after())),
            Cell::new(or_dash(&e.note)),
        ]);
    }
    table
}

/// A yearly double list (双清单): its progress line, then one row per item
/// with its request's status now.
pub fn double_list(list: &pb::DoubleList) -> String {
    let p = list.progress.unwrap_or_default();
    let state = if list.published {
        format!("published {}", time(list.published_at.as_ref()))
    } else {
        "draft 草稿".to_string()
    };
    let mut out = format!(
        "double list 双清单 {} {} ({state}, version {}): {} items, {} closed, {} open, {} overdue, {} awaiting confirmation, {} rejected\n",
        list.year,
        direction_label(list.direction()),
        list.version,
        p.items,
        p.closed,
        p.open,
        p.overdue,
        p.awaiting_confirmation,
        p.rejected,
    );
    let mut table = table(&["request", "status", "department", "due", "note"]);
    for item in &list.items {
        let due = if item.overdue {
            format!("{} overdue 逾期", item.due_date)
        } else {
            or_dash(&item.due_date).to_string()
        };
        table.add_row(vec![
            item.request_id.clone(),
            status_label(item.status()).to_string(),
            or_dash(&item.department).to_string(),
            due,
            or_dash(&item.note).to_string(),
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_keys_read_in_any_spelling() {
        assert_eq!(board_key_label("CATEGORY_MEDICAL"), "medical 就医保障");
        assert_eq!(board_key_label("medical"), "medical 就医保障");
        assert_eq!(board_key_label("city"), "city 市级督办");
        assert_eq!(
            board_key_label("DIRECTION_LOCAL_TO_MILITARY"),
            "local→military 地方需求"
        );
        assert_eq!(
            board_key_label("district-housing-bureau"),
            "district-housing-bureau"
        );
        assert_eq!(board_key_label("(unassigned)"), "(unassigned)");
    }

    #[test]
    fn a_request_shows_its_clock_actions() {
        let mut request = pb::Request::default();
        assert!(
            request_fields(&request)
                .to_string()
                .contains("clock actions")
        );
        request.supervision_fired = vec![
            "standard/remind/2027-03-01/2027-02-26".into(),
            "standard/escalate/2027-03-01/2027-03-06".into(),
        ];
        let shown = request_fields(&request).to_string();
        assert!(
            shown.contains("2 (latest standard/escalate/2027-03-01/2027-03-06)"),
            "{shown}"
        );
    }

    #[test]
    fn a_breakdown_lists_sub_tasks_and_inspections() {
        let today = jiff::civil::date(2026, 12, 1);
        assert_eq!(breakdown(&pb::Request::default(), today), "");
        let request = pb::Request {
            sub_tasks: vec![pb::SubTask {
                id: 2,
                department: "district-water-bureau".into(),
                due_date: "2027-01-01".into(),
                title: "铺设主管道".into(),
                ..Default::default()
            }],
            inspections: vec![pb::Inspection {
                visited_on: "2026-12-01".into(),
                findings: "进度滞后".into(),
                follow_up_required: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = breakdown(&request, today);
        assert!(text.starts_with("sub-tasks 任务分解"));
        assert!(!text.contains("overdue"));
        let later = breakdown(&request, jiff::civil::date(2027, 1, 2));
        assert!(later.contains("open, overdue 逾期"), "{later}");
        for expected in [
            "#2",
            "district-water-bureau",
            "open",
            "inspections 督查",
            "进度滞后",
            "required",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }

    #[test]
    fn a_board_prints_its_sections() {
        let counts = pb::BoardCounts {
            submitted: 3,
            open: 2,
            closed: 1,
            ..Default::default()
        };
        let text = board(&pb::ClearanceBoard {
            as_of: "2026-05-01".into(),
            total: Some(counts),
            by_department: vec![pb::BoardRow {
                key: "district-housing-bureau".into(),
                counts: Some(counts),
            }],
            position: 9,
            ..Default::default()
        });
        assert!(text.starts_with("close-out board 销号清零 as of 2026-05-01 (position 9): 2 open"));
        assert!(text.contains("district-housing-bureau"));
        assert!(!text.contains("category 类别"));
        assert!(!text.contains("满意度"), "no line without ratings");
        let rated = pb::BoardCounts {
            satisfaction: Some(pb::SatisfactionCounts {
                satisfied: 3,
                basically_satisfied: 1,
                dissatisfied: 2,
                not_rated: 0,
            }),
            ..counts
        };
        assert_eq!(ratings(&rated), "3/1/2");
        let text = board(&pb::ClearanceBoard {
            total: Some(rated),
            ..Default::default()
        });
        assert!(
            text.contains("satisfaction 满意度: 3 满意, 1 基本满意, 2 不满意"),
            "{text}"
        );
        let legacy = pb::BoardCounts {
            satisfaction: Some(pb::SatisfactionCounts {
                not_rated: 4,
                ..Default::default()
            }),
            ..counts
        };
        assert_eq!(ratings(&legacy), "0/0/0 +4 not rated");
        assert!(!text.contains("(0%)"), "no rate without a due date");
    }

    #[test]
    fn a_board_row_shows_the_on_time_rate_and_the_wait() {
        let counts = pb::BoardCounts {
            closed: 4,
            closed_with_due_date: 4,
            closed_on_time: 3,
            on_time_close_rate: 0.75,
            awaiting_confirmation: 2,
            awaiting_age: Some(pb::AwaitingAge {
                count: 2,
                oldest_days: 9,
                mean_days: 6.5,
            }),
            ..Default::default()
        };
        assert_eq!(on_time(&counts), "3/4 (75%)");
        assert_eq!(waited(&counts), "9 / 6.5");
        assert_eq!(waited(&pb::BoardCounts::default()), "-");
    }
}
