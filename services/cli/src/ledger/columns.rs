//! The request ledger's columns (台账) and the Chinese words its cells use,
//! in one table each, so export and import cannot disagree: what `sy ledger
//! export` writes, `sy ledger import` reads back as the same values.
//!
//! Some columns are only read out (状态, 提报时间, 销号时间): an import files
//! new requests, whose status and times are the new log's own.

use sy_api::pb::{self, Category, Direction, Priority, RequestStatus, SupervisionLevel};

/// A column of the request ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// The row key: the request id on export; any ASCII key on import.
    Key,
    Direction,
    /// The requesting party's display name.
    Requester,
    Category,
    Title,
    Description,
    Area,
    Priority,
    /// The responsible department's code.
    Department,
    /// The due date.
    Due,
    Level,
    Status,
    SubmittedAt,
    ClosedAt,
}

impl Column {
    /// Every column, in the ledger's order.
    pub const ALL: [Column; 14] = [
        Column::Key,
        Column::Direction,
        Column::Requester,
        Column::Category,
        Column::Title,
        Column::Description,
        Column::Area,
        Column::Priority,
        Column::Department,
        Column::Due,
        Column::Level,
        Column::Status,
        Column::SubmittedAt,
        Column::ClosedAt,
    ];

    /// The column's header.
    pub fn header(self) -> &'static str {
        match self {
            Column::Key => "编号",
            Column::Direction => "方向",
            Column::Requester => "提出单位",
            Column::Category => "类别",
            Column::Title => "标题",
            Column::Description => "内容",
            Column::Area => "区域代码",
            Column::Priority => "优先级",
            Column::Department => "承办部门",
            Column::Due => "办结时限",
            Column::Level => "督办级别",
            Column::Status => "状态",
            Column::SubmittedAt => "提报时间",
            Column::ClosedAt => "销号时间",
        }
    }

    /// Whether an imported ledger must have the column (the others may be
    /// left out, and an empty cell takes the default).
    pub fn required(self) -> bool {
        matches!(
            self,
            Column::Key
                | Column::Direction
                | Column::Requester
                | Column::Category
                | Column::Title
                | Column::Area
        )
    }

    /// The column holding a field of the submission or assignment an import
    /// sends, as the domain's validation names it.
    pub fn of_field(field: &str) -> Option<Column> {
        Some(match field {
            "direction" => Column::Direction,
            "requester" | "requester.name" | "requester.agency" => Column::Requester,
            "category" => Column::Category,
            "title" => Column::Title,
            "description" => Column::Description,
            "area_code" => Column::Area,
            "priority" => Column::Priority,
            "department" => Column::Department,
            "due_date" => Column::Due,
            "supervision_level" => Column::Level,
            f if f.starts_with("context.") || f == "request_id" => Column::Key,
            _ => return None,
        })
    }

    /// The column's cell for `request`, as exported.
    pub fn cell(self, request: &pb::Request) -> String {
        let party = request.requester.as_ref();
        match self {
            Column::Key => request.id.clone(),
            Column::Direction => word(DIRECTIONS, request.direction()).into(),
            Column::Requester => party.map(|p| p.name.clone()).unwrap_or_default(),
            Column::Category => word(CATEGORIES, request.category()).into(),
            Column::Title => request.title.clone(),
            Column::Description => request.description.clone(),
            Column::Area => request.area_code.clone(),
            Column::Priority => word(PRIORITIES, request.priority()).into(),
            Column::Department => request.department.clone(),
            Column::Due => request.due_date.clone(),
            Column::Level => word(LEVELS, request.supervision_level()).into(),
            Column::Status => word(STATUSES, request.status()).into(),
            Column::SubmittedAt => time(request.submitted_at.as_ref()),
            Column::ClosedAt => time(request.closed_at.as_ref()),
        }
    }
}

/// A time as the ledger shows it; empty when unset.
fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.map(|ts| crate::render::time(Some(ts)))
        .unwrap_or_default()
}

/// The words of one enum's values in the ledger.
pub type Words<E> = &'static [(E, &'static str)];

pub const DIRECTIONS: Words<Direction> = &[
    (Direction::MilitaryToLocal, "部队需求"),
    (Direction::LocalToMilitary, "地方需求"),
];

pub const CATEGORIES: Words<Category> = &[
    (Category::BarracksAndTrainingGrounds, "营区训练场"),
    (Category::PropertyRegistration, "不动产登记"),
    (Category::Medical, "就医保障"),
    (Category::FamilyDifficulty, "家庭困难"),
    (Category::StudentMilitaryTraining, "学生军训"),
    (Category::FreeClinic, "义诊"),
    (Category::JointSecurity, "联防联控"),
    (Category::EmergencyRelief, "抢险救灾"),
    (Category::Other, "其他"),
];

pub const PRIORITIES: Words<Priority> = &[
    (Priority::Low, "低"),
    (Priority::Normal, "一般"),
    (Priority::High, "高"),
    (Priority::Urgent, "紧急"),
];

pub const LEVELS: Words<SupervisionLevel> = &[
    (SupervisionLevel::None, "无"),
    (SupervisionLevel::District, "区级督办"),
    (SupervisionLevel::City, "市级督办"),
    (SupervisionLevel::National, "市级以上督办"),
];

const STATUSES: Words<RequestStatus> = &[
    (RequestStatus::Submitted, "已提报"),
    (RequestStatus::Assigned, "已交办"),
    (RequestStatus::InProgress, "办理中"),
    (RequestStatus::Resolved, "待确认"),
    (RequestStatus::Closed, "已销号"),
    (RequestStatus::Rejected, "不予受理"),
];

/// The word for `value`; empty for a value the ledger has no word for
/// (unspecified).
pub fn word<E: PartialEq + Copy>(words: Words<E>, value: E) -> &'static str {
    words
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("", |(_, w)| w)
}

/// The value a cell's word names; `None` for an empty cell (the field's
/// default, or the domain's "is required"); an unknown word is an error
/// listing the known ones.
pub fn parse_word<E: Copy>(words: Words<E>, cell: &str) -> Result<Option<E>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    words
        .iter()
        .find(|(_, w)| *w == cell)
        .map(|(v, _)| Some(*v))
        .ok_or_else(|| {
            let known: Vec<&str> = words.iter().map(|(_, w)| *w).collect();
            format!("{cell:?} is not one of {}", known.join("、"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_its_value() {
        fn round_trip<E: PartialEq + Copy + std::fmt::Debug>(words: Words<E>) {
            for (value, _) in words {
                assert_eq!(parse_word(words, word(words, *value)), Ok(Some(*value)));
            }
        }
        round_trip(DIRECTIONS);
        round_trip(CATEGORIES);
        round_trip(PRIORITIES);
        round_trip(LEVELS);
        round_trip(STATUSES);
        assert_eq!(parse_word(LEVELS, ""), Ok(None));
        let err = parse_word(DIRECTIONS, "军队").unwrap_err();
        assert!(err.contains("部队需求、地方需求"), "{err}");
    }

    #[test]
    fn headers_are_distinct_and_fields_find_their_columns() {
        let mut headers: Vec<_> = Column::ALL.iter().map(|c| c.header()).collect();
        headers.sort_unstable();
        headers.dedup();
        assert_eq!(headers.len(), Column::ALL.len());
        assert_eq!(Column::of_field("due_date"), Some(Column::Due));
        assert_eq!(
            Column::of_field("context.idempotency_key"),
            Some(Column::Key)
        );
        assert_eq!(Column::of_field("person_id"), None);
    }
}
