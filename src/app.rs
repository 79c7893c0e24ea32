//! Assembling and running a server: data directory, store, services, HTTP and the
//! background tasks, with a graceful shutdown that flushes pending `last used` writes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::{router, AppState};
use crate::services::Services;

/// Prepares the data directory (0700) and the server secret (0600) on first start.
pub fn prepare_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    restrict(dir, 0o700)?;
    if config.secret_key.is_none() {
        ensure_secret_file(&dir.join("secret.key"))?;
    }
    Ok(())
}

fn ensure_secret_file(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return restrict(path, 0o600);
    }
    let secret = crate::keys::random_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut file, secret.as_bytes())?;
    Ok(())
}

pub(crate) fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set permissions on {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Opens the store and builds the services for a configuration.
pub async fn services(config: Config, migrate: bool) -> anyhow::Result<Arc<Services>> {
    prepare_data_dir(&config)?;
    // One backend, two views of it: the store the services use and the job queue.
    let (store, jobs) = crate::store::open(&config, migrate).await?;
    Services::new(store, jobs, Arc::new(config))
}

pub struct RunningServer {
    pub addr: SocketAddr,
    pub services: Arc<Services>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    flusher: JoinHandle<()>,
    worker: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    notifications: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Binds the listener and starts serving in the background.
    pub async fn start(services: Arc<Services>) -> anyhow::Result<Self> {
        Self::start_with_mail(services, None).await
    }

    /// As `start`, with mail going through `mail` instead of the configured transport (an
    /// in-memory one in tests).
    pub async fn start_with_mail(
        services: Arc<Services>,
        mail: Option<crate::notify::mail::DynMailTransport>,
    ) -> anyhow::Result<Self> {
        let config = services.config.clone();
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let schema = crate::graphql::build_schema(&config);
        let app = router(AppState {
            services: services.clone(),
            schema,
        });
        let (shutdown, rx) = watch::channel(false);
        let flusher = tokio::spawn(services.usage.clone().run(
            services.store.clone(),
            Duration::from_millis(config.last_used_flush_ms),
            rx.clone(),
        ));
        let transport = match mail {
            Some(t) => t,
            None => crate::notify::mail::from_config(&config.mail)?,
        };
        let registry = crate::jobs::registry(
            &config,
            transport,
            services.clone(),
            services.clone(),
            services.clone(),
        )?;
        let worker = crate::jobs::worker::Worker::new(
            services.jobs.clone(),
            &config,
            registry,
            services.job_wake.clone(),
        )
        .spawn(rx.clone());
        let listener_task = config.is_postgres().then(|| {
            crate::jobs::wake::listen_postgres(
                config
                    .database_url
                    .as_ref()
                    .map(|u| u.expose().to_string())
                    .unwrap_or_default(),
                services.job_wake.clone(),
                services.store.cache_epoch(),
                rx.clone(),
            )
        });
        let sweeper = tokio::spawn(sweep_silent_runs(services.clone(), rx.clone()));
        let server_rx = rx;
        let options = crate::http::serve::ServeOptions {
            max_connections: config.max_connections,
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
        };
        let server = tokio::spawn(async move {
            crate::http::serve::serve(listener, app, options, server_rx).await
        });
        Ok(Self {
            addr,
            services,
            shutdown,
            server,
            flusher,
            worker,
            sweeper,
            notifications: listener_task,
        })
    }

    /// Stops accepting, lets requests in flight finish, then flushes pending writes; the job
    /// worker finishes the jobs in hand and stops.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let served = self.server.await.context("server task failed")?;
        self.flusher.await.context("flusher task failed")?;
        self.worker.await.context("job worker task failed")?;
        self.sweeper.await.context("run sweeper task failed")?;
        if let Some(task) = self.notifications {
            task.await.context("job notification task failed")?;
        }
        served.context("server failed")?;
        Ok(())
    }
}

/// Marks runs crashed (or preempted) when they go silent, forgets ended rate-limit windows
/// and prunes old finished jobs. Every instance sweeps; the store makes each transition
/// happen once.
async fn sweep_silent_runs(services: Arc<Services>, mut stop: watch::Receiver<bool>) {
    let every = services.config.runs.sweep_interval();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        match services.sweep_silent_runs().await {
            Ok(made) if !made.is_empty() => {
                tracing::info!(runs = made.len(), "silent runs marked crashed or preempted");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the run sweeper could not run"),
        }
        if let Err(e) = services.prune_rate_limits().await {
            tracing::warn!(error = %e, "ended rate-limit windows could not be pruned");
        }
        match services.prune_done_jobs().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "finished jobs past their retention pruned"),
            Err(e) => tracing::warn!(error = %e, "finished jobs could not be pruned"),
        }
    }
}
