//! Form bodies: `application/x-www-form-urlencoded`, read once by the guard (to check
//! the CSRF token) and handed to the handler as fields.

use std::collections::HashMap;

/// The fields of a submitted form. A field sent more than once keeps every value (a
/// list of checkboxes), in order.
#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: HashMap<String, Vec<String>>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        let mut fields: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in form_urlencoded_pairs(body) {
            fields.entry(k).or_default().push(v);
        }
        Form { fields }
    }

    /// The field's first value, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The field's first value, trimmed, if sent and not blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every value of the field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields.get(name).cloned().unwrap_or_default()
    }
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Form {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Form>().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any body parses without panicking; fields we encode come back as they were.
        #[test]
        fn any_body_parses_and_encoded_fields_round_trip(
            junk in proptest::collection::vec(any::<u8>(), 0..300),
            value in "\\PC{0,60}",
        ) {
            let _ = Form::parse(&junk);
            let body = serde_urlencoded::to_string([("csrf", "t"), ("source", value.as_str())]).unwrap();
            let f = Form::parse(body.as_bytes());
            prop_assert_eq!(f.get("source"), Some(value.as_str()));
            prop_assert_eq!(f.get("csrf"), Some("t"));
        }
    }

    #[test]
    fn fields_repeat_and_decode() {
        let f = Form::parse(b"a=1&b=x+y&a=2&c=%E2%9C%93&blank=+");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("a"), vec!["1", "2"]);
        assert_eq!(f.get("b"), Some("x y"));
        assert_eq!(f.get("c"), Some("✓"));
        assert_eq!(f.text("blank"), None);
        assert_eq!(Form::parse(b"%ZZ=\xff").get("x"), None);
    }
}
