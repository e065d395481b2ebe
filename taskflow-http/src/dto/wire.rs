//! poem-openapi plumbing: the wire types it has no built-in for (an RFC 3339 instant with
//! millisecond precision, an always-present nullable value) and the page position every
//! listing shares.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use poem_openapi::Object;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde::{Serialize, Serializer};
use serde_json::Value;
use taskflow_core as core;

/// An instant on the wire: RFC 3339, UTC, millisecond precision, `Z` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// `2026-11-23T08:00:00.000Z`.
    pub fn format(&self) -> String {
        let mut buf = [0u8; 24];
        match self.write(&mut buf) {
            Some(text) => text.to_owned(),
            None => self.0.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }

    /// Writes the fixed-width form for years 0-9999 without a format-string interpreter:
    /// chrono's `format()` parsed the pattern on every call and was the largest single
    /// cost of a task listing (18 % of the server's CPU under load).
    fn write<'b>(&self, buf: &'b mut [u8; 24]) -> Option<&'b str> {
        use chrono::{Datelike, Timelike};
        let t = &self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let fields: [(u32, usize, usize); 7] = [
            (year, 0, 4),
            (t.month(), 5, 2),
            (t.day(), 8, 2),
            (t.hour(), 11, 2),
            (t.minute(), 14, 2),
            (t.second().min(59), 17, 2),
            (t.timestamp_subsec_millis().min(999), 20, 3),
        ];
        buf.copy_from_slice(b"0000-00-00T00:00:00.000Z");
        for (mut value, start, width) in fields {
            for i in (start..start + width).rev() {
                buf[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        std::str::from_utf8(buf).ok()
    }
}

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(Value::String("2026-11-23T08:00:00.000Z".into())),
            ..MetaSchema::new_with_format("string", "date-time")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Self::parse_from_parameter(&s),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for Timestamp {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        crate::expected::parse_date_time(value)
            .map(Timestamp)
            .ok_or_else(|| ParseError::custom(crate::expected::of::<Self>().must_be()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        match self.write(&mut buf) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&self.format()),
        }
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.format()))
    }
}

/// A value that is always present and may be `null` (the schema says `nullable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                ..*schema
            })),
            reference => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                all_of: vec![reference],
                ..MetaSchema::ANY
            })),
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(|v| v.as_raw_value())
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(v) => v.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Nullable(None)),
            some => T::parse_from_json(some)
                .map(|v| Nullable(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        Some(
            self.0
                .as_ref()
                .and_then(ToJSON::to_json)
                .unwrap_or(Value::Null),
        )
    }
}

pub(super) fn ts(t: DateTime<Utc>) -> Timestamp {
    Timestamp(t)
}

pub(super) fn nullable_ts(t: Option<DateTime<Utc>>) -> Nullable<Timestamp> {
    Nullable(t.map(Timestamp))
}

/// Position of a page in a listing.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "PageInfo")]
pub struct PageInfo {
    /// Page size used.
    pub limit: u32,
    /// Page number in page mode; `null` in cursor mode.
    pub page: Nullable<u32>,
    /// Matching items in page mode; `null` in cursor mode.
    pub total: Nullable<u64>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Nullable<String>,
}

pub(super) fn page_info<T>(p: &core::Page<T>) -> PageInfo {
    PageInfo {
        limit: p.limit,
        page: Nullable(p.page),
        total: Nullable(p.total),
        next_cursor: Nullable(p.next_cursor.clone()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::Timestamp;

    #[test]
    fn timestamps_are_rfc3339_utc_millis() {
        for (input, expected) in [
            ("2026-11-23T08:00:00Z", "2026-11-23T08:00:00.000Z"),
            (
                "2030-01-02T01:04:05.678999+00:00",
                "2030-01-02T01:04:05.678Z",
            ),
            ("0999-12-31T23:59:59.001Z", "0999-12-31T23:59:59.001Z"),
        ] {
            let t = Timestamp(input.parse::<DateTime<Utc>>().unwrap());
            assert_eq!(t.format(), expected);
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{expected}\"")
            );
        }
        let far = Timestamp("+12345-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(
            far.format(),
            far.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
}
