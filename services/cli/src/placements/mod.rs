//! `sy demo placements`: the placement programmes (安置) at the article's
//! scale, generated from a seed. Every person is a track of commands sent in
//! order (register, enter a programme, match, on duty...); tracks run
//! concurrently. Care stations come second, once the children they take are
//! registered: each station's enrollments are sent in order, so its seats and
//! its waitlist are the same on every run.
//!
//! What the article reports, and what the scenario writes at scale 1:
//! 1,581 veterans, all placed (matched, then on duty), some through the
//! employment fast lane (most of those on duty within 24 hours); 33 of them
//! recommended to the community reserve talent pool; 26 spouses placed with
//! the three matches; 60 spouses paid the allowance every month of the year
//! (2,100 yuan × 12 × 60 = 1,512,000 yuan); training and
//! certificates for some spouses; 2,000 children whose school requests are
//! all accepted and enrolled; six care stations, full, with a waitlist.
//!
//! Commands are dated with `context.occurred_at`: within the last year, never
//! in the future, each person's (and station's) steps strictly in order.
//! Idempotency keys derive from the seed, the track and the step only, so a
//! rerun the same day replays; dates inside commands derive from today, so a
//! rerun another day finds some keys used with other dates (`ALREADY_EXISTS`)
//! and counts those steps as kept, as `sy demo` does.
//!
//! Layout: `data/placements.toml` (through [`crate::catalogue`]) holds who
//! and where (names, employers, schools, stations) and the article's
//! figures; `people` draws people from it (ID numbers, names, areas);
//! `plan` turns a seed into tracks of dated commands
//! ([`crate::commands::Cmd`]); `load` runs the tracks through
//! [`crate::load`]. What is printed is in [`crate::render`].

pub mod load;
pub mod people;
pub mod plan;

pub use load::{Loaded, load};
pub use plan::{Counts, EDUCATION_AGENCY, Kind, Planned, Scenario, Track, plan};
