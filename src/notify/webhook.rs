//! Signed webhooks. Each POST carries `Fulcrum-Timestamp` (Unix seconds),
//! `Fulcrum-Delivery` (the same for every retry of one delivery, so receivers can drop
//! repeats) and `Fulcrum-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
//! Receivers check the signature and refuse timestamps older than a few minutes.

use super::http::Answer;
use super::DeliveryError;

pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut msg = format!("{timestamp}.").into_bytes();
    msg.extend_from_slice(body);
    let mac = crate::links::hmac_sha256(secret.as_bytes(), &msg);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

/// What a receiver's answer means: 2xx delivered; 410 gone (stop sending); other 4xx our
/// request is refused for good; 408, 429 and 5xx try again.
pub fn judge(answer: &Answer) -> Result<(), DeliveryError> {
    let code = answer.status.as_u16();
    match code {
        200..=299 => Ok(()),
        408 => Err(DeliveryError::retry("the webhook timed out (408)")),
        429 => Err(DeliveryError::retry_after(
            "the webhook is rate limiting",
            answer.retry_after_ms.unwrap_or(1000),
        )),
        410 => Err(DeliveryError::broken("the webhook answered 410 Gone")),
        300..=399 => Err(DeliveryError::broken(format!(
            "the webhook redirects ({code}); redirects are not followed"
        ))),
        400..=499 => Err(DeliveryError::permanent(format!(
            "the webhook refused the alert ({code})"
        ))),
        _ => Err(DeliveryError::retry(format!("the webhook answered {code}"))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            super::signature("s3cret", 1_700_000_000, br#"{"a":1}"#),
            "v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
