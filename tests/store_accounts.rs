//! Store conformance: accounts (creation, uniqueness, look-ups, search, concurrency) and the rollbacks seen through the SQL side door.
//! Run against SQLite and a fresh PostgreSQL database (`tests/common/store.rs`).

#[macro_use]
mod common;

use common::store::*;

conformance! {
    store: [
        create_user_returns_the_stored_row,
        usernames_and_emails_are_unique_ignoring_case,
        lookups_by_username_or_email_ignore_case,
        search_matches_substrings_ranks_exact_matches_first_and_respects_limit,
        search_treats_like_wildcards_and_backslash_literally,
        list_users_is_ordered_by_id_and_count_users_counts_them,
        concurrent_creations_of_one_username_yield_exactly_one_user,
    ],
    with_sql: [
        username_taken_by_another_entity_is_a_conflict_and_rolls_back_the_user,
        conflicting_create_user_leaves_no_user_entity_or_audit_row,
    ],
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

async fn create_user_returns_the_stored_row(store: DynStore) {
    let before = fulcrum::now_ms();
    let alice = store
        .create_user(
            NewUser {
                username: "Alice".into(),
                email: "Alice@Example.com".into(),
                name: "Alice Liddell".into(),
                is_admin: true,
                account_type: AccountType::User,
                password_hash: Some("$argon2id$v=19$abc".into()),
            },
            event("user.create"),
        )
        .await
        .unwrap();
    assert!(alice.id > 0);
    // The spelling given is kept; only lookups ignore case.
    assert_eq!(alice.username, "Alice");
    assert_eq!(alice.email, "Alice@Example.com");
    assert_eq!(alice.name, "Alice Liddell");
    assert!(alice.is_admin);
    assert_eq!(alice.account_type, AccountType::User);
    assert_eq!(alice.password_hash.as_deref(), Some("$argon2id$v=19$abc"));
    assert_eq!(alice.flags, "{}");
    assert_eq!(alice.deleted_at, None);
    assert_recent(alice.created_at, before, "users.created_at");

    let bot = store
        .create_user(
            NewUser {
                username: "ci-bot".into(),
                email: "ci-bot@example.com".into(),
                name: String::new(),
                is_admin: false,
                account_type: AccountType::Service,
                password_hash: None,
            },
            event("user.create"),
        )
        .await
        .unwrap();
    assert!(bot.id > alice.id);
    assert_eq!(bot.account_type, AccountType::Service);
    assert_eq!(bot.password_hash, None);
    assert!(!bot.is_admin);

    // What create_user returned is exactly what the store reads back.
    assert_eq!(
        store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id(bot.id).await.unwrap(), Some(bot));
    assert_eq!(store.user_by_id(alice.id + 1000).await.unwrap(), None);
}

async fn usernames_and_emails_are_unique_ignoring_case(store: DynStore) {
    let alice = create(&store, "alice").await;

    // Same username in another case: a conflict on the username (the users index and the
    // personal entity both refuse it).
    assert_conflict(
        store
            .create_user(new_user("Alice", "other@example.com"), event("user.create"))
            .await,
        "username",
        "creating Alice after alice",
    );
    assert_conflict(
        store
            .create_user(new_user("ALICE", "third@example.com"), event("user.create"))
            .await,
        "username",
        "creating ALICE after alice",
    );
    // Same email in another case: a conflict on the email.
    assert_conflict(
        store
            .create_user(
                new_user("alice2", "ALICE@example.COM"),
                event("user.create"),
            )
            .await,
        "email",
        "reusing alice's email in upper case",
    );

    // Nothing of the refused attempts was kept.
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(store.list_users().await.unwrap(), vec![alice]);

    // The refused names stay free for what did not clash.
    let other = store
        .create_user(
            new_user("alice2", "other@example.com"),
            event("user.create"),
        )
        .await
        .unwrap();
    assert_eq!(other.username, "alice2");
    assert_eq!(store.count_users().await.unwrap(), 2);
}

async fn lookups_by_username_or_email_ignore_case(store: DynStore) {
    let carol = store
        .create_user(
            new_user("Carol", "Carol.K@Example.org"),
            event("user.create"),
        )
        .await
        .unwrap();
    let dave = create(&store, "dave").await;

    for spelling in ["Carol", "carol", "CAROL", "cArOl"] {
        assert_eq!(
            store.user_by_username(spelling).await.unwrap().as_ref(),
            Some(&carol),
            "user_by_username({spelling})"
        );
    }
    // user_by_username does not match emails.
    assert_eq!(
        store.user_by_username("carol.k@example.org").await.unwrap(),
        None
    );
    assert_eq!(store.user_by_username("caro").await.unwrap(), None);

    for login in [
        "carol",
        "CAROL",
        "carol.k@example.org",
        "CAROL.K@EXAMPLE.ORG",
        "Carol.K@Example.org",
    ] {
        assert_eq!(
            store
                .user_by_username_or_email(login)
                .await
                .unwrap()
                .as_ref(),
            Some(&carol),
            "user_by_username_or_email({login})"
        );
    }
    assert_eq!(
        store
            .user_by_username_or_email("DAVE@example.com")
            .await
            .unwrap(),
        Some(dave.clone())
    );
    assert_eq!(
        store.user_by_username_or_email("Dave").await.unwrap(),
        Some(dave)
    );
    assert_eq!(
        store.user_by_username_or_email("nobody").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .user_by_username_or_email("carol@example.org")
            .await
            .unwrap(),
        None
    );
}

async fn search_matches_substrings_ranks_exact_matches_first_and_respects_limit(store: DynStore) {
    for (username, email) in [
        ("azed", "azed@example.com"),
        ("bzed", "b@zed.example"),
        ("Zed", "zed@example.com"),
        ("carl", "carl@example.com"),
        ("dana", "zed"),
    ] {
        store
            .create_user(new_user(username, email), event("user.create"))
            .await
            .unwrap();
    }

    // Substring of username or email, case-insensitive; exact (username or email) matches
    // first, then by username.
    let found = store
        .search_users("zed", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["dana", "Zed", "azed", "bzed"]);
    let found = store
        .search_users("ZED", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["dana", "Zed", "azed", "bzed"]);

    // The limit cuts after ranking.
    let found = store
        .search_users("zed", EmailMatch::Substring, 2)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["dana", "Zed"]);
    let found = store
        .search_users("zed", EmailMatch::Substring, 1)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["dana"]);

    // Matching on the email only.
    let found = store
        .search_users("@zed.ex", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["bzed"]);
    // An exact username outranks names that merely contain it.
    let found = store
        .search_users("CARL", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["carl"]);
    let found = store
        .search_users("example", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["azed", "bzed", "carl", "Zed"]);

    // Full rows come back, not just names.
    let zed = store.user_by_username("zed").await.unwrap().unwrap();
    let azed = store.user_by_username("azed").await.unwrap().unwrap();
    assert_eq!(
        store
            .search_users("zed@example.com", EmailMatch::Substring, 10)
            .await
            .unwrap(),
        vec![zed, azed]
    );

    assert!(store
        .search_users("nothing-like-this", EmailMatch::Substring, 10)
        .await
        .unwrap()
        .is_empty());

    // For people who may not read addresses: usernames by substring, emails only whole, so
    // nobody can rebuild an address letter by letter.
    let exact = |q: &'static str| {
        let store = store.clone();
        async move {
            let found = store.search_users(q, EmailMatch::Exact, 10).await.unwrap();
            found.into_iter().map(|u| u.username).collect::<Vec<_>>()
        }
    };
    assert!(exact("@zed.ex").await.is_empty());
    assert!(exact("example").await.is_empty());
    // dana's address is exactly "zed"; Zed's name is; the others contain it.
    assert_eq!(exact("zed").await, ["dana", "Zed", "azed", "bzed"]);
    assert_eq!(exact("ZED@example.com").await, ["Zed"]);
}

async fn search_treats_like_wildcards_and_backslash_literally(store: DynStore) {
    for (username, email) in [
        ("under_score", "u1@example.com"),
        ("underXscore", "u2@example.com"),
        ("hundred", "100%real@example.com"),
        ("hundredx", "100xreal@example.com"),
        ("back", "back\\slash@example.com"),
        ("backx", "backxslash@example.com"),
    ] {
        store
            .create_user(new_user(username, email), event("user.create"))
            .await
            .unwrap();
    }

    // `_` is a literal underscore, not "any one character".
    let found = store
        .search_users("r_s", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["under_score"]);
    let found = store
        .search_users("_", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["under_score"]);
    // `%` is a literal percent sign, not "anything".
    let found = store
        .search_users("0%r", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["hundred"]);
    let found = store
        .search_users("%", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["hundred"]);
    // A backslash is a literal backslash, not an escape.
    let found = store
        .search_users("k\\s", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["back"]);
    let found = store
        .search_users("\\", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert_eq!(usernames(&found), ["back"]);
    let found = store
        .search_users("\\_", EmailMatch::Substring, 10)
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");
}

async fn list_users_is_ordered_by_id_and_count_users_counts_them(store: DynStore) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(store.list_users().await.unwrap().is_empty());

    // Names in reverse alphabetical order, so an order by name would show.
    let mut created = Vec::new();
    for (n, name) in ["zoe", "yann", "xia", "walt"].iter().enumerate() {
        created.push(create(&store, name).await);
        assert_eq!(store.count_users().await.unwrap(), n as i64 + 1);
    }
    let listed = store.list_users().await.unwrap();
    assert_eq!(listed, created);
    assert!(listed.windows(2).all(|w| w[0].id < w[1].id), "{listed:?}");
}

async fn concurrent_creations_of_one_username_yield_exactly_one_user(store: DynStore) {
    const TASKS: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let (store, barrier) = (store.clone(), barrier.clone());
            // Every task spells the name differently and uses its own email.
            let username = if n % 2 == 0 { "Racer" } else { "racer" };
            let email = format!("racer{n}@example.com");
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .create_user(new_user(username, &email), event("user.create"))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict("username")) => {}
            Err(e) => panic!("unexpected error from a racing create_user: {e:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(
        all_audit(&store).await.len(),
        1,
        "one audit row for the one user"
    );
}

// ---------------------------------------------------------------------------------------
// Areas that need the SQL side door
// ---------------------------------------------------------------------------------------

/// The personal entity shares a namespace with teams: a username whose lower-case form is
/// an existing entity name is a conflict even though no user has it, and the user row that
/// was already inserted in that transaction is rolled back with the audit row.
async fn username_taken_by_another_entity_is_a_conflict_and_rolls_back_the_user(
    store: DynStore,
    sql: RawSql,
) {
    let member = create(&store, "member").await;
    sql.execute("INSERT INTO entities (name, name_lower, kind, user_id, created_at) VALUES ('Acme', 'acme', 'team', NULL, 0)")
        .await;
    let audit_before = all_audit(&store).await;

    assert_conflict(
        store
            .create_user(
                new_user("ACME", "founder@acme.example"),
                event("user.create"),
            )
            .await,
        "username",
        "username equal (ignoring case) to a team name",
    );
    assert_eq!(store.list_users().await.unwrap(), vec![member]);
    assert_eq!(store.user_by_username("acme").await.unwrap(), None);
    assert_eq!(
        store
            .user_by_username_or_email("founder@acme.example")
            .await
            .unwrap(),
        None
    );
    assert_eq!(all_audit(&store).await, audit_before);
    assert_eq!(sql.count("users").await, 1);
    assert_eq!(sql.count("entities").await, 2);

    // The email was not left reserved by the rolled-back row.
    let founder = store
        .create_user(
            new_user("acme-founder", "founder@acme.example"),
            event("user.create"),
        )
        .await
        .unwrap();
    assert_eq!(founder.email, "founder@acme.example");
}

async fn conflicting_create_user_leaves_no_user_entity_or_audit_row(store: DynStore, sql: RawSql) {
    let hana = create(&store, "hana").await;
    let counts = (
        sql.count("users").await,
        sql.count("entities").await,
        sql.count("audit_log").await,
    );
    assert_eq!(
        counts,
        (1, 1, 1),
        "one user, its personal entity and its audit row"
    );
    let entity = sql
        .pairs(
            "SELECT user_id, CAST(LENGTH(name_lower) AS BIGINT) FROM entities WHERE kind = 'user'",
        )
        .await;
    assert_eq!(
        entity,
        vec![(hana.id, 4)],
        "the personal entity belongs to the user"
    );

    assert_conflict(
        store
            .create_user(new_user("Hana", "hana2@example.com"), event("user.create"))
            .await,
        "username",
        "Hana after hana",
    );
    assert_conflict(
        store
            .create_user(new_user("hana2", "HANA@example.com"), event("user.create"))
            .await,
        "email",
        "hana's email in upper case",
    );
    let after = (
        sql.count("users").await,
        sql.count("entities").await,
        sql.count("audit_log").await,
    );
    assert_eq!(
        after, counts,
        "refused creations leave no user, entity or audit row"
    );
}
