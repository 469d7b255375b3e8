//! Errors of the history.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the history file {0} is in use by another hooklens process")]
    Locked(PathBuf),
    #[error("storage error: {0}")]
    Db(#[from] redb::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the history is being reopened after an i/o error")]
    Unavailable,
    #[error("the history could not be written: {0}")]
    CommitFailed(String),
    #[error("no event {0}")]
    NoSuchEvent(ulid::Ulid),
    #[error("the history was opened read-only")]
    ReadOnly,
    #[error("the history writer has stopped")]
    WriterGone,
    #[error("stored record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("stored record is unreadable: {0}")]
    Record(#[from] postcard::Error),
    #[error("stored record is damaged: {0}")]
    Corrupt(String),
    #[error("history schema version {found} is newer than this hooklens understands ({supported})")]
    SchemaTooNew { found: u64, supported: u64 },
}

impl StoreError {
    /// An error of the file or the disk under it, after which redb answers `PreviousIo` until
    /// the database is opened again. Anything else (a damaged record, a missing event) is one
    /// request's problem and leaves the database as it is.
    pub fn needs_reopen(&self) -> bool {
        matches!(
            self,
            StoreError::Io(_)
                | StoreError::Unavailable
                | StoreError::Db(
                    redb::Error::Io(_)
                        | redb::Error::PreviousIo
                        | redb::Error::DatabaseClosed
                        | redb::Error::Corrupted(_)
                )
        )
    }

    /// A stored record that does not decode.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            StoreError::Decode(_) | StoreError::Record(_) | StoreError::Corrupt(_)
        )
    }
}

macro_rules! via_redb_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}

via_redb_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
