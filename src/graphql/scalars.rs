//! W&B's custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// A JSON document carried as a string (W&B's `JSONString`: run config, summary). Clients
/// send a string; a JSON value given directly is accepted and serialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonString(pub String);

#[Scalar(name = "JSONString")]
impl ScalarType for JsonString {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(JsonString(s)),
            Value::Null => Err(InputValueError::custom("a JSONString may not be null here")),
            other => other
                .into_json()
                .map(|v| JsonString(v.to_string()))
                .map_err(|e| InputValueError::custom(format!("not JSON: {e}"))),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}
