//! Interface tests.
