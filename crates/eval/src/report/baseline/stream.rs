//! Reading a results document as a stream: the rows of `results.results` are handed
//! over one at a time and everything else is skipped unread, so a baseline of any size
//! costs one row's memory while it is read.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;
use std::fmt;

/// Takes row `i`; `Err` stops the reading (the taker keeps why).
pub(super) type Take<'a> = dyn FnMut(usize, Json) -> Result<(), ()> + 'a;

/// The whole document; its value is whether `results.results` was a list.
pub(super) struct Document<'a, 'b>(pub &'a mut Take<'b>);

/// `results`, the object that holds the rows.
struct Results<'a, 'b>(&'a mut Take<'b>);

/// `results.results`, the rows.
struct Rows<'a, 'b>(&'a mut Take<'b>);

impl<'de> DeserializeSeed<'de> for Document<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(Field {
            key: "results",
            take: self.0,
            level: Level::Document,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Results<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(Field {
            key: "results",
            take: self.0,
            level: Level::Results,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Rows<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(RowList(self.0))
    }
}

#[derive(Clone, Copy)]
enum Level {
    Document,
    Results,
}

/// An object of which one field (`key`) is read further; any other value is skipped
/// and counts as "not found".
struct Field<'a, 'b> {
    key: &'static str,
    take: &'a mut Take<'b>,
    level: Level,
}

/// Skips any value that is not what was looked for.
macro_rules! not_found {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<bool, E> { Ok(false) })*
    };
}

impl<'de> Visitor<'de> for Field<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with `{}`", self.key)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.key && !found {
                found = match self.level {
                    Level::Document => map.next_value_seed(Results(&mut *self.take))?,
                    Level::Results => map.next_value_seed(Rows(&mut *self.take))?,
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    not_found!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
}

/// The list of rows.
struct RowList<'a, 'b>(&'a mut Take<'b>);

impl<'de> Visitor<'de> for RowList<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of result rows")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut i = 0;
        while let Some(row) = seq.next_element::<Json>()? {
            (self.0)(i, row).map_err(|()| de::Error::custom("a row was refused"))?;
            i += 1;
        }
        Ok(true)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    not_found!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
}
