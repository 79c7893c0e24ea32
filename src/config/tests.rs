//! Configuration layering, secrets from files, and the messages of bad values.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The environment variable `key` set to `value` stops the start with a message naming
/// `names`.
fn refused(key: &str, value: &str, names: &str) {
    let err = Config::load_from(&Overrides::default(), &env(&[(key, value)])).unwrap_err();
    assert!(err.to_string().contains(names), "{key}={value}: {err}");
}

#[test]
fn bare_log_levels_leave_other_crates_at_info() {
    let with = |level: &str| Config {
        log_level: level.into(),
        ..build(&BTreeMap::new()).unwrap()
    };
    assert_eq!(with("debug").log_filter(), "info,fulcrum=debug");
    assert_eq!(with("trace").log_filter(), "info,fulcrum=trace");
    assert_eq!(with("warn").log_filter(), "warn,fulcrum=warn");
    assert_eq!(
        with("info,html5ever=debug").log_filter(),
        "info,html5ever=debug"
    );
}

#[test]
fn defaults_are_embedded_and_local() {
    let c = Config::load_from(&Overrides::default(), &[]).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./fulcrum-data"));
    assert_eq!(c.database_kind(), "sqlite");
    assert!(!c.cookies_secure());
}

#[test]
fn layers_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fulcrum.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\nmax_keys_per_user = 5\n",
    )
    .unwrap();
    let secret = dir.path().join("db");
    std::fs::write(&secret, "postgres://u@h/db\n").unwrap();
    let o = Overrides {
        config_file: Some(file),
        ..Default::default()
    };
    let c = Config::load_from(
        &o,
        &env(&[
            ("FULCRUM_MAX_KEYS_PER_USER", "7"),
            ("FULCRUM_DATABASE_URL_FILE", secret.to_str().unwrap()),
            ("FULCRUM_SECRET_KEY", "the-server-secret"),
            ("FULCRUM_METRICS_TOKEN", "the-metrics-token"),
            ("FULCRUM_BIN", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.max_keys_per_user, 7);
    assert_eq!(
        c.database_url.as_ref().map(Secret::expose),
        Some("postgres://u@h/db")
    );
    let shown = format!("{c:?}");
    for secret in ["u@h", "the-server-secret", "the-metrics-token"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("max_keys_per_user: 7"), "{shown}");
}

#[test]
fn mail_settings() {
    let c = Config::load_from(&Overrides::default(), &[]).unwrap();
    assert_eq!(c.mail.host, None);
    assert_eq!(c.mail.tls, SmtpTls::Starttls);
    assert_eq!(c.mail.port, 25);
    assert_eq!(c.mail.from, "Fulcrum <fulcrum@localhost>");
    assert_eq!(c.job_max_attempts, 8);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("smtp");
    std::fs::write(&secret, "hunter2\n").unwrap();
    let c = Config::load_from(
        &Overrides::default(),
        &env(&[
            ("FULCRUM_SMTP_HOST", "mail.example.com"),
            ("FULCRUM_SMTP_TLS", "tls"),
            ("FULCRUM_SMTP_USERNAME", "fulcrum"),
            ("FULCRUM_SMTP_PASSWORD_FILE", secret.to_str().unwrap()),
        ]),
    )
    .unwrap();
    assert_eq!(c.mail.port, 465);
    assert_eq!(c.mail.tls, SmtpTls::Tls);
    assert_eq!(
        c.mail.password.as_ref().map(|p| p.expose()),
        Some("hunter2")
    );
    assert!(!format!("{c:?}").contains("hunter2"));
    for (key, value) in [
        ("FULCRUM_SMTP_TLS", "ssl"),
        ("FULCRUM_MAIL_FROM", "not an address"),
        ("FULCRUM_SMTP_PORT", "70000"),
    ] {
        refused(
            key,
            value,
            &key.trim_start_matches("FULCRUM_").to_ascii_lowercase(),
        );
    }
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    refused("FULCRUM_LISTN", "x", "FULCRUM_LISTN");
    refused("FULCRUM_MAX_BODY_BYTES", "big", "FULCRUM_MAX_BODY_BYTES");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.toml");
    std::fs::write(&file, "lisen = \"x\"\n").unwrap();
    let o = Overrides {
        config_file: Some(file),
        ..Default::default()
    };
    let err = Config::load_from(&o, &[]).unwrap_err();
    assert!(err.to_string().contains("lisen"), "{err}");
    let err = Config::load_from(
        &Overrides {
            listen: Some("nope".into()),
            ..Default::default()
        },
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().contains("listen"), "{err}");
    refused("FULCRUM_PUBLIC_URL", "ftp://x", "public_url");
}

#[test]
fn links_keep_a_public_url_with_a_path() {
    for (public, expect) in [
        ("https://ml.example", "https://ml.example/settings"),
        ("https://ml.example/", "https://ml.example/settings"),
        (
            "https://ml.example/fulcrum",
            "https://ml.example/fulcrum/settings",
        ),
        (
            "https://ml.example/fulcrum/",
            "https://ml.example/fulcrum/settings",
        ),
    ] {
        let overrides = Overrides {
            public_url: Some(public.into()),
            ..Default::default()
        };
        let c = Config::load_from(&overrides, &[]).unwrap();
        assert_eq!(c.public_link(["settings"]).as_str(), expect, "{public}");
    }
}

#[test]
fn github_app_and_hosts() {
    let c = Config::load_from(&Overrides::default(), &[]).unwrap();
    assert_eq!(c.github.app(), None, "no app until both are set");
    assert_eq!(c.github.url.as_str(), "https://github.com/");
    assert_eq!(c.github.api_url.as_str(), "https://api.github.com/");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("gh");
    std::fs::write(&secret, "gh-secret\n").unwrap();
    let c = Config::load_from(
        &Overrides::default(),
        &env(&[
            ("FULCRUM_GITHUB_CLIENT_ID", "Iv1.abc"),
            (
                "FULCRUM_GITHUB_CLIENT_SECRET_FILE",
                secret.to_str().unwrap(),
            ),
            ("FULCRUM_GITHUB_URL", "https://git.example.com/"),
            ("FULCRUM_GITHUB_API_URL", "https://git.example.com/api/v3"),
        ]),
    )
    .unwrap();
    assert_eq!(c.github.app(), Some(("Iv1.abc", "gh-secret")));
    assert_eq!(
        c.github.api_url.as_str(),
        "https://git.example.com/api/v3/",
        "joins keep the path"
    );
    assert!(!format!("{c:?}").contains("gh-secret"));
    refused("FULCRUM_GITHUB_CLIENT_ID", "x", "github_client_secret");
    refused("FULCRUM_GITHUB_URL", "ftp://x", "github_url");
}
