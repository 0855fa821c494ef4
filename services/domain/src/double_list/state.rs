//! A double list as folded from its events: its items in the order they
//! were added, and whether (and when) it was published.

use jiff::Timestamp;

use crate::pb::Direction;

/// One request on a list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    /// The request.
    pub request_id: uuid::Uuid,
    /// Why it is on the list (may be empty).
    pub note: String,
    /// When it was added (absent if the envelope had no time).
    pub added_at: Option<Timestamp>,
}

/// The list of one year and direction.
///
/// Invariants kept by `apply`: a request is on it at most once, and nothing
/// changes after it is published.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DoubleList {
    pub(super) id: String,
    pub(super) version: u64,
    pub(super) year: i32,
    /// A `Direction` value (kept as its number, as the log does).
    pub(super) direction: i32,
    pub(super) items: Vec<Item>,
    pub(super) published: bool,
    pub(super) published_at: Option<Timestamp>,
}

impl DoubleList {
    /// A list with no item yet, addressed by `id` (the id
    /// [`super::double_list_id`] gives), so that `NotFound` can name it.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// The list's year; 0 before its first item.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The list's direction; unspecified before its first item.
    pub fn direction(&self) -> Direction {
        Direction::try_from(self.direction).unwrap_or(Direction::Unspecified)
    }

    /// Its items, in the order they were added.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Whether `request_id` is on the list.
    pub fn contains(&self, request_id: uuid::Uuid) -> bool {
        self.items.iter().any(|item| item.request_id == request_id)
    }

    /// Published: its items are fixed.
    pub fn is_published(&self) -> bool {
        self.published
    }

    /// When it was published (absent if unpublished or the envelope had no time).
    pub fn published_at(&self) -> Option<Timestamp> {
        self.published_at
    }

    /// "2026 military-to-local", for messages.
    pub(super) fn name(&self) -> String {
        format!("{} {}", self.year, direction_name(self.direction()))
    }
}

/// Lowercase direction name for messages: "military-to-local".
pub(super) fn direction_name(direction: Direction) -> String {
    direction
        .as_str_name()
        .trim_start_matches("DIRECTION_")
        .to_ascii_lowercase()
        .replace('_', "-")
}
