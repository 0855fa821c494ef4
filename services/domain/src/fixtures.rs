//! Test support, not domain logic: the commands that both the domain's and
//! the projection's tests build, made once here through the same `parse`
//! constructors that real input goes through.
//!
//! Compiled for this crate's own tests and, behind the `fixtures` feature, for
//! other crates that enable it in their `[dev-dependencies]`; release builds
//! never contain it.

use jiff::civil::Date;

use crate::pb;
use crate::request::{Command, Submission};
use crate::validate::{AreaCode, Code, Districts};

/// The agency (a military unit) that submits the fixtures' requests.
pub const REQUESTER: &str = "unit-31001";
/// The districts the fixtures' area codes must lie in (Chongqing's Shapingba).
pub const DISTRICTS: &str = "500106";
/// The village-level area code of [`submit`]'s request.
pub const AREA_CODE: &str = "500106001002";

/// A military-to-local submission by [`REQUESTER`] in `category` at
/// `area_code` (within [`DISTRICTS`]): high priority, no due date, no
/// supervision.
pub fn submission(category: pb::Category, area_code: &str) -> Command {
    let districts = Districts::parse(DISTRICTS).expect("DISTRICTS is a valid list");
    Command::Submit(Submission {
        direction: pb::Direction::MilitaryToLocal,
        requester_agency: Code::parse("requester_agency", REQUESTER)
            .expect("REQUESTER is a valid code"),
        requester_name: "某部营房科".into(),
        category,
        title: "训练场排水改造".into(),
        description: String::new(),
        area_code: AreaCode::parse("area_code", area_code, &districts)
            .expect("fixture area codes lie in DISTRICTS"),
        priority: pb::Priority::High,
        due_date: None,
        supervision_level: pb::SupervisionLevel::None,
        person: None,
    })
}

/// The usual submission: barracks and training grounds at [`AREA_CODE`].
pub fn submit() -> Command {
    submission(pb::Category::BarracksAndTrainingGrounds, AREA_CODE)
}

/// An assignment to `department`, due on `due_date`, without a note.
pub fn assign(department: &str, due_date: Date) -> Command {
    Command::Assign {
        department: Code::parse("department", department)
            .expect("fixture departments are valid codes"),
        due_date,
        note: String::new(),
    }
}
