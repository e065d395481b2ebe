//! Collects every bad query parameter of a request, so a `400` lists them all at once, each
//! in the words of `expected.rs`.
//!
//! poem-openapi stops at the first typed parameter that fails to parse and answers with its
//! own type names ("failed to parse \"integer_int64\" ... \"optional_integer_int64\""). So a
//! typed parameter is declared as [`QueryValue<T>`]: the document shows `T`'s schema, the
//! extractor never fails, and the handler hands each value to [`QueryErrors::take`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};

use crate::expected;
use crate::problem::ApiError;

/// A query parameter of type `T` as sent: parsed, or the text that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryValue<T>(pub Result<T, String>);

impl<T: Type> Type for QueryValue<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().ok().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Ok(v) => v.raw_element_iter(),
            Err(_) => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromParameter> ParseFromParameter for QueryValue<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(
            T::parse_from_parameter(value).map_err(|_| value.to_owned()),
        ))
    }
}

/// Parse failures by parameter name.
#[derive(Debug, Default)]
pub struct QueryErrors(BTreeMap<String, Vec<String>>);

impl QueryErrors {
    /// The value of an optional parameter, recording under `name` what it must be if it did
    /// not parse.
    pub fn take<T: Type>(&mut self, name: &str, value: Option<QueryValue<T>>) -> Option<T> {
        match value?.0 {
            Ok(v) => Some(v),
            Err(_) => {
                self.0
                    .entry(name.to_owned())
                    .or_default()
                    .push(expected::of::<T>().must_be());
                None
            }
        }
    }

    /// Records that `name` must be `what` (a parameter parsed by the caller).
    pub fn add(&mut self, name: &str, what: &str) {
        self.0
            .entry(name.to_owned())
            .or_default()
            .push(what.to_owned());
    }

    /// `400 malformed_request` listing every failure, if any.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_query(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_is_kept_in_the_words_of_its_type() {
        let mut errors = QueryErrors::default();
        let parse = <QueryValue<i64> as ParseFromParameter>::parse_from_parameter;
        assert_eq!(errors.take("limit", Some(parse("7").unwrap())), Some(7));
        assert_eq!(errors.take::<i64>("limit", None), None);
        assert_eq!(errors.take("page", Some(parse("x").unwrap())), None);
        let flag = <QueryValue<bool> as ParseFromParameter>::parse_from_parameter("yes");
        assert_eq!(errors.take("overdue", Some(flag.unwrap())), None);
        let err = errors.into_result().unwrap_err();
        let body = err.body("id");
        assert_eq!(
            body.errors.unwrap(),
            BTreeMap::from([
                (
                    "overdue".to_owned(),
                    vec!["must be true or false".to_owned()]
                ),
                ("page".to_owned(), vec!["must be an integer".to_owned()]),
            ])
        );
        assert_eq!(
            QueryValue::<i64>::name(),
            i64::name(),
            "the document is unchanged"
        );
    }
}
