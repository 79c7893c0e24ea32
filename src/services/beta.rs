//! Settings → Beta features: the registry of features this server offers, each person's and
//! team's switches, and the server-wide switch with which a site admin withdraws one.
//!
//! A feature is on for an owner when the server offers it and the owner turned it on (or,
//! with no choice made, at the registry's default). What each one changes:
//! - `dark_mode`: the web app's theme (the UI follows the system until a choice is made);
//! - `code_saving`: `viewer.flags.code_saving_enabled`, which makes the SDK save the main
//!   script; a person without a choice follows their default team's switch;
//! - `structured_console_logs`: the SDK's `STRUCTURED_CONSOLE_LOGS` server feature, so the
//!   console arrives as JSON lines (time, stream, label) that the run page shows as columns.

use serde_json::json;

use super::{Actor, Services};
use crate::error::{ApiError, ErrorCode};
use crate::store::{BetaChoice, ChoiceChange, Entity, FeatureQuery, Owner, User};

/// A text in each language of the web app.
#[derive(Debug)]
pub struct Text {
    pub en: &'static str,
    pub ko: &'static str,
}

impl Text {
    /// The text in `language` (`ko…` is Korean, anything else English).
    pub fn in_language(&self, language: &str) -> &'static str {
        if language.to_ascii_lowercase().starts_with("ko") {
            self.ko
        } else {
            self.en
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetaFeature {
    DarkMode,
    CodeSaving,
    StructuredConsoleLogs,
}

/// One entry of the registry.
#[derive(Debug)]
pub struct BetaInfo {
    pub feature: BetaFeature,
    /// The stable key (storage, API, `fulcrum admin setting beta.<key>`).
    pub key: &'static str,
    pub name: Text,
    pub description: Text,
    /// Whether it is on for an owner who never chose.
    pub default: bool,
    /// Whether a team has the switch too (for its entity).
    pub for_teams: bool,
}

/// Every beta feature, in the order Settings lists them.
pub const REGISTRY: &[BetaInfo] = &[
    BetaInfo {
        feature: BetaFeature::DarkMode,
        key: "dark_mode",
        name: Text {
            en: "Dark mode",
            ko: "다크 모드",
        },
        description: Text {
            en: "A dark theme for the web app, on every device you sign in on. Until you choose, the app follows your system's setting.",
            ko: "로그인하는 모든 기기에서 웹 앱을 어두운 테마로 표시합니다. 선택하기 전에는 시스템 설정을 따릅니다.",
        },
        default: false,
        for_teams: false,
    },
    BetaInfo {
        feature: BetaFeature::CodeSaving,
        key: "code_saving",
        name: Text {
            en: "Code saving",
            ko: "코드 저장",
        },
        description: Text {
            en: "The wandb SDK saves your run's main script with the run, and the run page shows it. save_code=False in wandb.init() still wins.",
            ko: "wandb SDK가 실행의 메인 스크립트를 실행과 함께 저장하고, 실행 페이지에 표시합니다. wandb.init()의 save_code=False가 여전히 우선합니다.",
        },
        default: false,
        for_teams: true,
    },
    BetaInfo {
        feature: BetaFeature::StructuredConsoleLogs,
        key: "structured_console_logs",
        name: Text {
            en: "Structured console logs",
            ko: "구조화된 콘솔 로그",
        },
        description: Text {
            en: "The SDK sends console output with its time, stream and label (distributed runs), and the run page shows them as columns.",
            ko: "SDK가 콘솔 출력을 시간, 스트림, 레이블(분산 실행)과 함께 보내고, 실행 페이지에서 열로 표시합니다.",
        },
        default: false,
        for_teams: false,
    },
];

impl BetaFeature {
    pub fn info(self) -> &'static BetaInfo {
        // Every variant has its entry (a unit test checks it); the first is a safe fallback.
        REGISTRY
            .iter()
            .find(|i| i.feature == self)
            .unwrap_or(&REGISTRY[0])
    }

    pub fn key(self) -> &'static str {
        self.info().key
    }

    pub fn parse(key: &str) -> Option<BetaFeature> {
        REGISTRY.iter().find(|i| i.key == key).map(|i| i.feature)
    }
}

/// The server setting that withdraws a feature: `beta.<key>.available` = `false`.
const AVAILABLE_PREFIX: &str = "beta.";
const AVAILABLE_SUFFIX: &str = ".available";

pub fn availability_setting(feature: BetaFeature) -> String {
    format!("{AVAILABLE_PREFIX}{}{AVAILABLE_SUFFIX}", feature.key())
}

/// One switch as an owner sees it.
#[derive(Debug, Clone)]
pub struct BetaSwitch {
    pub info: &'static BetaInfo,
    /// Whether this server offers it (a site admin may withdraw it).
    pub available: bool,
    /// The owner's choice; `None` until they make one.
    pub choice: Option<bool>,
    /// Whether it is in effect: available, and chosen (or on by default).
    pub enabled: bool,
}

fn unknown(key: &str) -> ApiError {
    ApiError::not_found(
        ErrorCode::BetaFeatureUnknown,
        format!(
            "there is no beta feature `{}`; known: {}",
            crate::validate::echo(key),
            REGISTRY
                .iter()
                .map(|i| i.key)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

impl Services {
    /// The features this server withdrew (stored `false`); the rest are offered.
    async fn withdrawn_betas(&self) -> Result<Vec<BetaFeature>, ApiError> {
        let rows = self.store.settings_with_prefix(AVAILABLE_PREFIX).await?;
        Ok(rows
            .iter()
            .filter(|(_, value)| value == "false")
            .filter_map(|(key, _)| {
                let name = key.strip_prefix(AVAILABLE_PREFIX)?;
                BetaFeature::parse(name.strip_suffix(AVAILABLE_SUFFIX)?)
            })
            .collect())
    }

    /// The switches `actor` is shown for `owner`: the features this server offers, and the
    /// withdrawn ones too for a site admin who asks for them (`with_withdrawn`).
    pub async fn shown_beta_switches(
        &self,
        actor: &Actor,
        owner: Owner,
        with_withdrawn: bool,
    ) -> Result<Vec<BetaSwitch>, ApiError> {
        let all = with_withdrawn && actor.user.is_admin;
        let mut switches = self.beta_switches(owner).await?;
        switches.retain(|s| all || s.available);
        Ok(switches)
    }

    /// Every feature an owner can have (a team only those with a team switch), withdrawn
    /// ones included and marked.
    pub async fn beta_switches(&self, owner: Owner) -> Result<Vec<BetaSwitch>, ApiError> {
        let withdrawn = self.withdrawn_betas().await?;
        let choices = self.store.beta_choices(owner).await?;
        Ok(REGISTRY
            .iter()
            .filter(|info| info.for_teams || matches!(owner, Owner::User(_)))
            .map(|info| switch(info, &withdrawn, &choices))
            .collect())
    }

    /// Whether `feature` is in effect for `owner`.
    pub async fn beta_on(&self, owner: Owner, feature: BetaFeature) -> Result<bool, ApiError> {
        Ok(self
            .beta_switches(owner)
            .await?
            .iter()
            .any(|s| s.info.feature == feature && s.enabled))
    }

    /// Turns a feature on or off for the owner, or forgets the choice (`None`).
    pub async fn set_beta_feature(
        &self,
        actor: &Actor,
        owner: Owner,
        key: &str,
        enabled: Option<bool>,
    ) -> Result<(), ApiError> {
        let feature = BetaFeature::parse(key).ok_or_else(|| unknown(key))?;
        let info = feature.info();
        if matches!(owner, Owner::Team(_)) && !info.for_teams {
            return Err(ApiError::validation(
                "key",
                ErrorCode::BetaFeatureNotForTeams,
                format!("`{key}` is a personal feature; teams have no switch for it"),
            ));
        }
        if self.withdrawn_betas().await?.contains(&feature) {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                ErrorCode::BetaFeatureUnavailable,
                format!("a site admin has turned `{key}` off on this server"),
            ));
        }
        let event = actor
            .audit("beta_feature.change", owner.key())
            .with(json!({ "feature": key, "enabled": enabled }));
        let change = ChoiceChange {
            owner,
            feature: key.to_string(),
            enabled,
        };
        self.store.set_beta_choice(change, event).await?;
        Ok(())
    }

    /// Offers a feature on this server again, or withdraws it for everyone (site admins).
    pub async fn set_beta_available(
        &self,
        actor: &Actor,
        key: &str,
        available: bool,
    ) -> Result<(), ApiError> {
        actor.require_admin("change which beta features this server offers")?;
        let feature = BetaFeature::parse(key).ok_or_else(|| unknown(key))?;
        let setting = availability_setting(feature);
        let event = actor
            .audit("setting.change", setting.clone())
            .with(json!({ "value": available }));
        let value = if available { "true" } else { "false" };
        self.store.change_setting(&setting, value, event).await?;
        Ok(())
    }

    /// Whether the SDK should save code for `user`: their own switch, or without a choice
    /// their default team's (a service account's team is its default). One statement:
    /// the SDK's Viewer asks for it on every `wandb.init`.
    pub async fn code_saving_for(&self, user: &User) -> Result<bool, ApiError> {
        let feature = BetaFeature::CodeSaving;
        let query = FeatureQuery {
            feature: feature.key().to_string(),
            setting: availability_setting(feature),
            user_id: user.id,
            team_id: user.service_team_id.or(user.default_entity_id),
        };
        let state = self.cache.feature_state(&*self.store, query).await?;
        let available = state.available.as_deref() != Some("false");
        Ok(available && state.mine.or(state.team).unwrap_or(feature.info().default))
    }

    /// W&B's `viewer.flags`: the stored flags with `code_saving_enabled` added when code
    /// saving is on. Never `false`: the SDK would then override `wandb.init(save_code=True)`.
    pub async fn viewer_flags(&self, user: &User) -> Result<String, ApiError> {
        let mut flags = serde_json::from_str::<serde_json::Value>(&user.flags)
            .ok()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| json!({}));
        if self.code_saving_for(user).await? {
            flags["code_saving_enabled"] = json!(true);
        }
        Ok(flags.to_string())
    }

    /// `Entity.codeSavingEnabled`: a team's switch, or the person's own setting.
    pub async fn entity_code_saving(&self, entity: &Entity) -> Result<bool, ApiError> {
        if entity.is_team {
            return self
                .beta_on(Owner::Team(entity.id), BetaFeature::CodeSaving)
                .await;
        }
        match entity.user_id {
            Some(id) => match self.store.user_by_id(id).await? {
                Some(user) => self.code_saving_for(&user).await,
                None => Ok(false),
            },
            None => Ok(false),
        }
    }

    /// W&B's `updateEntity(codeSavingEnabled)`: a team admin sets the team's switch; a
    /// person setting it on their own entity makes their own choice.
    pub async fn set_entity_code_saving(
        &self,
        actor: &Actor,
        entity_name: &str,
        enabled: bool,
    ) -> Result<Entity, ApiError> {
        let entity = self
            .store
            .entity_by_name(entity_name.trim())
            .await?
            .ok_or_else(|| {
                ApiError::not_found(
                    ErrorCode::EntityNotFound,
                    format!(
                        "there is no entity `{}`",
                        crate::validate::echo(entity_name)
                    ),
                )
            })?;
        let owner = if entity.is_team {
            Owner::Team(self.managed_team(actor, &entity.name).await?.id)
        } else if entity.user_id == Some(actor.user.id) {
            Owner::User(actor.user.id)
        } else {
            return Err(ApiError::forbidden(
                ErrorCode::NotYourEntity,
                format!("only {} changes the settings of {0}", entity.name),
            ));
        };
        let key = BetaFeature::CodeSaving.key();
        self.set_beta_feature(actor, owner, key, Some(enabled))
            .await?;
        Ok(entity)
    }

    /// The W&B server features this server turns on for the caller (`serverInfo.features`;
    /// the SDK asks once per run, with the run's key).
    pub async fn server_features(
        &self,
        actor: Option<&Actor>,
    ) -> Result<Vec<(&'static str, bool)>, ApiError> {
        let structured = match actor {
            Some(a) => {
                self.beta_on(Owner::User(a.user.id), BetaFeature::StructuredConsoleLogs)
                    .await?
            }
            None => false,
        };
        Ok(vec![("STRUCTURED_CONSOLE_LOGS", structured)])
    }
}

fn switch(
    info: &'static BetaInfo,
    withdrawn: &[BetaFeature],
    choices: &[BetaChoice],
) -> BetaSwitch {
    let available = !withdrawn.contains(&info.feature);
    let choice = choices
        .iter()
        .find(|c| c.feature == info.key)
        .map(|c| c.enabled);
    BetaSwitch {
        info,
        available,
        choice,
        enabled: available && choice.unwrap_or(info.default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_has_one_entry_with_both_languages() {
        for feature in [
            BetaFeature::DarkMode,
            BetaFeature::CodeSaving,
            BetaFeature::StructuredConsoleLogs,
        ] {
            let entries = REGISTRY.iter().filter(|i| i.feature == feature).count();
            assert_eq!(entries, 1, "{feature:?}");
            assert_eq!(BetaFeature::parse(feature.key()), Some(feature));
        }
        for info in REGISTRY {
            for text in [&info.name, &info.description] {
                assert!(!text.en.is_empty() && !text.ko.is_empty(), "{}", info.key);
                assert_ne!(text.en, text.ko, "{} is not translated", info.key);
            }
        }
        assert_eq!(BetaFeature::parse("night"), None);
    }

    #[test]
    fn a_withdrawn_feature_is_off_whatever_was_chosen() {
        let info = BetaFeature::CodeSaving.info();
        let chose_on = [BetaChoice {
            feature: "code_saving".into(),
            enabled: true,
        }];
        assert!(switch(info, &[], &chose_on).enabled);
        let s = switch(info, &[BetaFeature::CodeSaving], &chose_on);
        assert!(!s.enabled && !s.available);
        assert_eq!(
            s.choice,
            Some(true),
            "the choice is kept for when it returns"
        );
        assert!(!switch(info, &[], &[]).enabled, "off by default");
    }

    #[test]
    fn texts_follow_the_language() {
        let name = &BetaFeature::DarkMode.info().name;
        assert_eq!(name.in_language("ko-KR"), "다크 모드");
        assert_eq!(name.in_language("en"), "Dark mode");
        assert_eq!(name.in_language("fr"), "Dark mode");
    }
}
