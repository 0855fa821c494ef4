//! The read model's sled trees as one named set. [`Trees`] is generic over
//! what stands for a tree (a `sled::Tree` when opened, an overlay holding
//! a batch's writes while it is folded), so every tree is
//! reached by its name and swapping two is a compile error, not a silent
//! mix-up. The names are listed once, in [`trees!`]; their order is the
//! digest order (part of the read-model digest: never reorder, only append).

use super::keys::Index;

/// Declares [`Trees`] with one field per tree, named as the tree is on disk.
macro_rules! trees {
    ($($(#[$doc:meta])* $name:ident,)+) => {
        /// One value per read-model tree, by name.
        #[derive(Debug, Clone)]
        pub(super) struct Trees<T> {
            $($(#[$doc])* pub $name: T,)+
        }

        impl<T> Trees<T> {
            /// Every tree's value built by `f` from its name.
            pub fn by_name<E>(mut f: impl FnMut(&'static str) -> Result<T, E>) -> Result<Self, E> {
                Ok(Self { $($name: f(stringify!($name))?,)+ })
            }

            /// Every tree's value built by `f` from this set's.
            pub fn map<'s, U>(&'s self, mut f: impl FnMut(&'s T) -> U) -> Trees<U> {
                Trees { $($name: f(&self.$name),)+ }
            }

            /// Every tree in digest order.
            pub fn all(&self) -> Vec<&T> {
                vec![$(&self.$name),+]
            }
        }
    };
}

trees! {
    /// `last_applied`, `quarantined`, `log_digest`, `format`.
    meta,
    requests,
    chain,
    idx_all,
    idx_status,
    idx_department,
    idx_open_due,
    board,
    changes,
    quarantine,
    people,
    placements,
    allowances,
    stations,
    idx_placements,
    idx_placement_status,
    idx_placement_fast,
    idx_stations,
    stats,
    /// person id → the ids of the requests that concern them (16 bytes
    /// each), so folding their erasure can drop those requests' sealed text.
    idx_person_requests,
    /// `[id len u32 BE][id][version u64 BE]` → a request's timeline entry
    /// (see [`super::timeline`]), kept out of the request's record so an
    /// event appends one entry instead of rewriting them all.
    timeline,
    /// `[agency len u32 BE][agency][position u64 BE]` → prost-encoded
    /// `Notification` (see `sy_domain::notification`), for `Notifications.Watch`.
    notifications,
    /// subscription id → the domain `Subscription` (postcard): each
    /// agency's webhook receiver, for the delivering replica.
    subscriptions,
    /// double-list id → the list's domain state (its items, published or not).
    double_lists,
}

impl<T> Trees<T> {
    /// The tree of a request index.
    pub fn index(&self, index: Index) -> &T {
        match index {
            Index::All => &self.idx_all,
            Index::ByStatus => &self.idx_status,
            Index::ByDepartment => &self.idx_department,
            Index::OpenDue => &self.idx_open_due,
        }
    }
}
