//! Property tests (issue #13 §4, the quick in-suite version of `fuzz/`): the parsers that
//! take untrusted bytes never panic, and keep their promises for any input. The
//! coverage-guided fuzzers run the same targets at length (`fuzz/README.md`).

use fulcrum::keys::{self, KeyKind, Presented};
use fulcrum::services::file_stream::{check_files, parse_body};
use proptest::prelude::*;

fn limits() -> fulcrum::config::RunLimits {
    fulcrum::config::Config::load_from(&Default::default(), &[])
        .unwrap()
        .runs
}

/// Text that looks like what attackers send a Markdown renderer.
fn hostile_markdown() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "<a href=\"data:text/html,x\">x</a>",
        "<svg onload=alert(1)>",
        "<iframe src=//evil>",
        "![i](x\" onerror=\"alert(1))",
        "<style>*{}</style>",
        "**b**",
        "# h",
        "`code`",
        "```\nx\n```",
        "> q",
        "- l",
        "\n",
        " ",
        "<",
        ">",
        "\"",
        "'",
        "&#x3C;script&#x3E;",
        "<scr<script>ipt>",
        "[a]: javascript:x",
        "<details open ontoggle=alert(1)>",
        "\u{0}",
    ]);
    prop::collection::vec(prop_oneof![pieces.prop_map(String::from), ".{0,12}"], 0..24)
        .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn the_key_parser_takes_any_text(text in ".{0,300}") {
        let _ = keys::classify(&text);
        let _ = keys::validate_sdk_shape(&text);
    }

    #[test]
    fn a_key_with_any_character_changed_is_not_the_key(position in 0usize..100, to in "[A-Za-z0-9]") {
        let key = keys::generate(KeyKind::Personal).full;
        let Ok(Presented::Native { key_id, .. }) = keys::classify(&key) else {
            panic!("a generated key parses");
        };
        let position = position % key.len();
        let mut changed = key.to_string().into_bytes();
        prop_assume!(changed[position] != to.as_bytes()[0]);
        changed[position] = to.as_bytes()[0];
        let changed = String::from_utf8(changed).unwrap();
        if let Ok(Presented::Native { key_id: other, hash }) = keys::classify(&changed) {
            // The checksum catches every change but one in the prefix, which makes a
            // different key anyway.
            prop_assert!(other != key_id || hash != keys::hash_key(&key));
        }
    }

    #[test]
    fn rendered_markdown_runs_no_script(text in hostile_markdown()) {
        if let Ok(html) = fulcrum::markdown::render(&text) {
            // Text may say anything; what matters is inside the tags.
            for tag in tags(&html) {
                prop_assert!(!tag.starts_with("<script") && !tag.starts_with("<iframe"), "{html}");
                prop_assert!(!tag.starts_with("<svg") && !tag.starts_with("<style"), "{html}");
                prop_assert!(!tag.contains("javascript:") && !tag.contains("data:text"), "{html}");
                prop_assert!(!has_event_handler(&tag), "{html}");
            }
        }
    }

    #[test]
    fn file_stream_bodies_of_any_bytes_are_refused_or_read(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(body) = parse_body(&bytes) {
            let _ = check_files(&limits(), body.files);
        }
    }

    #[test]
    fn file_stream_chunks_with_any_offsets_and_lines_stay_in_bounds(
        offset in any::<i64>(),
        lines in prop::collection::vec(prop_oneof![".{0,40}", Just("{\"_step\": 1e300}".to_string()), Just("{\"_step\": -9223372036854775808}".to_string())], 0..20),
        file in prop::sample::select(vec!["wandb-history.jsonl", "wandb-events.jsonl", "output.log", "wandb-summary.json", "other"]),
    ) {
        let body = serde_json::json!({ "files": { file: { "offset": offset, "content": lines } } });
        let parsed = parse_body(body.to_string().as_bytes()).unwrap();
        let limits = limits();
        if let Ok(checked) = check_files(&limits, parsed.files) {
            for chunk in checked.lines {
                prop_assert!(chunk.offset >= 0 && chunk.offset + chunk.lines.len() as i64 <= limits.max_lines);
                prop_assert!(chunk.lines.iter().all(|l| !l.contains('\0')));
            }
        }
    }

    #[test]
    fn avatar_decoding_refuses_any_broken_image(bytes in prop::collection::vec(any::<u8>(), 0..2000), cut in 0usize..2000) {
        let _ = fulcrum::images::process_avatar(&bytes);
        let png = png_bytes();
        let _ = fulcrum::images::process_avatar(&png[..cut.min(png.len())]);
        let mut flipped = png.clone();
        let at = cut % flipped.len();
        flipped[at] ^= 0x5a;
        let _ = fulcrum::images::process_avatar(&flipped);
    }

    #[test]
    fn graphql_documents_of_any_shape_are_answered(doc in graphql_soup()) {
        let schema = fulcrum::graphql::build_schema(&fulcrum::config::Config::load_from(&Default::default(), &[]).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let response = runtime.block_on(schema.execute(doc.as_str()));
        // Without a request context no resolver runs; the parser, validation and limits do.
        let _ = response.errors;
    }
}

/// Every tag of the HTML, lower-cased, from `<` to `>`.
fn tags(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        out.push(rest[start..start + len + 1].to_ascii_lowercase());
        rest = &rest[start + len + 1..];
    }
    out
}

/// An attribute named `on…` inside a tag.
fn has_event_handler(tag: &str) -> bool {
    tag.split(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
        .skip(1) // the tag's own name
        .any(|word| word.starts_with("on") && word.contains('='))
}

fn png_bytes() -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(8, 8, image::Rgba([1, 2, 3, 255]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Token soup close enough to GraphQL to get past the lexer.
fn graphql_soup() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ":",
        "...",
        "$v",
        "@skip(if: true)",
        "query",
        "mutation",
        "fragment F on User",
        "...F",
        "viewer",
        "id",
        "teams",
        "edges",
        "node",
        "name",
        "generateApiKey(input: {description: \"x\"})",
        "apiKey",
        "__typename",
        "__schema",
        "types",
        "fields",
        "ofType",
        "a:",
        "\"s\"",
        "1",
        "1e99",
        "null",
        "on",
        "User",
    ]);
    prop::collection::vec(tokens, 0..60).prop_map(|t| t.join(" "))
}
