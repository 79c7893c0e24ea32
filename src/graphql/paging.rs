//! Paging of connections (`first`/`after`, as W&B's API pages): a cursor is the opaque
//! position just after an item, so the next page starts where the cursor points.

use async_graphql::SimpleObject;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

#[derive(SimpleObject)]
pub struct PageInfo {
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// The cursor after the item at `position - 1`.
pub fn cursor(position: usize) -> String {
    STANDARD.encode(format!("after:{position}"))
}

/// Where a page after `cursor` starts; the first page for none or a cursor not ours.
pub fn start(cursor: Option<&str>) -> usize {
    cursor
        .and_then(|c| STANDARD.decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("after:").and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// `first` (clamped to 1…1000) as a page size.
pub fn size(first: i32) -> usize {
    first.clamp(1, 1000) as usize
}

/// Items of one page that starts at `start` (already cut out), each with its cursor, and
/// the page's info.
pub fn edges<T>(page: Vec<T>, start: usize, more: bool) -> (Vec<(T, String)>, PageInfo) {
    let edges: Vec<(T, String)> = page
        .into_iter()
        .enumerate()
        .map(|(i, item)| (item, cursor(start + i + 1)))
        .collect();
    let info = PageInfo {
        end_cursor: edges.last().map(|(_, c)| c.clone()),
        has_next_page: more,
    };
    (edges, info)
}

/// One page of a whole list.
pub fn of<T>(all: Vec<T>, after: Option<&str>, first: i32) -> (Vec<(T, String)>, PageInfo) {
    let (start, size) = (start(after), size(first));
    let total = all.len();
    let page: Vec<T> = all.into_iter().skip(start).take(size).collect();
    let more = start + page.len() < total;
    edges(page, start, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_cursors() {
        let (first, info) = of((0..5).collect(), None, 2);
        assert_eq!(
            first.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert!(info.has_next_page);
        let (second, _) = of((0..5).collect(), info.end_cursor.as_deref(), 2);
        assert_eq!(
            second.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![2, 3]
        );
        let (last, info) = of((0..5).collect(), second.last().map(|(_, c)| c.as_str()), 2);
        assert_eq!((last.len(), info.has_next_page), (1, false));
        assert_eq!(start(Some("not a cursor")), 0);
    }
}
