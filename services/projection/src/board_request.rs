//! The filters of `GetClearanceBoard`, checked at the edge: every bad field
//! is reported at once, by name, before the read model is touched. A period
//! is a year or a from/to pair, never both; an area is a street or a
//! community of a served district, because the board's counters are kept
//! for those two levels only (see `crate::read_model::BoardFilter`).

use jiff::civil::Date;
use sy_domain::error::FieldViolation;
use sy_domain::pb;
use sy_domain::validate::{self, Code, Districts, Violations, china_date};
use tonic::Status;

use crate::read_model::BoardFilter;
use crate::serving::optional_enum;
use sy_api::status::from_domain;

/// The day the board is reckoned at, and its filter (`None`: unfiltered).
pub(crate) fn parse(
    request: &pb::GetClearanceBoardRequest,
    districts: &Districts,
) -> Result<(Date, Option<BoardFilter>), Status> {
    let mut v = Violations::default();
    let as_of = match request.as_of.as_str() {
        "" => Some(china_date(jiff::Timestamp::now())),
        day => v.check(validate::date("as_of", day)),
    };
    let period = period(&mut v, request);
    let area = match request.area.as_str() {
        "" => Some(None),
        area => v.check(street_or_community(area, districts)).map(Some),
    };
    let requester = match request.requester.as_str() {
        "" => Some(None),
        agency => v
            .check(Code::parse("requester", agency))
            .map(|code| Some(code.as_str().to_string())),
    };
    let direction = v.check(optional_enum::<pb::Direction>(
        "direction",
        request.direction,
    ));
    v.finish(|| {
        let filter = BoardFilter {
            period: period?,
            area: area?,
            requester: requester?,
            direction: direction?,
        };
        let filtered = filter != BoardFilter::default();
        Some((as_of?, filtered.then_some(filter)))
    })
    .map_err(|err| from_domain(&err))
}

/// The filing days asked for, both included; `Some(None)` for all time.
fn period(
    v: &mut Violations,
    request: &pb::GetClearanceBoardRequest,
) -> Option<Option<(Date, Date)>> {
    let (from, to) = (request.from.as_str(), request.to.as_str());
    if request.year != 0 {
        if !from.is_empty() || !to.is_empty() {
            v.check::<()>(Err(FieldViolation::new(
                "year",
                "give either a year or from/to, not both",
            )));
            return None;
        }
        return v.check(year(request.year)).map(Some);
    }
    match (from, to) {
        ("", "") => Some(None),
        ("", _) => v.check::<Option<_>>(Err(FieldViolation::new("from", "is required with to"))),
        (_, "") => v.check::<Option<_>>(Err(FieldViolation::new("to", "is required with from"))),
        (from, to) => {
            let from = v.check(validate::date("from", from));
            let to = v.check(validate::date("to", to));
            let (from, to) = (from?, to?);
            if from > to {
                v.check::<()>(Err(FieldViolation::new("to", "must not be before from")));
                return None;
            }
            Some(Some((from, to)))
        }
    }
}

fn year(year: u32) -> Result<(Date, Date), FieldViolation> {
    let bad = || FieldViolation::new("year", "must be a year from 1000 to 9999");
    let year = i16::try_from(year)
        .ok()
        .filter(|y| (1000..=9999).contains(y))
        .ok_or_else(bad)?;
    let first = Date::new(year, 1, 1).map_err(|_| bad())?;
    let last = Date::new(year, 12, 31).map_err(|_| bad())?;
    Ok((first, last))
}

/// A street (9 digits, or 12 ending in `000`) or community (12 digits) code
/// in one of `districts`, as the board's counters key it.
fn street_or_community(area: &str, districts: &Districts) -> Result<String, FieldViolation> {
    let bad = |reason: &str| FieldViolation::new("area", reason);
    if !area.bytes().all(|b| b.is_ascii_digit()) || !matches!(area.len(), 9 | 12) {
        return Err(bad("must be a 9-digit street or 12-digit community code"));
    }
    if &area[6..9] == "000" {
        return Err(bad("must name a street or community, not a whole district"));
    }
    if !districts.contains(&area[..6]) {
        return Err(bad(&format!(
            "district {} is not served by this deployment",
            &area[..6]
        )));
    }
    Ok(match area.strip_suffix("000") {
        Some(street) if area.len() == 12 => street.to_string(),
        _ => area.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        change: impl FnOnce(&mut pb::GetClearanceBoardRequest),
    ) -> pb::GetClearanceBoardRequest {
        let mut request = pb::GetClearanceBoardRequest {
            as_of: "2027-01-10".into(),
            ..Default::default()
        };
        change(&mut request);
        request
    }

    fn parse(
        request: &pb::GetClearanceBoardRequest,
    ) -> Result<(Date, Option<BoardFilter>), Status> {
        super::parse(request, &Districts::parse("500106").unwrap())
    }

    /// A change to a valid request, in a table of bad ones.
    type Change = fn(&mut pb::GetClearanceBoardRequest);

    fn fields(status: Status) -> String {
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        status.message().to_string()
    }

    #[test]
    fn no_filter_is_the_whole_board() {
        let (as_of, filter) = parse(&request(|_| {})).unwrap();
        assert_eq!(as_of, Date::constant(2027, 1, 10));
        assert_eq!(filter, None);
    }

    #[test]
    fn a_year_a_street_a_requester_and_a_direction_make_one_filter() {
        let (_, filter) = parse(&request(|r| {
            r.year = 2026;
            r.area = "500106001000".into();
            r.requester = "unit-1".into();
            r.direction = pb::Direction::LocalToMilitary as i32;
        }))
        .unwrap();
        assert_eq!(
            filter,
            Some(BoardFilter {
                period: Some((Date::constant(2026, 1, 1), Date::constant(2026, 12, 31))),
                area: Some("500106001".into()),
                requester: Some("unit-1".into()),
                direction: Some(pb::Direction::LocalToMilitary),
            })
        );
        let (_, filter) = parse(&request(|r| {
            r.from = "2026-03-01".into();
            r.to = "2026-03-01".into();
            r.area = "500106001002".into();
        }))
        .unwrap();
        let filter = filter.unwrap();
        assert_eq!(filter.area.as_deref(), Some("500106001002"));
        assert_eq!(
            filter.period,
            Some((Date::constant(2026, 3, 1), Date::constant(2026, 3, 1)))
        );
    }

    #[test]
    fn bad_filters_are_refused_by_field() {
        let cases: [(Change, &str); 10] = [
            (|r| r.area = "5001".into(), "area"),
            (|r| r.area = "500107001".into(), "area"),
            (|r| r.area = "500106000000".into(), "area"),
            (|r| r.area = "50010600a".into(), "area"),
            (|r| r.year = 12, "year"),
            (
                |r| {
                    r.year = 2026;
                    r.from = "2026-01-01".into();
                },
                "year",
            ),
            (|r| r.from = "2026-01-01".into(), "to"),
            (
                |r| {
                    r.from = "2026-02-01".into();
                    r.to = "2026-01-01".into();
                },
                "to",
            ),
            (|r| r.requester = "a b".into(), "requester"),
            (|r| r.direction = 9, "direction"),
        ];
        for (change, field) in cases {
            let message = fields(parse(&request(change)).unwrap_err());
            assert!(message.contains(field), "{field}: {message}");
        }
        let message = fields(parse(&request(|r| r.as_of = "tomorrow".into())).unwrap_err());
        assert!(message.contains("as_of"), "{message}");
    }
}
