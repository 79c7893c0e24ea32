//! Renders intros: CommonMark (with tables, strikethrough and task lists) to HTML, then an
//! allow-list sanitizer. Raw `<img width height>` survives so social badges keep their size;
//! scripts, event handlers, frames, styles and non-http(s)/mailto URLs never do.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{html, Event, Options, Parser};

const TAGS: &[&str] = &[
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
];

fn sanitizer() -> &'static Builder<'static> {
    static BUILDER: OnceLock<Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut attrs: HashMap<&str, HashSet<&str>> = HashMap::new();
        attrs.insert("a", ["href", "title"].into());
        attrs.insert("img", ["src", "alt", "title", "width", "height"].into());
        attrs.insert("ol", ["start"].into());
        attrs.insert("td", ["align"].into());
        attrs.insert("th", ["align"].into());
        let mut b = Builder::default();
        b.tags(TAGS.iter().copied().collect())
            .tag_attributes(attrs)
            .generic_attributes(HashSet::new())
            .url_schemes(["http", "https", "mailto"].into())
            .url_relative(UrlRelative::Custom(Box::new(same_origin_path)))
            .link_rel(Some("nofollow noopener noreferrer ugc"))
            .attribute_filter(|element, attribute, value| match (element, attribute) {
                ("img", "width" | "height") => is_dimension(value).then(|| value.into()),
                ("td" | "th", "align") => {
                    matches!(value, "left" | "right" | "center").then(|| value.into())
                }
                _ => Some(value.into()),
            });
        b
    })
}

/// A path on this server (`/avatars/…`, `/<username>`) is kept; other relative URLs, and
/// `//host/…` (another host), are dropped: an intro means the same wherever it is shown.
fn same_origin_path(url: &str) -> Option<std::borrow::Cow<'_, str>> {
    let same_origin = url.starts_with('/')
        && !url.starts_with("//")
        && !url.contains('\\')
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    same_origin.then_some(std::borrow::Cow::Borrowed(url))
}

/// `120`, `120px` or `50%`: nothing that could smuggle CSS or script.
fn is_dimension(value: &str) -> bool {
    let digits = value
        .strip_suffix("px")
        .or_else(|| value.strip_suffix('%'))
        .unwrap_or(value);
    !digits.is_empty() && digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Deepest nesting of blocks and inlines (lists in lists, quotes in quotes, emphasis in
/// links) an intro may have. Real profiles stay under ten; `"1. " × 6600` is one list in
/// another six thousand times and took a second to sanitize.
pub const MAX_NESTING: usize = 32;
/// Raw HTML tags an intro may carry (badges are a few dozen). Each one costs the sanitizer's
/// HTML parser work, and misnested ones cost it more.
pub const MAX_HTML_TAGS: usize = 1000;

/// Why an intro is refused before it is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooComplex {
    Nesting,
    HtmlTags,
}

/// Markdown → sanitized HTML, safe to insert into a page. Refuses documents whose shape
/// would make rendering slow, so every accepted intro renders in milliseconds.
pub fn render(markdown: &str) -> Result<String, TooComplex> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut depth = 0usize;
    let mut tags = 0usize;
    let mut events = Vec::new();
    for event in Parser::new_ext(markdown, options) {
        match &event {
            Event::Start(_) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(TooComplex::Nesting);
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Html(h) | Event::InlineHtml(h) => {
                tags += h.bytes().filter(|&b| b == b'<').count();
                if tags > MAX_HTML_TAGS {
                    return Err(TooComplex::HtmlTags);
                }
            }
            _ => {}
        }
        events.push(event);
    }
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, events.into_iter());
    Ok(sanitizer().clean(&raw).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(markdown: &str) -> String {
        render(markdown).unwrap()
    }

    #[test]
    fn pathological_nesting_and_tag_floods_are_refused() {
        assert_eq!(render(&"1. ".repeat(6600)), Err(TooComplex::Nesting));
        assert_eq!(render(&"> ".repeat(6600)), Err(TooComplex::Nesting));
        assert_eq!(
            render(&format!("{}x", "+ ".repeat(6600))),
            Err(TooComplex::Nesting)
        );
        assert_eq!(render(&"<b><i>".repeat(3000)), Err(TooComplex::HtmlTags));
        // Ordinary structure well inside the bounds is fine.
        assert!(render(&"- a\n  - b\n    - c\n".repeat(50)).is_ok());
        assert!(render(&"[![b](https://img.shields.io/x)](https://x.com) ".repeat(100)).is_ok());
    }

    #[test]
    fn social_badge_renders_as_a_linked_image() {
        let md = "[![X: @weights_biases](https://img.shields.io/twitter/follow/weights_biases?style=social)](https://x.com/intent/follow?screen_name=weights_biases)";
        let html = r(md);
        assert!(html.contains("<a href=\"https://x.com/intent/follow?screen_name=weights_biases\" rel=\"nofollow noopener noreferrer ugc\"><img src=\"https://img.shields.io/twitter/follow/weights_biases?style=social\" alt=\"X: @weights_biases\"></a>"), "{html}");
    }

    #[test]
    fn raw_img_keeps_only_safe_attributes() {
        let html = r("<a href=\"https://example.com\"><img src=\"https://example.com/b.svg\" width=\"80\" onerror=\"alert(1)\" style=\"x\"></a>");
        assert!(
            html.contains("<img src=\"https://example.com/b.svg\" width=\"80\">"),
            "{html}"
        );
        assert!(!html.contains("onerror") && !html.contains("style"));
        let html =
            r("<img src=\"https://e.com/x.png\" width=\"expression(alert(1))\" height=\"20\">");
        assert!(
            html.contains("height=\"20\"") && !html.contains("expression"),
            "{html}"
        );
    }

    #[test]
    fn scripts_frames_and_bad_urls_are_removed() {
        for attack in [
            "<script>window.__xss=1</script>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "[x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<img src=\"javascript:alert(1)\">",
            "<img src=x onerror=alert(1)>",
            "<svg onload=alert(1)></svg>",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
        ] {
            let html = r(attack);
            for bad in [
                "<script",
                "<iframe",
                "javascript:",
                "onerror",
                "onload",
                "<svg",
                "data:",
            ] {
                assert!(
                    !html.to_ascii_lowercase().contains(bad),
                    "{attack} → {html}"
                );
            }
        }
    }

    #[test]
    fn ordinary_markdown_survives() {
        let html = r("# Title\n\nSome **bold** and `code`.\n\n- a\n- b\n\n[mail](mailto:a@b.c)");
        assert!(
            html.contains("<h1>Title</h1>")
                && html.contains("<strong>bold</strong>")
                && html.contains("<code>code</code>")
        );
        assert!(html.contains("<li>a</li>") && html.contains("href=\"mailto:a@b.c\""));
    }

    #[test]
    fn same_origin_images_stay_and_other_relative_urls_go() {
        let html = r("<img src=\"/avatars/abc.png\" width=\"64\">");
        assert!(
            html.contains("<img src=\"/avatars/abc.png\" width=\"64\">"),
            "{html}"
        );
        let html =
            r("[me](/ada) ![x](//evil.example/x.png) ![y](x.png) ![z](/\\evil.example/x.png)");
        assert!(html.contains("href=\"/ada\""), "{html}");
        assert!(!html.contains("//evil.example"), "{html}");
        assert!(!html.contains("src=\"x.png\""), "{html}");
        // a backslash arrives percent-encoded: a path on this server, not another host
        assert!(html.contains("src=\"/%5Cevil.example/x.png\""), "{html}");
    }
}
