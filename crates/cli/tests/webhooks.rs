//! `promptops webhook` end to end on a real `promptops serve` (SQLite): add prints the
//! secret once, list never shows it, test waits for the outcome, a push is delivered
//! signed to a receiver the test runs, deliveries lists the attempts, remove stops it.

mod support;

use support::receiver::{receiver, wait_for};
use support::{ADMIN_PASSWORD, As, project, serve};
use tempfile::TempDir;

#[test]
fn webhook_add_list_test_deliveries_remove() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    // The receiver is on 127.0.0.1: the server must be told private addresses are fine.
    let toml = repo.join("promptops.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("\n[server]\nwebhook_allow_private = true\nwebhook_retry_ms = [50, 50]\nfeed_poll_ms = 50\n");
    std::fs::write(&toml, text).unwrap();
    let server = serve(&repo, &[]);
    let admin = As::login(&repo, &server.url, "admin", ADMIN_PASSWORD);
    admin.ok(&["push"]);
    let (url, got) = receiver();

    let o = admin.run(&[
        "webhook",
        "add",
        &url,
        "--event",
        "version.published",
        "--description",
        "ci",
    ]);
    assert!(o.status.success(), "{}", support::text(&o));
    let secret = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("shown this once"), "{said}");

    let list = admin.json(&["webhook", "list"]);
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["url"], url.as_str());
    assert_eq!(list[0]["events"], serde_json::json!(["version.published"]));
    let listed = admin.ok(&["webhook", "list"]);
    assert!(
        listed.contains(&id) && !listed.contains("whsec_"),
        "{listed}"
    );

    // A test delivery: the command waits for it and says how it went.
    let out = admin.ok(&["webhook", "test", &id]);
    assert!(
        out.contains("delivered") && out.contains("webhook.test") && out.contains("HTTP 200"),
        "{out}"
    );
    wait_for(&got, 1);

    // A push is delivered, signed with the secret printed once.
    admin.push_answer_version("1.1.0", "Answer", "Reply");
    wait_for(&got, 2);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (headers, body) in got.lock().unwrap().iter() {
        let h = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        promptops_api::webhooks::verify_signature(
            &secret,
            &h("promptops-signature"),
            body.as_bytes(),
            now,
            300,
        )
        .unwrap();
        assert!(h("promptops-delivery").starts_with("dlv_"));
    }
    let (headers, body) = got.lock().unwrap()[1].clone();
    assert!(headers.contains(&("promptops-event".into(), "version.published".into())));
    let event: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["data"]["version"], "1.1.0");
    assert_eq!(event["project"], "demo");

    let log = admin.ok(&["webhook", "deliveries", &id]);
    assert!(
        log.contains("version.published") && log.contains("(test)"),
        "{log}"
    );
    assert_eq!(log.matches("delivered").count(), 2, "{log}");

    let out = admin.ok(&["webhook", "remove", &id]);
    assert!(out.contains("removed"), "{out}");
    assert!(admin.ok(&["webhook", "list"]).contains("no webhooks"));
    let refused = admin.refused(&["webhook", "add", "ftp://example.com/x"]);
    assert!(refused.contains("ftp:"), "{refused}");
    // The secret never reached the server's log.
    assert!(!server.log_text().contains(&secret[6..]));
}
