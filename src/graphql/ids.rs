//! Opaque node IDs in W&B's style: base64 of `Type:number`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{ApiError, ErrorCode};

pub fn encode(kind: &str, id: i64) -> String {
    STANDARD.encode(format!("{kind}:{id}"))
}

pub fn decode(kind: &str, raw: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            ErrorCode::InvalidId,
            format!("{raw:?} is not a valid {kind} id"),
        )
    };
    if raw.len() > 128 {
        return Err(invalid());
    }
    let bytes = STANDARD.decode(raw.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (k, n) = text.split_once(':').ok_or_else(invalid)?;
    if k != kind {
        return Err(invalid());
    }
    n.parse().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        assert_eq!(decode("ApiKey", &encode("ApiKey", 42)).unwrap(), 42);
        assert!(decode("ApiKey", &encode("User", 42)).is_err());
        assert!(decode("ApiKey", "%%%").is_err());
        assert!(decode("ApiKey", &STANDARD.encode("ApiKey:x")).is_err());
    }
}
