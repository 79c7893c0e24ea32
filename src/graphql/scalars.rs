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

/// A 64-bit integer (W&B's `Int64`: history steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int64(pub i64);

#[Scalar(name = "Int64")]
impl ScalarType for Int64 {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Int64)
                .ok_or_else(|| InputValueError::custom("not a whole number")),
            Value::String(s) => s
                .trim()
                .parse()
                .map(Int64)
                .map_err(|_| InputValueError::custom("not a whole number")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// W&B's `Duration`: whole milliseconds (`run.alert(wait_duration=…)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub i64);

#[Scalar(name = "Duration")]
impl ScalarType for Duration {
    fn parse(value: Value) -> InputValueResult<Self> {
        Int64::parse(value)
            .map(|v| Duration(v.0))
            .map_err(|_| InputValueError::custom("a Duration is whole milliseconds"))
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}
