//! Operators at scale in the real window (B-1…B-3), demo mode: a bulk
//! Connect of 50 agents with some in a cooldown and its one summary; the
//! scan queue through 5 agents with simulated scans; the audit log after
//! those actions, exported through the system's save dialog (typed into by
//! `xdotool`, which `scripts/test.sh` installs). Screenshots go to `test-output/e2e/` (`30-…`).

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;
use switchboard_engine::lifecycle::Rule;
use switchboard_tests::webdriver::{PATIENCE, invoke, start_driver};

use crate::e2e::{ONE_WINDOW_AT_A_TIME, Shots, click, open_app, text, wait_attr, wait_count, wait_row_status};

/// Adds agents named "<prefix> 01"… through the window's IPC; returns their ids.
async fn add_agents(client: &Client, prefix: &str, n: usize) -> Vec<i64> {
    let ids = client
        .execute_async(
            "const [prefix, n, done] = arguments; const call = window.__TAURI_INTERNALS__.invoke; (async () => { \
               const ids = []; \
               for (let i = 0; i < n; i++) ids.push((await call('add_agent', { name: `${prefix} ${String(i + 1).padStart(2, '0')}` })).id); \
               return ids; \
             })().then(done, (e) => done(String(e)));",
            vec![json!(prefix), json!(n)],
        )
        .await
        .unwrap();
    serde_json::from_value(ids).expect("ids")
}

/// Clicks the button whose text is `label` inside `within` (a CSS selector).
async fn click_labelled(client: &Client, within: &str, label: &str) {
    let found = client
        .execute(
            "const [within, label] = arguments; \
             const b = [...document.querySelectorAll(`${within} button`)].find((b) => b.textContent === label && !b.disabled); \
             if (b) b.click(); return b !== undefined;",
            vec![json!(within), json!(label)],
        )
        .await
        .unwrap();
    assert_eq!(found, json!(true), "no enabled button “{label}” in {within}");
}

/// Types `text` into the search field, as a person filters the list.
async fn search(client: &Client, text: &str) {
    let field = client.find(Locator::Css("input.search")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// B-1, B-2, B-3 in the window. Its parts share one window: each builds on
/// the last, as a lead's morning would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_b1_b2_b3_bulk_connect_the_scan_queue_and_the_audit_log() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    let driver = start_driver().await;
    let data = tempfile::tempdir().unwrap();
    let shots = Shots::new();
    let client = open_app(&driver, data.path()).await;
    // The pairing restart then takes 0.1 s, not 2 s: five scans in a few seconds.
    invoke(&client, "update_settings", json!({ "changes": [{ "key": "backoff_base_ms", "value": 100 }] })).await;

    // Fifty agents; five are linked, then logged out by WhatsApp (401): their auth cooldown runs.
    let ids = add_agents(&client, "Desk", 50).await;
    let cooling = &ids[10..15];
    for &id in cooling {
        invoke(&client, "connect_agent", json!({ "id": id })).await;
        wait_row_status(&client, id, "qr_pending").await;
        invoke(&client, "simulate", json!({ "id": id, "action": { "action": "scan" } })).await;
        wait_row_status(&client, id, "connected").await;
        invoke(&client, "simulate", json!({ "id": id, "action": { "action": "drop", "code": 401 } })).await;
        wait_row_status(&client, id, "conflict").await;
    }

    // B-1: select every agent the search shows, Connect: one summary.
    search(&client, "Desk").await;
    click(&client, ".selection-bar button.select-all").await;
    assert_eq!(text(&client, ".selection-count").await, "50 agents selected");
    click(&client, ".selection-bar button.bulk-connect").await;
    let summary = wait_attr(&client, ".bulk-summary", "class", |_| true).await;
    assert!(summary.contains("bulk-summary"));
    let said = text(&client, ".bulk-summary .text").await;
    assert!(said.contains("Connect on 50 agents: 45 connecting"), "{said}");
    assert!(said.contains("5 blocked by a cooldown"), "{said}");
    shots.take(&client, "30-bulk-connect-summary").await;
    // The summary's group shows exactly the five in a cooldown.
    click(&client, ".bulk-summary button.show[data-kind=\"cooldown\"]").await;
    wait_count(&client, "Number(document.querySelector('ul.rows').dataset.shown)", 5).await;
    shots.take(&client, "31-bulk-summary-show-them").await;
    click(&client, ".bulk-summary button.show[data-kind=\"cooldown\"]").await;
    // the 45 start in turn, at most 20 a second; all show their QR within seconds.
    for &id in ids.iter().filter(|id| !cooling.contains(id)) {
        wait_row_status(&client, id, "qr_pending").await;
    }
    // Disconnect them again on the selection, so five phones can be linked next.
    click(&client, ".selection-bar button.bulk-disconnect").await;
    wait_count(&client, "document.querySelectorAll('.bulk-summary').length", 2).await;
    click_labelled(&client, ".selection-bar", "Clear selection").await;

    // B-2: pick five agents, and walk through them in the scan queue.
    search(&client, "Desk 2").await;
    wait_count(&client, "Number(document.querySelector('ul.rows').dataset.shown)", 10).await;
    for n in 0..5 {
        client
            .execute("document.querySelectorAll('li.row input.pick')[arguments[0]].click();", vec![json!(n)])
            .await
            .unwrap();
    }
    assert_eq!(text(&client, ".selection-count").await, "5 agents selected");
    // Every box clicked shows its tick, the last one too.
    wait_count(&client, "document.querySelectorAll('li.row input.pick:checked').length", 5).await;
    click(&client, ".selection-bar button.scan-queue-button").await;
    for linked in 0..5 {
        wait_attr(&client, ".scan-queue .queue-progress", "class", |_| true).await;
        let progress = text(&client, ".scan-queue .queue-progress").await;
        assert_eq!(progress, format!("{linked} of 5 linked"));
        // A QR a phone could scan: large, and it decodes.
        let png = wait_attr(&client, ".scan-queue img.queue-qr:not([hidden])", "src", |src| {
            src.starts_with("data:image/png")
        })
        .await;
        assert!(crate::e2e::decode_qr(&png).starts_with("sim-qr-"), "the simulated QR's text");
        if linked == 0 {
            shots.take(&client, "32-scan-queue").await;
        }
        click_labelled(&client, ".scan-queue", "Simulate scan").await;
        let next = format!("{} of 5 linked", linked + 1);
        wait_until_text(&client, ".scan-queue .queue-progress", &next).await;
    }
    assert!(text(&client, ".scan-queue .queue-name").await.contains("Every agent is linked"));
    shots.take(&client, "33-scan-queue-done").await;
    click_labelled(&client, ".scan-queue", "Close").await;
    wait_count(&client, "document.querySelectorAll('.scan-queue').length", 0).await;
    wait_count(&client, "document.querySelectorAll('li.row[data-status=\"connected\"]').length", 5).await;

    // B-3: the audit log shows those actions, newest first, and filters them.
    click(&client, "button.audit-button").await;
    wait_attr(&client, ".modal.audit tbody tr", "data-action", |_| true).await;
    let actions: Vec<String> = serde_json::from_value(
        client
            .execute(
                "return [...document.querySelectorAll('.modal.audit tbody tr')].map((r) => r.dataset.action);",
                vec![],
            )
            .await
            .unwrap(),
    )
    .unwrap();
    for expected in ["bulk_connect", "bulk_disconnect", "simulate", "settings", "add", "connect"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} in {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| *a == "add").count(), 50);
    assert_eq!(actions[0], "simulate", "newest first: the last scan came last");
    shots.take(&client, "34-audit-log").await;
    client
        .execute(
            "const s = document.querySelector('.modal.audit select.audit-action'); s.value = 'bulk_connect'; \
             s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    wait_count(&client, "document.querySelectorAll('.modal.audit tbody tr').length", 1).await;
    let row = text(&client, ".modal.audit tbody tr").await;
    assert!(row.contains("45 connecting, 5 blocked by a cooldown"), "{row}");
    shots.take(&client, "35-audit-log-filtered").await;
    // Export: the system's save dialog opens (a GTK window beside the web view); a
    // person types where to save and presses Enter, here through xdotool.
    let export = tempfile::tempdir().unwrap();
    let target = export.path().join("audit-export.csv");
    click(&client, ".modal.audit button.audit-export").await;
    save_in_dialog(&target).await;
    let csv = wait_for_file(&target).await;
    assert!(csv.starts_with("\u{feff}time,user,action,agents,outcome,detail\r\n"), "{}", &csv[..80.min(csv.len())]);
    assert!(csv.contains(",bulk_connect,"), "the filtered entries were exported");
    wait_until_text(&client, ".toast", &format!("Saved 1 entry to {}", target.display())).await;
    shots.take(&client, "36-audit-exported").await;
    // Each bulk start was decided by A-2 (a clean state) or refused by A-3 (the auth cooldown).
    let history = invoke(&client, "agent_history", json!({ "id": cooling[0], "limit": 20 })).await;
    assert!(history.as_array().unwrap().iter().any(|e| e["rule"] == Rule::A3.id()), "{history}");
    client.close().await.unwrap();
}

/// Waits until the element's text is `expected`.
async fn wait_until_text(client: &Client, css: &str, expected: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if text(client, css).await == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never said “{expected}”; it says “{}”",
            text(client, css).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `path` into the system's save dialog and presses Enter, as a person
/// would: the dialog is a GTK window of the app's own, found by its title.
async fn save_in_dialog(path: &std::path::Path) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let window = loop {
        let found =
            std::process::Command::new("xdotool").args(["search", "--name", "^Save"]).output().expect("xdotool runs");
        if let Some(id) = String::from_utf8_lossy(&found.stdout).lines().next_back() {
            break id.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "the save dialog never opened");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Under Xvfb there is no window manager to give it focus: xdotool does.
    let xdotool = |args: &[&str]| {
        let status = std::process::Command::new("xdotool").args(args).status().expect("xdotool runs");
        assert!(status.success(), "xdotool {args:?}");
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    xdotool(&["windowfocus", "--sync", &window]);
    // The name field has focus: replace the suggested name with the whole path.
    xdotool(&["key", "--clearmodifiers", "ctrl+a"]);
    xdotool(&["type", "--delay", "20", &path.display().to_string()]);
    xdotool(&["key", "Return"]);
}

/// The file's text once it exists.
async fn wait_for_file(path: &std::path::Path) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{} was never written", path.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
