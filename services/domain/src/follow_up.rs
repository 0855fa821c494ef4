//! Commands that one aggregate's event implies on another, issued by the
//! caller once the event is stored (a spouse going on duty stops their
//! allowance: 未就业随军家属基本生活保障金 ends with employment).
//!
//! Apart from [`crate::aggregate`] because the list of follow-ups names the
//! kinds they address, and the kinds themselves depend on the aggregate
//! trait: kept there, the two modules would import each other.

use crate::aggregate::{Aggregate, Implied};
use crate::allowance::Allowance;
use crate::pb::event_envelope::Payload;
use crate::person::Person;
use crate::station::Station;

/// A follow-up command, by the kind it addresses.
pub enum FollowUp {
    /// A command on a person's allowance.
    Allowance(Implied<Allowance>),
}

/// The follow-ups an aggregate's events imply.
pub trait Implies: Aggregate {
    /// The commands on other aggregates that `event`, just folded into this
    /// state, implies. Pure; none by default.
    fn follow_ups(&self, _event: &Payload) -> Vec<FollowUp> {
        Vec::new()
    }
}

impl Implies for crate::pb::Request {}
impl Implies for Person {}
impl Implies for Allowance {}
impl Implies for Station {}
impl Implies for crate::double_list::DoubleList {}
impl Implies for crate::supervision::Adopted {}
impl Implies for crate::subscription::Subscription {}
