//! Open watch streams (`WatchRequests`, `Notifications.Watch`) per caller, capped so that one credential
//! cannot hold the server's memory and tasks with streams it never reads. A
//! stream holds a [`WatchSlot`] for its whole life; one over the cap is
//! `RESOURCE_EXHAUSTED`, a security event like every limit hit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sy_api::identity::Principal;
use tonic::Status;

/// Open streams per credential.
type Open = Arc<Mutex<HashMap<String, usize>>>;

/// The cap, and the streams open now.
#[derive(Debug, Clone)]
pub(crate) struct Watches {
    max: usize,
    open: Open,
}

/// One open stream; dropping it (the stream ended) frees its place.
#[derive(Debug)]
pub(crate) struct WatchSlot {
    credential: String,
    open: Open,
}

impl Watches {
    /// At most `max` open streams per credential.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            open: Open::default(),
        }
    }

    /// A place for one more stream of `principal`'s credential.
    pub(crate) fn open(&self, principal: &Principal) -> Result<WatchSlot, Status> {
        let credential = principal.credential_label();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(credential.clone()).or_default();
        if *count >= self.max {
            let message = format!(
                "{} watch streams of this credential are already open \
                 (--max-watches-per-caller); close one first",
                self.max
            );
            sy_api::auth::refused_principal(
                "projection",
                principal,
                tonic::Code::ResourceExhausted,
                "too_many_watches",
                &message,
            );
            return Err(Status::resource_exhausted(message));
        }
        *count += 1;
        Ok(WatchSlot {
            credential,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.credential) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.credential);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sy_api::identity::Credential;
    use sy_api::policy::Grant;

    use super::*;

    fn principal(token: &str) -> Principal {
        Principal {
            agency: "unit-1".into(),
            user: "li".into(),
            grant: Grant::Everything,
            credential: Credential::Token(token.into()),
        }
    }

    #[test]
    fn streams_are_capped_per_credential_and_freed_when_they_end() {
        let watches = Watches::new(2);
        let first = watches.open(&principal("a")).unwrap();
        let _second = watches.open(&principal("a")).unwrap();
        let refused = watches.open(&principal("a")).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(watches.open(&principal("b")).is_ok());
        drop(first);
        assert!(watches.open(&principal("a")).is_ok());
    }
}
