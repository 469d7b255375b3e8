//! The `inflight_body_bytes` budget: body bytes held in memory (received, not yet committed),
//! counted as they arrive — declared lengths reserve nothing, chunked bodies are counted like any
//! other — and released by a guard, whatever ends the request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The receiver's count of body bytes in memory.
#[derive(Debug, Default)]
pub(super) struct Budget {
    used: AtomicU64,
}

/// The bytes one request holds; dropping it gives them back.
#[derive(Debug)]
pub(super) struct Reservation {
    budget: Arc<Budget>,
    held: u64,
}

/// The budget is spent.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Exhausted;

impl Budget {
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// A reservation holding nothing yet.
    pub fn reservation(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: 0,
        }
    }
}

impl Reservation {
    /// Takes `bytes` more from the budget of `limit`. A request that holds everything there is
    /// may go past the limit (one body larger than the budget is still taken when it is alone),
    /// so the budget can never lock every sender out.
    pub fn grow(&mut self, bytes: u64, limit: u64) -> Result<(), Exhausted> {
        let before = self.budget.used.fetch_add(bytes, Ordering::AcqRel);
        let others = before - self.held;
        if before + bytes > limit && others > 0 {
            self.budget.used.fetch_sub(bytes, Ordering::AcqRel);
            return Err(Exhausted);
        }
        self.held += bytes;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_held_until_the_guard_drops_and_a_lone_body_may_pass_the_limit() {
        let budget = Arc::new(Budget::default());
        let mut a = budget.reservation();
        a.grow(600, 1000).unwrap();
        let mut b = budget.reservation();
        b.grow(300, 1000).unwrap();
        assert_eq!(
            b.grow(200, 1000),
            Err(Exhausted),
            "a over the limit with others"
        );
        assert_eq!(budget.used(), 900);
        drop(b);
        a.grow(5000, 1000).expect("alone, it may go past the limit");
        assert_eq!(budget.used(), 5600);
        drop(a);
        assert_eq!(budget.used(), 0);
    }
}
