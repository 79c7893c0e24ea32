//! Jobs run within moments of their enqueue, not at the next poll (the poll here is a
//! minute): in one process the service wakes its worker; on PostgreSQL another instance's
//! enqueue wakes it through `LISTEN/NOTIFY`. Mail goes to the in-memory transport.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{console, Backend};
use fulcrum::app::RunningServer;
use fulcrum::notify::mail::MemoryTransport;
use fulcrum::services::{Actor, Services};

const SLOW_POLL: &[(&str, &str)] = &[("FULCRUM_JOB_POLL_MS", "60000")];

async fn person(s: &Services, name: &str) -> Actor {
    let account = fulcrum::services::accounts::NewAccount {
        username: name.into(),
        email: format!("{name}@example.com"),
        name: name.into(),
        admin: false,
        password: None,
    };
    let user = s.create_user(&console(), account).await.unwrap();
    Actor {
        user,
        auth: fulcrum::services::AuthMethod::Console,
        on_behalf_of: None,
        request: Default::default(),
    }
}

/// Invites `guest` to a new team of `owner`'s.
async fn invite(s: &Services, owner: &Actor) {
    s.create_team(owner, "lab", None, "").await.unwrap();
    s.invite(owner, "lab", "guest", "member").await.unwrap();
}

async fn first_mail(outbox: &MemoryTransport, within: Duration) -> Duration {
    let started = Instant::now();
    while outbox.sent().is_empty() {
        assert!(started.elapsed() < within, "no mail after {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_wakes_when_its_own_process_enqueues() {
    let backend = Backend::sqlite().await;
    let outbox = MemoryTransport::new();
    let services = common::services(&backend, SLOW_POLL).await;
    let server = RunningServer::start_with_mail(services.clone(), Some(outbox.clone()))
        .await
        .unwrap();
    let owner = person(&services, "owner").await;
    person(&services, "guest").await;
    // Let the worker's first look at the queue pass, so only a wake can find the job.
    tokio::time::sleep(Duration::from_millis(300)).await;
    invite(&services, &owner).await;
    let took = first_mail(&outbox, Duration::from_secs(5)).await;
    let mail = &outbox.sent()[0];
    assert_eq!(mail.to, ["guest@example.com"]);
    assert!(mail.subject.contains("lab"), "{}", mail.subject);
    // The mailed link works: its token is derived when the mail is sent.
    let flat = mail.raw.replace("=\r\n", "").replace("=3D", "=");
    let at = flat.find("/invites#token=").expect("an accept link");
    let token: String = flat[at + 15..].chars().take(43).collect();
    let guest = person_actor(&services, "guest").await;
    services
        .answer_invite(&guest, None, Some(&token), true)
        .await
        .unwrap();
    println!("mail delivered {took:?} after the enqueue");
    server.shutdown().await.unwrap();
}

async fn person_actor(s: &Services, name: &str) -> Actor {
    Actor {
        user: s.store.user_by_username(name).await.unwrap().unwrap(),
        auth: fulcrum::services::AuthMethod::Console,
        on_behalf_of: None,
        request: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_wakes_the_worker_through_postgres() {
    let backend = Backend::postgres().await;
    let outbox = MemoryTransport::new();
    // Instance B runs the worker; instance A (services only, no worker) enqueues.
    let b = common::services(&backend, SLOW_POLL).await;
    let server = RunningServer::start_with_mail(b, Some(outbox.clone()))
        .await
        .unwrap();
    let a: Arc<Services> = common::services(&backend, SLOW_POLL).await;
    let owner = person(&a, "owner").await;
    person(&a, "guest").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    invite(&a, &owner).await;
    let took = first_mail(&outbox, Duration::from_secs(5)).await;
    assert_eq!(outbox.sent()[0].to, ["guest@example.com"]);
    println!("mail delivered by the other instance {took:?} after the enqueue");
    server.shutdown().await.unwrap();
}
