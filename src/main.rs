//! The `fulcrum` binary: `serve`, `migrate` and `admin` subcommands.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fulcrum::config::{Config, Overrides};
use fulcrum::{admin, app};

#[derive(Parser)]
#[command(
    name = "fulcrum",
    version,
    about = "Self-hosted account and settings server that speaks the Weights & Biases API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives; shared by every subcommand.
#[derive(Args, Clone, Default)]
struct StoreArgs {
    /// Configuration file (default: ./fulcrum.toml when it exists).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Directory for the SQLite database, blobs and the server secret [default: ./fulcrum-data].
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// postgres://… to use PostgreSQL instead of the embedded SQLite (or FULCRUM_DATABASE_URL).
    #[arg(long, value_name = "URL", global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// The URL people and SDKs use to reach this server [default: http://<listen>].
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Do not migrate PostgreSQL at start (run `fulcrum migrate` separately).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Operator commands for accounts and keys (machine-readable output).
    Admin {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user; the password is read from stdin. Prints the user as a JSON line.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Make the user a site admin.
        #[arg(long)]
        admin: bool,
    },
    /// Create an API key for a user. Prints only the key.
    CreateKey {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// Days until the key stops working [default: never].
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<i64>,
    },
    /// Import an existing key (read from stdin), e.g. a legacy 40-hex or local-… key.
    ImportKey {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
    },
    /// List users as JSON lines.
    ListUsers,
    /// Set a user's password (read from stdin) and end their sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
    /// Restore an account its owner deleted, before its data is purged (keys and sessions
    /// stay revoked; the person signs in with their password).
    RestoreUser {
        #[arg(long)]
        username: String,
    },
    /// Mark a user's email address as verified.
    VerifyEmail {
        #[arg(long)]
        username: String,
    },
    /// Back up a SQLite server while it serves: the database (one consistent snapshot), the
    /// blobs and the server secret, into a new or empty folder. Prints the manifest.
    Backup {
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Restore a backup into the data directory. The server must be stopped; existing data
    /// is refused unless --replace, which moves it into replaced-<time>/ (never deletes it).
    Restore {
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        #[arg(long)]
        replace: bool,
    },
    /// Show or change a server setting: allow_key_minting_with_key, or beta.<feature> (dark_mode, code_saving, structured_console_logs) to offer or withdraw a beta feature.
    Setting { name: String, value: Option<String> },
}

fn overrides(store: &StoreArgs) -> Overrides {
    Overrides {
        config_file: store.config.clone(),
        data_dir: store.data_dir.clone(),
        database_url: store.database_url.clone(),
        ..Default::default()
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(config.log_filter())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let migrate = !config.no_migrate;
    // One server per SQLite data directory; `admin restore` checks the same lock.
    let _lock = match config.is_postgres() {
        false => Some(fulcrum::backup::lock_data_dir(&config.data_dir)?),
        true => None,
    };
    let services = app::services(config, migrate).await?;
    let setup_link = services
        .issue_setup_link()
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let server = app::RunningServer::start(services.clone()).await?;
    let config = &services.config;
    tracing::info!(
        addr = %server.addr,
        store = config.database_kind(),
        startup_ms = started.elapsed().as_millis() as u64,
        "fulcrum is listening"
    );
    if !config.cookies_secure() {
        tracing::warn!("public_url is not https: session cookies are sent without the Secure flag");
    }
    println!(
        "Fulcrum is listening on http://{} (public URL {})",
        server.addr, config.public_url
    );
    if let Some(link) = setup_link {
        println!("No accounts yet. Create the first admin with this one-time link (valid 24 hours):\n  {link}");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            store,
            listen,
            public_url,
            no_migrate,
        } => {
            let config = Config::load(&Overrides {
                listen,
                public_url,
                no_migrate,
                ..overrides(&store)
            })?;
            init_logging(&config);
            serve(config).await
        }
        Command::Migrate { store } => {
            let config = Config::load(&overrides(&store))?;
            init_logging(&config);
            app::services(config, true).await?;
            println!("{}", serde_json::json!({ "migrated": true }));
            Ok(())
        }
        Command::Admin { store, command } => {
            let config = Config::load(&overrides(&store))?;
            init_logging(&Config {
                log_level: "warn".into(),
                ..config.clone()
            });
            if let AdminCommand::Restore { from, replace } = &command {
                println!("{}", admin::restore(&config, from, *replace)?);
                return Ok(());
            }
            let services = app::services(config, true).await?;
            let out = match command {
                AdminCommand::CreateUser {
                    username,
                    email,
                    name,
                    admin: is_admin,
                } => admin::create_user(&services, &username, &email, &name, is_admin).await?,
                AdminCommand::CreateKey {
                    username,
                    name,
                    expires_in_days,
                } => admin::create_key(&services, &username, &name, expires_in_days).await?,
                AdminCommand::ImportKey { username, name } => {
                    admin::import_key(&services, &username, &name).await?
                }
                AdminCommand::ListUsers => admin::list_users(&services).await?,
                AdminCommand::VerifyEmail { username } => {
                    admin::verify_email(&services, &username).await?
                }
                AdminCommand::RestoreUser { username } => {
                    admin::restore_user(&services, &username).await?
                }
                AdminCommand::ResetPassword { username } => {
                    admin::reset_password(&services, &username).await?
                }
                AdminCommand::Backup { to } => admin::backup(&services, &to).await?,
                AdminCommand::Restore { .. } => String::new(),
                AdminCommand::Setting { name, value } => {
                    admin::setting(&services, &name, value.as_deref()).await?
                }
            };
            if !out.is_empty() {
                println!("{out}");
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fulcrum: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fulcrum: {e:#}");
            ExitCode::FAILURE
        }
    }
}
