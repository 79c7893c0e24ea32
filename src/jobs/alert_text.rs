//! The words of an alert outside the mail templates (Slack messages), in the recipient's
//! language, and the pieces mail and Slack share: a run's state and duration as people read
//! them.

use super::alerts::AlertMessage;
use super::mail::Lang;

pub fn duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else {
        format!("{m}m {s}s")
    }
}

pub fn state_label(lang: Lang, state: &str) -> &str {
    match (lang, state) {
        (Lang::Ko, "finished") => "완료",
        (Lang::Ko, "failed") => "실패",
        (Lang::Ko, "crashed") => "충돌",
        (Lang::Ko, "alert") => "알림",
        (_, other) => other,
    }
}

/// One line that says what happened: `Run failed — resnet-50`, `[WARN] loss is NaN — resnet-50`.
pub fn headline(lang: Lang, m: &AlertMessage) -> String {
    if let Some(a) = &m.alert {
        return format!("[{}] {} — {}", a.level, a.title, m.run);
    }
    let what = match (lang, m.state.as_str()) {
        (Lang::En, "finished") => "Run finished",
        (Lang::En, "failed") => "Run failed",
        (Lang::En, _) => "Run crashed",
        (Lang::Ko, "finished") => "Run 완료",
        (Lang::Ko, "failed") => "Run 실패",
        (Lang::Ko, _) => "Run 충돌",
    };
    format!("{what} — {}", m.run)
}

/// Field names of a Slack message.
pub struct Labels {
    pub project: &'static str,
    pub state: &'static str,
    pub duration: &'static str,
    pub exit_code: &'static str,
    pub open: &'static str,
}

pub fn labels(lang: Lang) -> Labels {
    match lang {
        Lang::En => Labels {
            project: "Project",
            state: "State",
            duration: "Duration",
            exit_code: "Exit code",
            open: "Open the run",
        },
        Lang::Ko => Labels {
            project: "프로젝트",
            state: "상태",
            duration: "실행 시간",
            exit_code: "종료 코드",
            open: "Run 열기",
        },
    }
}
