//! The intro's Markdown renderer and sanitizer: no script survives it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(html) = fulcrum::markdown::render(text) else {
        return;
    };
    let mut rest = html.as_str();
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let tag = rest[start..start + len + 1].to_ascii_lowercase();
        assert!(
            !tag.starts_with("<script") && !tag.starts_with("<iframe"),
            "{html}"
        );
        assert!(!tag.contains("javascript:"), "{html}");
        let handler = tag
            .split(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .skip(1) // the tag's own name
            .any(|w| w.starts_with("on") && w.contains('='));
        assert!(!handler, "{html}");
        rest = &rest[start + len + 1..];
    }
});
