//! Records kept off the heap. A run of 100,000 cases would otherwise hold every test
//! and every result row in memory at once (about 6 KB a case); here each record is
//! serialised (JSON) into a buffer that moves to an unnamed temporary file once it
//! passes a threshold, and only a 12-byte index entry per record stays in memory. The
//! file is deleted by the operating system when the run ends, however it ends.
//!
//! Records are addressed by number: [`Spill::push`] appends the next one, [`Spill::put`]
//! stores one under any number (result rows complete out of order).

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Bytes kept in memory before records move to a temporary file. Small suites never
/// touch the disk; `PROMPTOPS_SPILL_BYTES` changes it (0 spills from the first record).
pub const DEFAULT_THRESHOLD: usize = 4 * 1024 * 1024;

/// Why a record could not be stored or read back.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("cannot use the temporary file that holds the run's records: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot encode a record: {0}")]
    Encode(serde_json::Error),
    #[error("a stored record does not read back: {0}")]
    Decode(serde_json::Error),
    #[error("a record is larger than 4 GiB")]
    TooLarge,
    #[error("a stored record is not valid: {0}")]
    Invalid(String),
}

impl From<SpillError> for std::io::Error {
    fn from(e: SpillError) -> std::io::Error {
        match e {
            SpillError::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        }
    }
}

/// Where record `n` lives: its bytes' offset and length (`len == u32::MAX`: absent).
#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: u64,
    len: u32,
}

const ABSENT: Slot = Slot {
    offset: 0,
    len: u32::MAX,
};

enum Store {
    Memory(Vec<u8>),
    File { file: File, end: u64 },
}

/// Numbered records, in memory while small, in a temporary file past the threshold.
pub struct Spill {
    slots: Vec<Slot>,
    present: usize,
    store: Store,
    threshold: usize,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("records", &self.present)
            .field("on_disk", &matches!(self.store, Store::File { .. }))
            .finish()
    }
}

impl Default for Spill {
    fn default() -> Spill {
        Spill::new()
    }
}

impl Spill {
    /// An empty store with the default threshold (or `PROMPTOPS_SPILL_BYTES`).
    pub fn new() -> Spill {
        let threshold = std::env::var("PROMPTOPS_SPILL_BYTES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_THRESHOLD);
        Spill::with_threshold(threshold)
    }

    /// An empty store that moves to disk once it holds more than `threshold` bytes.
    pub fn with_threshold(threshold: usize) -> Spill {
        Spill {
            slots: Vec::new(),
            present: 0,
            store: Store::Memory(Vec::new()),
            threshold,
        }
    }

    /// How many records are stored.
    pub fn count(&self) -> usize {
        self.present
    }

    /// One past the highest record number used.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.present == 0
    }

    /// Whether the records have moved to a temporary file.
    pub fn on_disk(&self) -> bool {
        matches!(self.store, Store::File { .. })
    }

    /// Appends `value` as the next record; its number.
    pub fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<usize, SpillError> {
        let at = self.slots.len();
        self.put(at, value)?;
        Ok(at)
    }

    /// Stores `value` as record `at` (a record stored twice keeps the second).
    pub fn put<T: Serialize + ?Sized>(&mut self, at: usize, value: &T) -> Result<(), SpillError> {
        let bytes = serde_json::to_vec(value).map_err(SpillError::Encode)?;
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|l| *l != u32::MAX)
            .ok_or(SpillError::TooLarge)?;
        self.move_to_disk_past_threshold(bytes.len())?;
        let offset = match &mut self.store {
            Store::Memory(buffer) => {
                let offset = buffer.len() as u64;
                buffer.extend_from_slice(&bytes);
                offset
            }
            Store::File { file, end } => {
                let offset = *end;
                file.write_all_at(&bytes, offset)?;
                *end += bytes.len() as u64;
                offset
            }
        };
        if self.slots.len() <= at {
            self.slots.resize(at + 1, ABSENT);
        }
        if self.slots[at].len == u32::MAX {
            self.present += 1;
        }
        self.slots[at] = Slot { offset, len };
        Ok(())
    }

    /// Record `at`, or `None` when none was stored under that number.
    pub fn get<T: DeserializeOwned>(&self, at: usize) -> Result<Option<T>, SpillError> {
        let Some(slot) = self.slots.get(at).filter(|s| s.len != u32::MAX) else {
            return Ok(None);
        };
        let value = match &self.store {
            Store::Memory(buffer) => {
                let start = slot.offset as usize;
                serde_json::from_slice(&buffer[start..start + slot.len as usize])
            }
            Store::File { file, .. } => {
                let mut bytes = vec![0; slot.len as usize];
                file.read_exact_at(&mut bytes, slot.offset)?;
                serde_json::from_slice(&bytes)
            }
        };
        value.map(Some).map_err(SpillError::Decode)
    }

    /// The stored records in number order.
    pub fn iter<T: DeserializeOwned>(&self) -> impl Iterator<Item = Result<T, SpillError>> + '_ {
        (0..self.slots.len()).filter_map(move |at| self.get(at).transpose())
    }

    fn move_to_disk_past_threshold(&mut self, adding: usize) -> Result<(), SpillError> {
        let Store::Memory(buffer) = &mut self.store else {
            return Ok(());
        };
        if buffer.len() + adding <= self.threshold {
            return Ok(());
        }
        let file = tempfile::tempfile()?;
        file.write_all_at(buffer, 0)?;
        let end = buffer.len() as u64;
        self.store = Store::File { file, end };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Spill;
    use proptest::prelude::*;
    use serde_json::{Value as Json, json};

    fn record(i: usize) -> Json {
        json!({"n": i, "text": "x".repeat(i % 17)})
    }

    #[test]
    fn records_read_back_in_memory_and_on_disk() {
        for threshold in [usize::MAX, 0, 100] {
            let mut spill = Spill::with_threshold(threshold);
            for i in 0..50 {
                assert_eq!(spill.push(&record(i)).unwrap(), i);
            }
            assert_eq!(spill.on_disk(), threshold != usize::MAX, "{threshold}");
            for i in (0..50).rev() {
                assert_eq!(spill.get::<Json>(i).unwrap(), Some(record(i)));
            }
            let all: Vec<Json> = spill.iter().map(Result::unwrap).collect();
            assert_eq!(all, (0..50).map(record).collect::<Vec<_>>());
        }
    }

    #[test]
    fn out_of_order_records_iterate_in_number_order_and_gaps_are_absent() {
        let mut spill = Spill::with_threshold(64);
        for at in [7, 2, 9, 0] {
            spill.put(at, &record(at)).unwrap();
        }
        spill.put(2, &json!("again")).unwrap();
        assert_eq!((spill.count(), spill.len()), (4, 10));
        assert_eq!(spill.get::<Json>(5).unwrap(), None);
        assert_eq!(spill.get::<Json>(2).unwrap(), Some(json!("again")));
        let got: Vec<Json> = spill.iter().map(Result::unwrap).collect();
        assert_eq!(got, vec![record(0), json!("again"), record(7), record(9)]);
    }

    #[test]
    fn a_record_of_the_wrong_shape_is_an_error_not_a_panic() {
        let mut spill = Spill::with_threshold(0);
        spill.push(&json!({"a": 1})).unwrap();
        assert!(spill.get::<Vec<u8>>(0).is_err());
    }

    proptest! {
        #[test]
        fn any_sequence_of_puts_reads_back_the_last_value(
            puts in prop::collection::vec((0usize..40, ".{0,30}"), 0..80),
            threshold in 0usize..400,
        ) {
            let mut spill = Spill::with_threshold(threshold);
            let mut want = std::collections::BTreeMap::new();
            for (at, text) in &puts {
                spill.put(*at, text).unwrap();
                want.insert(*at, text.clone());
            }
            prop_assert_eq!(spill.count(), want.len());
            let got: Vec<String> = spill.iter().map(Result::unwrap).collect();
            prop_assert_eq!(got, want.into_values().collect::<Vec<_>>());
        }
    }
}
