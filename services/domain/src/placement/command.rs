//! Placement commands as validated values, parsed from their protobuf
//! messages ([`CommandMessage`]). The constructors parse caller input (text
//! trimmed and bounded, codes and dates checked) and name every bad field at
//! once; past them, what remains to check depends on the placement's state
//! and belongs to `decide`.

use jiff::civil::Date;
use uuid::Uuid;

use crate::command_meta::{CommandMessage, Input, context_accessors, on_existing};
use crate::error::{DomainError, FieldViolation};
use crate::pb::{self, Programme};
use crate::validate::{self, AreaCode, Districts, Violations, text};

use super::{Placement, placement_id_for};

/// Employers, posts and schools.
const NAME_MAX: usize = 200;
/// Grades such as "一年级" or "初二".
const GRADE_MAX: usize = 50;
/// Reasons and notes.
const TEXT_MAX: usize = 4000;

/// A placement command, validated at the edge.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Enter `person_id` into `programme`, or start a new cycle after a
    /// failed one. `school` and `grade` are the child's request (school
    /// enrollment only, empty otherwise).
    Register {
        /// The programme entered; fixes the role the person must have.
        programme: Programme,
        /// The registered person placed.
        person_id: Uuid,
        /// The street or community whose office handles the placement.
        area_code: AreaCode,
        /// Employment fast lane (就业快车道): promised on duty within 24 hours.
        fast_lane: bool,
        /// The school the child asks for (school enrollment only).
        school: String,
        /// The grade the child asks to enter (school enrollment only).
        grade: String,
    },
    /// Matched to an employer and post; the three matches are those of
    /// 专业对口、岗位对应、职务对等, recorded as given.
    Match {
        /// The employer's name.
        employer: String,
        /// The post offered.
        post: String,
        /// The post fits the person's profession (专业对口).
        profession_matched: bool,
        /// The post corresponds to their former post (岗位对应).
        post_matched: bool,
        /// The post's rank equals their former rank (职务对等).
        rank_matched: bool,
    },
    /// On duty from `on` (上岗).
    PutOnDuty {
        /// The first day on duty, not in the future.
        on: Date,
    },
    /// The person declined what was offered; the cycle fails.
    Decline {
        /// Why, as recorded by the office.
        reason: String,
    },
    /// The person left the programme before being placed; the cycle fails.
    Withdraw {
        /// Why, as recorded by the office.
        reason: String,
    },
    /// Into the community reserve talent pool (社区后备人才库) of a community.
    RecommendToTalentPool {
        /// The 12-digit code of the community, in a served district.
        community_code: AreaCode,
        /// The office's note on the recommendation; may be empty.
        note: String,
    },
    /// The school accepts the child's request.
    AcceptSchoolRequest {
        /// The school's note; may be empty.
        note: String,
    },
    /// The school declines the child's request.
    DeclineSchoolRequest {
        /// Why the school declined.
        reason: String,
    },
    /// The child is enrolled in `school` (which may differ from the one asked for).
    EnrollInSchool {
        /// The school the child is enrolled in.
        school: String,
    },
}

impl Command {
    /// The verb used in messages: "cannot match a veteran resettlement
    /// placement that is on_duty".
    pub fn action(&self) -> &'static str {
        match self {
            Command::Register { .. } => "register",
            Command::Match { .. } => "match",
            Command::PutOnDuty { .. } => "put on duty",
            Command::Decline { .. } => "decline",
            Command::Withdraw { .. } => "withdraw",
            Command::RecommendToTalentPool { .. } => "recommend to the talent pool",
            Command::AcceptSchoolRequest { .. } => "accept the school request of",
            Command::DeclineSchoolRequest { .. } => "decline the school request of",
            Command::EnrollInSchool { .. } => "enroll",
        }
    }

    /// The placement a registration addresses; `None` for commands on an
    /// existing placement, which name it themselves.
    pub fn new_placement_id(&self) -> Option<Uuid> {
        match self {
            Command::Register {
                programme,
                person_id,
                ..
            } => Some(placement_id_for(person_id, *programme)),
            _ => None,
        }
    }

    /// A registration. `programme` is the protobuf enum's raw value;
    /// `school` and `grade` are required for school enrollment and must be
    /// empty otherwise.
    pub fn register(
        programme: i32,
        person_id: &str,
        area_code: &str,
        districts: &Districts,
        fast_lane: bool,
        school: &str,
        grade: &str,
    ) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let programme: Option<Programme> =
            v.check(validate::enum_value("programme", programme, None));
        let person_id = v.check(validate::aggregate_id("person_id", person_id));
        let area_code = v.check(AreaCode::parse("area_code", area_code, districts));
        let (school, grade) = match programme {
            Some(Programme::SchoolEnrollment) => (
                v.check(text("school", school, 1, NAME_MAX)),
                v.check(text("grade", grade, 1, GRADE_MAX)),
            ),
            _ => (
                v.check(absent("school", school)),
                v.check(absent("grade", grade)),
            ),
        };
        v.finish(|| {
            Some(Command::Register {
                programme: programme?,
                person_id: person_id?,
                area_code: area_code?,
                fast_lane,
                school: school?,
                grade: grade?,
            })
        })
    }

    /// A match to `employer` and `post`.
    pub fn match_post(
        employer: &str,
        post: &str,
        profession_matched: bool,
        post_matched: bool,
        rank_matched: bool,
    ) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let employer = v.check(text("employer", employer, 1, NAME_MAX));
        let post = v.check(text("post", post, 1, NAME_MAX));
        v.finish(|| {
            Some(Command::Match {
                employer: employer?,
                post: post?,
                profession_matched,
                post_matched,
                rank_matched,
            })
        })
    }

    /// On duty from `on` (`YYYY-MM-DD`), which may not lie after `today`
    /// (the day the command occurred, in China): a future start is a
    /// promise, not a placement.
    pub fn put_on_duty(on: &str, today: Date) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let on = v
            .check(validate::date("on_duty_date", on))
            .and_then(|on| v.check(not_after("on_duty_date", on, today)));
        v.finish(|| Some(Command::PutOnDuty { on: on? }))
    }

    /// A decline for `reason` (required).
    pub fn decline(reason: &str) -> Result<Self, DomainError> {
        required("reason", reason).map(|reason| Command::Decline { reason })
    }

    /// A withdrawal for `reason` (required).
    pub fn withdraw(reason: &str) -> Result<Self, DomainError> {
        required("reason", reason).map(|reason| Command::Withdraw { reason })
    }

    /// A recommendation into the talent pool of the community
    /// `community_code` (a 12-digit code naming a community, in a served
    /// district).
    pub fn recommend_to_talent_pool(
        community_code: &str,
        districts: &Districts,
        note: &str,
    ) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let code = v
            .check(AreaCode::parse("community_code", community_code, districts))
            .and_then(|code| v.check(community("community_code", code)));
        let note = v.check(text("note", note, 0, TEXT_MAX));
        v.finish(|| {
            Some(Command::RecommendToTalentPool {
                community_code: code?,
                note: note?,
            })
        })
    }

    /// An acceptance of the school request with an optional `note`.
    pub fn accept_school_request(note: &str) -> Result<Self, DomainError> {
        text("note", note, 0, TEXT_MAX)
            .map(|note| Command::AcceptSchoolRequest { note })
            .map_err(|violation| DomainError::Invalid(vec![violation]))
    }

    /// A refusal of the school request for `reason` (required).
    pub fn decline_school_request(reason: &str) -> Result<Self, DomainError> {
        required("reason", reason).map(|reason| Command::DeclineSchoolRequest { reason })
    }

    /// An enrollment in `school` (required, at most 200 characters).
    pub fn enroll_in_school(school: &str) -> Result<Self, DomainError> {
        text("school", school, 1, NAME_MAX)
            .map(|school| Command::EnrollInSchool { school })
            .map_err(|violation| DomainError::Invalid(vec![violation]))
    }
}

fn required(field: &str, value: &str) -> Result<String, DomainError> {
    text(field, value, 1, TEXT_MAX).map_err(|violation| DomainError::Invalid(vec![violation]))
}

/// A field only school enrollment uses: empty elsewhere.
fn absent(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        Err(FieldViolation::new(
            field,
            "is only for school enrollment and must be empty",
        ))
    }
}

fn not_after(field: &str, value: Date, today: Date) -> Result<Date, FieldViolation> {
    if value > today {
        Err(FieldViolation::new(
            field,
            format!("{value} is in the future (today is {today})"),
        ))
    } else {
        Ok(value)
    }
}

/// A code naming one community (its last three digits not zero).
fn community(field: &str, code: AreaCode) -> Result<AreaCode, FieldViolation> {
    if code.as_str().ends_with("000") {
        Err(FieldViolation::new(
            field,
            "must name a community (its last 3 digits)",
        ))
    } else {
        Ok(code)
    }
}

/// A registration addresses the placement of its person in its programme.
impl CommandMessage for pb::RegisterPlacementCommand {
    type Target = Placement;
    context_accessors!();

    fn body(&self, v: &mut Violations, input: &Input<'_>) -> Option<(Uuid, Command)> {
        let command = v.absorb(Command::register(
            self.programme,
            &self.person_id,
            &self.area_code,
            &input.env.districts,
            self.fast_lane,
            &self.school,
            &self.grade,
        ))?;
        Some((command.new_placement_id()?, command))
    }
}

on_existing! { Placement, placement_id;
    pb::MatchPlacementCommand => |m, v, _| {
        v.absorb(Command::match_post(
            &m.employer,
            &m.post,
            m.profession_matched,
            m.post_matched,
            m.rank_matched,
        ))
    };
    // On duty today unless the message names the day.
    pb::PutOnDutyCommand => |m, v, input| {
        let on = if m.on_duty_date.is_empty() {
            input.today.to_string()
        } else {
            m.on_duty_date.clone()
        };
        v.absorb(Command::put_on_duty(&on, input.today))
    };
    pb::DeclinePlacementCommand => |m, v, _| v.absorb(Command::decline(&m.reason));
    pb::WithdrawPlacementCommand => |m, v, _| v.absorb(Command::withdraw(&m.reason));
    pb::RecommendToTalentPoolCommand => |m, v, input| {
        v.absorb(Command::recommend_to_talent_pool(
            &m.community_code,
            &input.env.districts,
            &m.note,
        ))
    };
    pb::AcceptSchoolRequestCommand => |m, v, _| v.absorb(Command::accept_school_request(&m.note));
    pb::DeclineSchoolRequestCommand => |m, v, _| {
        v.absorb(Command::decline_school_request(&m.reason))
    };
    pb::EnrollInSchoolCommand => |m, v, _| v.absorb(Command::enroll_in_school(&m.school));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn districts() -> Districts {
        Districts::parse("500106").unwrap()
    }

    fn fields(err: DomainError) -> Vec<String> {
        match err {
            DomainError::Invalid(violations) => violations.into_iter().map(|v| v.field).collect(),
            other => panic!("expected invalid, got {other}"),
        }
    }

    const PERSON: &str = "0190f0c2-7a44-7c3e-9d1e-3b8f1a2c4d5e";

    #[test]
    fn a_registration_parses_and_names_its_placement() {
        let command = Command::register(
            Programme::SchoolEnrollment as i32,
            PERSON,
            "500106001002",
            &districts(),
            false,
            " 沙坪坝小学 ",
            "一年级",
        )
        .unwrap();
        let Command::Register {
            school, person_id, ..
        } = &command
        else {
            panic!("expected a registration")
        };
        assert_eq!(school, "沙坪坝小学");
        assert_eq!(
            command.new_placement_id(),
            Some(placement_id_for(person_id, Programme::SchoolEnrollment))
        );
    }

    #[test]
    fn every_bad_registration_field_is_named_at_once() {
        let err =
            Command::register(0, "x", "500107001002", &districts(), true, "学校", "").unwrap_err();
        let mut got = fields(err);
        got.sort();
        assert_eq!(got, ["area_code", "person_id", "programme", "school"]);

        let err = Command::register(
            Programme::SchoolEnrollment as i32,
            PERSON,
            "500106001002",
            &districts(),
            false,
            "",
            "",
        )
        .unwrap_err();
        assert_eq!(fields(err), ["school", "grade"]);
    }

    #[test]
    fn texts_dates_and_communities_are_checked() {
        assert_eq!(
            fields(Command::match_post(" ", "x", true, true, true).unwrap_err()),
            ["employer"]
        );
        assert_eq!(fields(Command::decline("").unwrap_err()), ["reason"]);
        assert_eq!(fields(Command::withdraw("\u{7}").unwrap_err()), ["reason"]);
        assert_eq!(
            fields(Command::decline_school_request(" ").unwrap_err()),
            ["reason"]
        );
        assert_eq!(
            fields(Command::enroll_in_school("").unwrap_err()),
            ["school"]
        );
        assert!(Command::accept_school_request("").is_ok());

        let today = jiff::civil::date(2026, 6, 2);
        assert!(Command::put_on_duty("2026-06-02", today).is_ok());
        assert_eq!(
            fields(Command::put_on_duty("2026-06-03", today).unwrap_err()),
            ["on_duty_date"]
        );
        assert_eq!(
            fields(Command::put_on_duty("2026-6-3", today).unwrap_err()),
            ["on_duty_date"]
        );

        assert!(Command::recommend_to_talent_pool("500106001002", &districts(), "").is_ok());
        assert_eq!(
            fields(
                Command::recommend_to_talent_pool("500106001000", &districts(), "").unwrap_err()
            ),
            ["community_code"]
        );
        assert_eq!(
            fields(
                Command::recommend_to_talent_pool("500107001002", &districts(), "").unwrap_err()
            ),
            ["community_code"]
        );
    }
}
