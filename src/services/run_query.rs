//! The Public API's run list: W&B's MongoDB-style filters (`{"state": "finished"}`,
//! `{"config.lr": {"$gt": 0.01}}`, `$and`/`$or`/`$in`/`$regex`, …) and orders
//! (`-created_at`, `+summary_metrics.loss`), evaluated on the runs of one project.

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::{ApiError, ErrorCode};
use crate::store::Run;

/// Filters may not nest deeper than this, nor hold more than this many conditions.
const MAX_DEPTH: usize = 16;
const MAX_CONDITIONS: usize = 256;
const REGEX_MAX: usize = 512;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::validation("filters", ErrorCode::RunFieldInvalid, message)
}

/// A run with its JSON parsed once, for filtering and sorting.
pub struct Row<'a> {
    pub run: &'a Run,
    pub username: Option<&'a str>,
    config: Value,
    summary: Value,
}

impl<'a> Row<'a> {
    pub fn new(run: &'a Run, username: Option<&'a str>) -> Self {
        Row {
            run,
            username,
            config: serde_json::from_str(&run.config).unwrap_or(Value::Null),
            summary: serde_json::from_str(&run.summary).unwrap_or(Value::Null),
        }
    }

    /// The value a filter or order key names, if the run has it.
    fn field(&self, key: &str) -> Option<Value> {
        let r = self.run;
        let text = |s: &Option<String>| s.clone().map(Value::String);
        if let Some(path) = key.strip_prefix("config.") {
            let path = path.strip_suffix(".value").unwrap_or(path);
            let mut parts = path.split('.');
            let first = parts.next()?;
            let mut v = self.config.get(first)?.get("value")?;
            for p in parts {
                v = v.get(p)?;
            }
            return Some(v.clone());
        }
        if let Some(path) = key
            .strip_prefix("summary_metrics.")
            .or_else(|| key.strip_prefix("summaryMetrics."))
        {
            let mut v = &self.summary;
            for p in path.split('.') {
                v = v.get(p)?;
            }
            return Some(v.clone());
        }
        match key {
            "name" => Some(Value::String(r.name.clone())),
            "state" => Some(Value::String(r.state.clone())),
            "display_name" | "displayName" => text(&r.info.display_name),
            "group" => text(&r.info.group_name),
            "job_type" | "jobType" => text(&r.info.job_type),
            "host" => text(&r.info.host),
            "notes" | "description" => text(&r.info.notes),
            "commit" => text(&r.info.commit_sha),
            "sweep" | "sweepName" => text(&r.info.sweep),
            "tags" => serde_json::from_str(&r.tags).ok(),
            "username" | "user" => self.username.map(|u| Value::String(u.to_string())),
            "created_at" | "createdAt" => Some(Value::String(crate::iso_ms(r.created_at))),
            "heartbeat_at" | "heartbeatAt" => Some(Value::String(crate::iso_ms(r.heartbeat_at))),
            _ => None,
        }
    }
}

/// Checks a filter document once (depth, size, operators) before it runs on every row.
pub fn check_filter(filter: &Value) -> Result<(), ApiError> {
    fn walk(v: &Value, depth: usize, count: &mut usize) -> Result<(), ApiError> {
        *count += 1;
        if depth > MAX_DEPTH || *count > MAX_CONDITIONS {
            return Err(invalid(format!(
                "a filter may nest {MAX_DEPTH} deep and hold {MAX_CONDITIONS} conditions"
            )));
        }
        match v {
            Value::Object(map) => {
                for (k, inner) in map {
                    if k.starts_with('$') && !OPERATORS.contains(&k.as_str()) {
                        return Err(invalid(format!("unknown filter operator {k}")));
                    }
                    if k == "$regex" {
                        let pattern = inner
                            .as_str()
                            .ok_or_else(|| invalid("$regex takes a string"))?;
                        if pattern.len() > REGEX_MAX {
                            return Err(invalid(format!("a $regex has at most {REGEX_MAX} bytes")));
                        }
                        regex_lite::Regex::new(pattern)
                            .map_err(|e| invalid(format!("bad $regex: {e}")))?;
                    }
                    walk(inner, depth + 1, count)?;
                }
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|i| walk(i, depth + 1, count)),
            _ => Ok(()),
        }
    }
    walk(filter, 0, &mut 0)
}

const OPERATORS: &[&str] = &[
    "$and", "$or", "$nor", "$not", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin",
    "$regex", "$exists",
];

/// Whether `row` passes `filter` (already checked by [`check_filter`]).
pub fn matches(row: &Row<'_>, filter: &Value) -> bool {
    let Value::Object(map) = filter else {
        return true;
    };
    map.iter().all(|(key, cond)| match key.as_str() {
        "$and" => cond
            .as_array()
            .is_some_and(|all| all.iter().all(|f| matches(row, f))),
        "$or" => cond
            .as_array()
            .is_some_and(|any| any.iter().any(|f| matches(row, f))),
        "$nor" => cond
            .as_array()
            .is_some_and(|any| !any.iter().any(|f| matches(row, f))),
        field => condition(row.field(field).as_ref(), cond),
    })
}

fn condition(value: Option<&Value>, cond: &Value) -> bool {
    let Value::Object(ops) = cond else {
        return value.is_some_and(|v| equal(v, cond));
    };
    if !ops.keys().any(|k| k.starts_with('$')) {
        return value.is_some_and(|v| equal(v, cond));
    }
    ops.iter().all(|(op, arg)| match op.as_str() {
        "$eq" => value.is_some_and(|v| equal(v, arg)),
        "$ne" => !value.is_some_and(|v| equal(v, arg)),
        "$gt" => compare(value, arg) == Some(Ordering::Greater),
        "$gte" => matches!(
            compare(value, arg),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        "$lt" => compare(value, arg) == Some(Ordering::Less),
        "$lte" => matches!(compare(value, arg), Some(Ordering::Less | Ordering::Equal)),
        "$in" => arg
            .as_array()
            .is_some_and(|set| set.iter().any(|a| value.is_some_and(|v| equal(v, a)))),
        "$nin" => !arg
            .as_array()
            .is_some_and(|set| set.iter().any(|a| value.is_some_and(|v| equal(v, a)))),
        "$exists" => value.is_some() == arg.as_bool().unwrap_or(true),
        "$regex" => {
            let text = |v: &Value| v.as_str().map(str::to_string);
            let any_text = |v: &Value| match v {
                Value::Array(items) => items.iter().filter_map(text).collect(),
                other => text(other).into_iter().collect::<Vec<_>>(),
            };
            match (
                value,
                arg.as_str().and_then(|p| regex_lite::Regex::new(p).ok()),
            ) {
                (Some(v), Some(re)) => any_text(v).iter().any(|s| re.is_match(s)),
                _ => false,
            }
        }
        "$not" => !condition(value, arg),
        _ => false,
    })
}

/// Equality as W&B's filters mean it: numbers by value, and a list (tags) equals any of
/// its items.
fn equal(v: &Value, want: &Value) -> bool {
    match (v, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(items), w) if !w.is_array() => items.iter().any(|i| equal(i, w)),
        _ => v == want,
    }
}

fn compare(value: Option<&Value>, arg: &Value) -> Option<Ordering> {
    match (value?, arg) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Sorts rows by a W&B order (`-created_at` when none is given).
pub fn sort(rows: &mut [Row<'_>], order: Option<&str>) {
    let order = order
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .unwrap_or("-created_at");
    let (descending, key) = match order.split_at(1) {
        ("-", rest) => (true, rest),
        ("+", rest) => (false, rest),
        _ => (false, order),
    };
    let key = if key == "createdAt" {
        "created_at"
    } else {
        key
    };
    rows.sort_by(|a, b| {
        let ordering = if key == "created_at" {
            a.run
                .created_at
                .cmp(&b.run.created_at)
                .then(a.run.id.cmp(&b.run.id))
        } else {
            // Runs without the key sort last either way.
            match (a.field(key), b.field(key)) {
                (Some(x), Some(y)) => compare(Some(&x), &y).unwrap_or(Ordering::Equal),
                (Some(_), None) => return Ordering::Less,
                (None, Some(_)) => return Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        };
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_filters_are_refused_before_they_run() {
        let mut deep = json!({"state": "finished"});
        for _ in 0..20 {
            deep = json!({ "$and": [deep] });
        }
        for bad in [
            deep,
            json!({"$where": "1"}),
            json!({"name": {"$regex": "("}}),
            json!({"name": {"$regex": 3}}),
        ] {
            assert!(check_filter(&bad).is_err(), "{bad}");
        }
        assert!(
            check_filter(&json!({"$or": [{"config.lr": {"$gt": 0.1}}, {"tags": "x"}]})).is_ok()
        );
    }
}
