//! Byte layouts of every sled key the read model writes, and the opaque page
//! token. Keeping them in one place makes the on-disk format reviewable: all
//! integers are big-endian so byte order is numeric order, and every variable
//! part is either last in the key or length-prefixed, so no key of one index
//! can be mistaken for a key of another.
//!
//! Layouts of counter trees live here too: the board's row and due keys
//! (meaning in [`super::board`]) and the statistics keys (in
//! [`super::stats`]).
//!
//! Index keys end in `[newest_first(submitted_position)][id]`: requests sort
//! newest first by the position of their `RequestSubmitted` event, and ties
//! (none in practice: positions are unique) fall back to the id.

use std::ops::Bound;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sy_domain::pb::{self, Programme};
use sy_domain::placement::{Placement, Status};
use sy_domain::request::is_unresolved;

/// `meta` key of the checkpoint: the last stream position folded (u64 BE).
pub const LAST_APPLIED: &[u8] = b"last_applied";
/// `meta` key of the number of quarantined events (u64 BE).
pub const QUARANTINED: &[u8] = b"quarantined";
/// `meta` key of the running log digest at `last_applied` (32 bytes).
pub const LOG_DIGEST: &[u8] = b"log_digest";
/// `meta` key of the format the trees are written in (u64 BE); absent in
/// stores written before formats were numbered.
pub const FORMAT: &[u8] = b"format";

/// Length of a `YYYY-MM-DD` date in keys.
pub const DATE_LEN: usize = 10;
const POSITION_LEN: usize = 8;

pub fn u64_bytes(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

/// Reads a big-endian u64; `None` unless exactly 8 bytes.
pub fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Sort component that puts later submissions first.
pub fn newest_first(submitted_position: u64) -> [u8; 8] {
    u64_bytes(u64::MAX - submitted_position)
}

/// Prefix of every `timeline` key of request `id`: `[id len u32 BE][id]`,
/// length-prefixed so no request's entries share a prefix with another's.
pub fn timeline_prefix(id: &str) -> Vec<u8> {
    let len = u32::try_from(id.len()).unwrap_or(u32::MAX);
    let mut key = Vec::with_capacity(4 + id.len() + POSITION_LEN);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// The `timeline` key of request `id`'s entry at `version`:
/// `[id len u32 BE][id][version u64 BE]`, so a scan of the prefix returns
/// the timeline oldest first.
pub fn timeline_key(id: &str, version: u64) -> Vec<u8> {
    let mut key = timeline_prefix(id);
    key.extend_from_slice(&u64_bytes(version));
    key
}

/// The `notifications` key of `agency`'s notification from the event at
/// `position`: `[agency len u32 BE][agency][position u64 BE]`, laid out as a
/// timeline key (owner, then a number), so one agency's notifications scan
/// in log order from any position.
pub fn notification_key(agency: &str, position: u64) -> Vec<u8> {
    timeline_key(agency, position)
}

/// Prefix of the `by_status` index for one status.
pub fn status_prefix(status: pb::RequestStatus) -> Vec<u8> {
    (status as i32).to_be_bytes().to_vec()
}

/// Prefix of the `by_department` index for one department (length-prefixed,
/// because department codes in the log are only as valid as their writer).
pub fn department_prefix(department: &str) -> Vec<u8> {
    let len = u32::try_from(department.len()).unwrap_or(u32::MAX);
    let mut key = len.to_be_bytes().to_vec();
    key.extend_from_slice(department.as_bytes());
    key
}

/// A request's due date when it is a real calendar date. A malformed date (only
/// a foreign writer could produce one) counts as no due date for overdue
/// purposes rather than sorting somewhere arbitrary.
pub fn due_date(request: &pb::Request) -> Option<&str> {
    let due = request.due_date.as_str();
    sy_domain::validate::date("due_date", due).ok().map(|_| due)
}

/// An index key: `prefix`, then newest first, then the id.
pub fn entry_key(prefix: &[u8], submitted_position: u64, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + POSITION_LEN + id.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(&newest_first(submitted_position));
    key.extend_from_slice(id.as_bytes());
    key
}

/// The request id at the end of an index key whose prefix is `prefix_len` long.
fn entry_id(key: &[u8], prefix_len: usize) -> Option<&str> {
    std::str::from_utf8(key.get(prefix_len + POSITION_LEN..)?).ok()
}

/// The secondary indexes a request appears in; each is its own sled tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Index {
    /// Every request: `[newest_first][id]`.
    All = 1,
    /// `[status i32 BE][newest_first][id]`.
    ByStatus = 2,
    /// Assigned requests: `[len u32 BE][department][newest_first][id]`.
    ByDepartment = 3,
    /// Unresolved requests with a due date: `[YYYY-MM-DD][newest_first][id]`,
    /// so a range below a day lists the overdue, most overdue first.
    OpenDue = 4,
}

impl Index {
    pub const ALL: [Index; 4] = [
        Index::All,
        Index::ByStatus,
        Index::ByDepartment,
        Index::OpenDue,
    ];

    /// The request id an entry of this index names; `None` for a key this
    /// index cannot hold.
    pub fn id_of(self, key: &[u8]) -> Option<&str> {
        let prefix_len = match self {
            Index::All => 0,
            Index::ByStatus => 4,
            Index::ByDepartment => {
                let len = u32::from_be_bytes(key.get(..4)?.try_into().ok()?);
                4 + usize::try_from(len).ok()?
            }
            Index::OpenDue => DATE_LEN,
        };
        entry_id(key, prefix_len)
    }

    /// The key `request`, submitted at stream position `submitted`, has in
    /// this index, if it belongs to it.
    pub fn key_of(self, request: &pb::Request, submitted: u64) -> Option<Vec<u8>> {
        let prefix = match self {
            Index::All => Vec::new(),
            Index::ByStatus => status_prefix(request.status()),
            Index::ByDepartment if request.department.is_empty() => return None,
            Index::ByDepartment => department_prefix(&request.department),
            Index::OpenDue if !is_unresolved(request.status()) => return None,
            Index::OpenDue => due_date(request)?.as_bytes().to_vec(),
        };
        Some(entry_key(&prefix, submitted, &request.id))
    }
}

/// A placement's keys in the placement list indexes. Placements sort
/// newest first by the position of their current cycle's registration.
#[derive(Debug, PartialEq, Eq)]
pub struct PlacementKeys {
    /// `idx_placements`: `[newest first 8][id]`.
    pub all: Vec<u8>,
    /// `idx_placement_status`: `[programme][status][newest first 8][id]`.
    pub by_status: Vec<u8>,
    /// `idx_placement_fast`, for fast-lane placements: as `all`.
    pub fast: Option<Vec<u8>>,
}

impl PlacementKeys {
    /// The keys of `placement`, registered at `registered_position`.
    pub fn of(id: &str, registered_position: u64, placement: &Placement) -> Self {
        let all = entry_key(b"", registered_position, id);
        let prefix = placement_status_prefix(placement.programme(), placement.status());
        let fast = placement.current().fast_lane.then(|| all.clone());
        Self {
            by_status: entry_key(&prefix, registered_position, id),
            all,
            fast,
        }
    }
}

/// Prefix of `idx_placement_status` for one programme and status.
pub fn placement_status_prefix(programme: Programme, status: Status) -> Vec<u8> {
    vec![
        u8::try_from(programme as i32).unwrap_or(u8::MAX),
        status as u8,
    ]
}

/// A station's key in `idx_stations`: `[area code][/][id]`.
pub fn station_key(area_code: &str, id: &str) -> Vec<u8> {
    format!("{area_code}/{id}").into_bytes()
}

/// The station id of an `idx_stations` key.
pub fn station_of(key: &[u8]) -> Option<&str> {
    let slash = key.iter().position(|b| *b == b'/')?;
    std::str::from_utf8(&key[slash + 1..]).ok()
}

/// The id at the end of a placement index key under `prefix_len` bytes of
/// prefix.
pub fn placement_of(key: &[u8], prefix_len: usize) -> Option<&str> {
    entry_id(key, prefix_len)
}

/// Board row keys: `row/<dimension>:<key>`.
pub const ROW_PREFIX: &str = "row/";
const DUE_PREFIX: &str = "due/";

pub fn row_key(row: &str) -> String {
    [ROW_PREFIX, row].concat()
}

/// Board due keys: `due/<dimension>:<key>/<YYYY-MM-DD>`.
pub fn due_key(row: &str, date: &str) -> String {
    [DUE_PREFIX, row, "/", date].concat()
}

/// A filter combination of the board by period and place: the area, the
/// requesting agency and the direction, each `-` (any) or `=` and its value,
/// each preceded by its length in three digits. Length-prefixed, so one
/// slice's encoding is never a prefix of another's.
pub fn board_slice(area: Option<&str>, requester: Option<&str>, direction: Option<i32>) -> String {
    let direction = direction.map(|d| d.to_string());
    let mut slice = String::new();
    for part in [area, requester, direction.as_deref()] {
        let part = part.map_or_else(|| "-".to_string(), |value| format!("={value}"));
        slice.push_str(&format!("{:03}{part}", part.len()));
    }
    slice
}

/// The counter families of the board by period and place, each keyed
/// `<family>/<slice>/<filed YYYY-MM-DD>/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodFamily {
    /// `p/<slice>/<filed>/<department>` → the board's row counters.
    Counts,
    /// `o/<slice>/<filed>/<due>/<department>` → unresolved requests due that day.
    Due,
    /// `a/<slice>/<filed>/<resolved>/<department>` → requests awaiting
    /// confirmation since that day.
    Resolved,
}

impl PeriodFamily {
    /// The prefix of every key of `slice` in this family.
    pub fn prefix(self, slice: &str) -> String {
        let family = match self {
            PeriodFamily::Counts => "p/",
            PeriodFamily::Due => "o/",
            PeriodFamily::Resolved => "a/",
        };
        [family, slice, "/"].concat()
    }

    /// The key of a counter: `day` is the due or resolution day, absent
    /// for [`PeriodFamily::Counts`].
    pub fn key(self, slice: &str, filed: &str, day: Option<&str>, department: &str) -> String {
        let mut key = self.prefix(slice);
        key.push_str(filed);
        key.push('/');
        if let Some(day) = day {
            key.push_str(day);
            key.push('/');
        }
        key.push_str(department);
        key
    }

    /// The filing day, the due or resolution day (for the dated families)
    /// and the department of a key of this family after its prefix.
    pub fn parts(self, rest: &str) -> Option<(&str, Option<&str>, &str)> {
        let filed = rest.get(..DATE_LEN)?;
        let rest = rest.get(DATE_LEN..)?.strip_prefix('/')?;
        if self == PeriodFamily::Counts {
            return Some((filed, None, rest));
        }
        let day = rest.get(..DATE_LEN)?;
        let department = rest.get(DATE_LEN..)?.strip_prefix('/')?;
        Some((filed, Some(day), department))
    }
}

/// A statistics counter's key: `{len:02}/{area}/{metric}`.
pub fn stats_key(area: &str, metric: &str) -> Vec<u8> {
    format!("{:02}/{area}/{metric}", area.len()).into_bytes()
}

/// Prefix of the counters of area `scope` itself.
pub fn stats_own_prefix(scope: &str) -> String {
    format!("{:02}/{scope}/", scope.len())
}

/// Prefix of the counters of the areas one level (3 digits) below `scope`.
pub fn stats_below_prefix(scope: &str) -> String {
    format!("{:02}/{scope}", scope.len() + 3)
}

/// Prefix of every district's counters.
pub const STATS_DISTRICTS: &[u8] = b"06/";

/// The district of a key under [`STATS_DISTRICTS`].
pub fn stats_district(key: &[u8]) -> Option<String> {
    key.get(3..9)
        .map(|area| String::from_utf8_lossy(area).into_owned())
}

/// The area and metric of a statistics key.
pub fn stats_parts(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.splitn(3, '/');
    let (_, area, metric) = (parts.next()?, parts.next()?, parts.next()?);
    Some((area, metric))
}

/// A list index as page tokens name it (one byte).
pub trait ListIndex: Copy + Eq {
    fn id(self) -> u8;
    fn from_id(id: u8) -> Option<Self>;
}

impl ListIndex for Index {
    fn id(self) -> u8 {
        self as u8
    }

    fn from_id(id: u8) -> Option<Self> {
        Index::ALL.into_iter().find(|index| *index as u8 == id)
    }
}

/// The indexes of the placement programmes' lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementIndex {
    /// `idx_placements`.
    Placements = 0,
    /// `idx_placement_status`.
    ByStatus = 1,
    /// `idx_stations`.
    Stations = 2,
    /// `idx_placement_fast`.
    FastLane = 3,
}

impl ListIndex for PlacementIndex {
    fn id(self) -> u8 {
        self as u8
    }

    fn from_id(id: u8) -> Option<Self> {
        [
            Self::Placements,
            Self::ByStatus,
            Self::Stations,
            Self::FastLane,
        ]
        .into_iter()
        .find(|index| *index as u8 == id)
    }
}

/// The part of an index a list call walks: keys under `prefix` and below `end`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub prefix: Vec<u8>,
    /// Exclusive upper bound of keys, when tighter than the prefix.
    pub below: Option<Vec<u8>>,
}

impl Scope {
    pub fn contains(&self, key: &[u8]) -> bool {
        key.starts_with(&self.prefix) && self.below.as_deref().is_none_or(|end| key < end)
    }

    /// The range to walk, resuming strictly after `after` when given.
    pub fn range(&self, after: Option<&[u8]>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let start = match after {
            Some(key) => Bound::Excluded(key.to_vec()),
            None => Bound::Included(self.prefix.clone()),
        };
        let end = match &self.below {
            Some(end) => Bound::Excluded(end.clone()),
            None => prefix_end(&self.prefix),
        };
        (start, end)
    }
}

/// The first key after every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

/// Where a list call stopped: the index, a fingerprint of the filters, and
/// the last index key examined. Encoded as base64url; callers treat it as
/// opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor<I> {
    pub index: I,
    pub filter: [u8; 8],
    pub last_key: Vec<u8>,
}

const CURSOR_VERSION: u8 = 1;

impl<I: ListIndex> Cursor<I> {
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(10 + self.last_key.len());
        bytes.push(CURSOR_VERSION);
        bytes.push(self.index.id());
        bytes.extend_from_slice(&self.filter);
        bytes.extend_from_slice(&self.last_key);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `None` for anything this service did not produce.
    pub fn decode(token: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (&version, rest) = bytes.split_first()?;
        let (&index, rest) = rest.split_first()?;
        if version != CURSOR_VERSION || rest.len() < 8 {
            return None;
        }
        let (filter, last_key) = rest.split_at(8);
        Some(Self {
            index: I::from_id(index)?,
            filter: filter.try_into().ok()?,
            last_key: last_key.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(status: pb::RequestStatus, department: &str, due: &str) -> pb::Request {
        let mut request = pb::Request {
            id: "0195d3b2-0000-7000-8000-000000000001".into(),
            department: department.into(),
            due_date: due.into(),
            last_position: 9,
            ..Default::default()
        };
        request.set_status(status);
        request
    }

    #[test]
    fn newer_submissions_sort_first() {
        assert!(entry_key(b"", 8, "a") < entry_key(b"", 7, "a"));
        assert!(entry_key(b"", 7, "a") < entry_key(b"", 7, "b"));
    }

    #[test]
    fn index_keys_carry_prefix_position_and_id() {
        let r = request(pb::RequestStatus::Assigned, "housing", "2027-03-01");
        let all = Index::All.key_of(&r, 7).unwrap();
        assert_eq!(Index::All.id_of(&all), Some(r.id.as_str()));
        assert_eq!(&all[..8], &newest_first(7));

        let dept = Index::ByDepartment.key_of(&r, 7).unwrap();
        let prefix = department_prefix("housing");
        assert!(dept.starts_with(&prefix));
        assert_eq!(Index::ByDepartment.id_of(&dept), Some(r.id.as_str()));

        let due = Index::OpenDue.key_of(&r, 7).unwrap();
        assert!(due.starts_with(b"2027-03-01"));
        assert_eq!(Index::OpenDue.id_of(&due), Some(r.id.as_str()));
        let status = Index::ByStatus.key_of(&r, 7).unwrap();
        assert_eq!(Index::ByStatus.id_of(&status), Some(r.id.as_str()));
        assert_eq!(Index::ByDepartment.id_of(&[0, 0, 1]), None);
    }

    #[test]
    fn indexes_hold_only_requests_they_describe() {
        let unassigned = request(pb::RequestStatus::Submitted, "", "");
        assert_eq!(Index::ByDepartment.key_of(&unassigned, 7), None);
        assert_eq!(Index::OpenDue.key_of(&unassigned, 7), None);
        let resolved = request(pb::RequestStatus::Resolved, "d", "2027-03-01");
        assert_eq!(Index::OpenDue.key_of(&resolved, 7), None);
        let malformed = request(pb::RequestStatus::InProgress, "d", "2027-3-1");
        assert_eq!(Index::OpenDue.key_of(&malformed, 7), None);
    }

    #[test]
    fn timeline_keys_sort_by_version_within_their_request_only() {
        assert!(timeline_key("a", 2) < timeline_key("a", 10));
        assert!(timeline_key("a", 1).starts_with(&timeline_prefix("a")));
        assert!(!timeline_key("ab", 1).starts_with(&timeline_prefix("a")));
    }

    #[test]
    fn department_prefixes_do_not_nest() {
        let short = department_prefix("ab");
        let long = department_prefix("abc");
        assert!(!long.starts_with(&short));
    }

    #[test]
    fn prefix_end_bounds_every_extension() {
        assert_eq!(prefix_end(b"ab"), Bound::Excluded(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Bound::Excluded(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), Bound::Unbounded);
        assert_eq!(prefix_end(b""), Bound::Unbounded);
    }

    #[test]
    fn scopes_resume_after_the_cursor_and_stay_inside() {
        let scope = Scope {
            prefix: Vec::new(),
            below: Some(b"2027-01-01".to_vec()),
        };
        assert!(scope.contains(b"2026-12-31xxxxxxxxid"));
        assert!(!scope.contains(b"2027-01-01xxxxxxxxid"));
        assert_eq!(
            scope.range(Some(b"k")),
            (
                Bound::Excluded(b"k".to_vec()),
                Bound::Excluded(b"2027-01-01".to_vec())
            )
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = Cursor {
            index: Index::ByDepartment,
            filter: [1, 2, 3, 4, 5, 6, 7, 8],
            last_key: entry_key(&department_prefix("housing"), 42, "id"),
        };
        let token = cursor.encode();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::<Index>::decode(&token), Some(cursor));
        assert_eq!(Cursor::<Index>::decode("not base64!"), None);
        assert_eq!(Cursor::<Index>::decode(""), None);
        assert_eq!(
            Cursor::<Index>::decode(&URL_SAFE_NO_PAD.encode([1, 9, 0, 0, 0, 0, 0, 0, 0, 0])),
            None
        );
        assert_eq!(
            Cursor::<Index>::decode(&URL_SAFE_NO_PAD.encode([2, 1, 0, 0, 0, 0, 0, 0, 0, 0])),
            None
        );
        assert_eq!(
            Cursor::<Index>::decode(&URL_SAFE_NO_PAD.encode([1, 1, 0])),
            None
        );
    }

    #[test]
    fn board_slices_do_not_nest_and_period_keys_parse_back() {
        let any = board_slice(None, None, None);
        assert_eq!(any, "001-001-001-");
        let street = board_slice(Some("500106001"), Some("unit-1"), Some(1));
        assert_eq!(street, "010=500106001007=unit-1002=1");
        let longer = board_slice(Some("500106001"), Some("unit-10"), Some(1));
        assert!(!longer.starts_with(&street));
        let counts = PeriodFamily::Counts.key(&street, "2026-03-01", None, "housing/x");
        let rest = &counts[PeriodFamily::Counts.prefix(&street).len()..];
        assert_eq!(
            PeriodFamily::Counts.parts(rest),
            Some(("2026-03-01", None, "housing/x"))
        );
        let due = PeriodFamily::Due.key(&any, "2026-03-01", Some("2026-04-01"), "d");
        let rest = &due[PeriodFamily::Due.prefix(&any).len()..];
        assert_eq!(
            PeriodFamily::Due.parts(rest),
            Some(("2026-03-01", Some("2026-04-01"), "d"))
        );
        assert_eq!(PeriodFamily::Due.parts("2026-03-01/short"), None);
    }

    #[test]
    fn u64_round_trips() {
        assert_eq!(read_u64(&u64_bytes(1 << 40)), Some(1 << 40));
        assert_eq!(read_u64(b"short"), None);
    }
}
