//! The window by keyboard alone, and an accessibility check of its views
//! (issue 14, item 4). Keys go to the focused element only: no click and no
//! IPC call drives the flow (one IPC call sets the scene for the checker).
//! axe-core, injected through WebDriver, checks each main view for
//! violations of impact "serious" or "critical". Screenshots: `20-…`, `21-…`.

use std::time::Duration;

use fantoccini::Client;
use fantoccini::key::Key;
use serde_json::json;
use switchboard_tests::webdriver::{PATIENCE, invoke, start_driver};

use crate::e2e::{ONE_WINDOW_AT_A_TIME, Shots, open_app, text, wait_count, wait_row_status};

/// axe-core's script, from the UI's npm packages (`scripts/test.sh` installs it with the UI's packages).
fn axe_source() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!("axe-core is missing at {} ({err}): run `npm install` in ui/ (scripts/test.sh does)", path.display())
    })
}

/// Runs axe-core on the page as it is now and fails on any violation of
/// impact "serious" or "critical", naming each with its elements; lesser
/// ones are printed as a note.
pub(crate) async fn axe_check(client: &Client, view: &str) {
    let loaded = client.execute("return typeof window.axe === 'object';", vec![]).await.unwrap();
    if loaded != json!(true) {
        client.execute(&axe_source(), vec![]).await.expect("axe-core runs in the page");
    }
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, { resultTypes: ['violations'] }).then( \
               (r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, \
                 targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }))), \
               (e) => done({ error: String(e) }));",
            vec![],
        )
        .await
        .unwrap();
    assert!(result.get("error").is_none(), "axe-core failed on {view}: {result}");
    let violations = result.as_array().expect("a list of violations");
    let serious: Vec<_> = violations.iter().filter(|v| v["impact"] == "serious" || v["impact"] == "critical").collect();
    for minor in violations.iter().filter(|v| !serious.contains(v)) {
        eprintln!("axe note on {view}: {minor}");
    }
    assert!(serious.is_empty(), "accessibility violations on {view}:\n{}", {
        let lines: Vec<String> = serious.iter().map(ToString::to_string).collect();
        lines.join("\n")
    });
}

/// Presses one key on whatever has focus, as a person would.
async fn press(client: &Client, key: Key) {
    let focused = client.active_element().await.unwrap();
    focused.send_keys(&char::from(key).to_string()).await.unwrap();
}

/// Types text into whatever has focus.
async fn type_text(client: &Client, text: &str) {
    client.active_element().await.unwrap().send_keys(text).await.unwrap();
}

/// Whether the focused element matches `css`.
async fn focus_matches(client: &Client, css: &str) -> bool {
    let answer = client
        .execute(
            "return document.activeElement !== null && document.activeElement.matches(arguments[0]);",
            vec![json!(css)],
        )
        .await
        .unwrap();
    answer == json!(true)
}

/// Presses Tab (or Shift+Tab) until focus is on an element matching `css`,
/// at most 40 times, and checks that the focus is drawn there.
async fn tab_to(client: &Client, css: &str, backwards: bool) {
    for _ in 0..40 {
        if focus_matches(client, css).await {
            assert_focus_visible(client).await;
            return;
        }
        if backwards {
            let focused = client.active_element().await.unwrap();
            let keys = format!("{}{}", char::from(Key::Shift), char::from(Key::Tab));
            focused.send_keys(&keys).await.unwrap();
        } else {
            press(client, Key::Tab).await;
        }
    }
    let at = client.execute("return document.activeElement?.outerHTML.slice(0, 200);", vec![]).await.unwrap();
    panic!("Tab never reached {css}; focus is on {at}");
}

/// The focused element shows a focus ring (an outline that is not "none").
async fn assert_focus_visible(client: &Client) {
    let style = client
        .execute(
            "const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth, document.activeElement.tagName];",
            vec![],
        )
        .await
        .unwrap();
    assert!(style[0] != "none" && style[1] != "0px", "the focused element shows no focus: {style}");
}

/// Waits until `js` (an expression) is true.
async fn wait_true(client: &Client, js: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while client.execute(&format!("return Boolean({js});"), vec![]).await.unwrap() != json!(true) {
        assert!(tokio::time::Instant::now() < deadline, "never true: {js}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_keyboard_only_and_accessibility() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    let driver = start_driver().await;
    let data = tempfile::tempdir().unwrap();
    let shots = Shots::new();
    let client = open_app(&driver, data.path()).await;
    // The empty list.
    axe_check(&client, "the empty list").await;

    // Add an agent: Tab to "Add agent", Enter, type, Enter.
    tab_to(&client, "button.add", false).await;
    shots.take(&client, "20-keyboard-add-focused").await;
    press(&client, Key::Enter).await;
    wait_true(&client, "document.activeElement?.matches('.modal input.name-input')").await;
    axe_check(&client, "the add dialog").await;
    type_text(&client, "Keyboard desk").await;
    press(&client, Key::Enter).await;
    wait_count(&client, "document.querySelectorAll('.modal').length", 0).await;
    let id = client
        .execute("return Number(document.querySelector('li.row').dataset.id);", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    wait_row_status(&client, id, "disconnected").await;
    // Focus went back to "Add agent", where the person was.
    assert!(focus_matches(&client, "button.add").await);

    // Connect from the row: Tab into the list (one stop), on to the row's Connect.
    tab_to(&client, "li.row", false).await;
    tab_to(&client, "li.row button.connect", false).await;
    press(&client, Key::Enter).await;
    wait_row_status(&client, id, "qr_pending").await;
    shots.take(&client, "20-keyboard-connected-row").await;

    // Details: back to the row, Enter; then the demo's scan, by keyboard.
    tab_to(&client, "li.row", true).await;
    press(&client, Key::Enter).await;
    wait_true(&client, "document.querySelector('.detail img.qr-image')?.src.startsWith('data:image/png')").await;
    axe_check(&client, "the detail panel with a QR").await;
    tab_to(&client, ".detail button.sim-scan", false).await;
    shots.take(&client, "20-keyboard-details").await;
    press(&client, Key::Enter).await;
    wait_row_status(&client, id, "connected").await;

    // Disconnect from the detail panel.
    tab_to(&client, ".detail button.disconnect", true).await;
    press(&client, Key::Enter).await;
    wait_row_status(&client, id, "disconnected").await;
    shots.take(&client, "20-keyboard-disconnected").await;

    // Bulk selection: Space on the row ticks it; the selection bar's Connect follows by Tab.
    tab_to(&client, "li.row", true).await;
    press(&client, Key::Space).await;
    assert_eq!(text(&client, ".selection-count").await, "1 agent selected");
    assert_eq!(
        client.execute("return document.querySelector('li.row input.pick').checked;", vec![]).await.unwrap(),
        json!(true)
    );

    // The scan queue by keyboard: open it, scan in demo mode, close it with Escape.
    tab_to(&client, ".selection-bar button.scan-queue-button", false).await;
    press(&client, Key::Enter).await;
    wait_true(&client, "document.querySelector('.scan-queue img.queue-qr:not([hidden])')").await;
    axe_check(&client, "the scan queue").await;
    shots.take(&client, "20-keyboard-scan-queue").await;
    tab_to(&client, ".scan-queue button.queue-simulate", false).await;
    press(&client, Key::Enter).await;
    wait_true(&client, "document.querySelector('.scan-queue .queue-progress')?.textContent === '1 of 1 linked'").await;
    press(&client, Key::Escape).await;
    wait_count(&client, "document.querySelectorAll('.scan-queue').length", 0).await;
    wait_row_status(&client, id, "connected").await;

    // The audit log by keyboard, checked, closed with Escape.
    tab_to(&client, "button.audit-button", true).await;
    press(&client, Key::Enter).await;
    wait_true(&client, "document.querySelectorAll('.modal.audit tbody tr').length > 0").await;
    axe_check(&client, "the audit log").await;
    shots.take(&client, "21-axe-audit-log").await;
    press(&client, Key::Escape).await;
    wait_count(&client, "document.querySelectorAll('.modal').length", 0).await;

    // Settings, by keyboard, checked.
    tab_to(&client, "button.settings-button", false).await;
    press(&client, Key::Enter).await;
    wait_true(&client, "document.querySelector('.modal.settings, .modal .settings, .modal form')").await;
    axe_check(&client, "the settings dialog").await;
    shots.take(&client, "21-axe-settings").await;
    press(&client, Key::Escape).await;
    wait_count(&client, "document.querySelectorAll('.modal').length", 0).await;

    // A busier list for the checker: every state a row can show, a banner and a bulk summary.
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for name in ["Cooling desk", "Waiting desk", "Retry desk"] {
            ids.push(invoke(&client, "add_agent", json!({ "name": name })).await["id"].as_i64().unwrap());
        }
        ids
    };
    invoke(&client, "connect_agent", json!({ "id": ids[0] })).await;
    wait_row_status(&client, ids[0], "qr_pending").await;
    invoke(&client, "simulate", json!({ "id": ids[0], "action": { "action": "scan" } })).await;
    wait_row_status(&client, ids[0], "connected").await;
    invoke(&client, "simulate", json!({ "id": ids[0], "action": { "action": "drop", "code": 401 } })).await;
    invoke(&client, "connect_agent", json!({ "id": ids[1] })).await;
    invoke(&client, "simulate", json!({ "id": id, "action": { "action": "drop", "code": 503 } })).await;
    invoke(&client, "bulk_action", json!({ "action": "connect", "ids": [ids[2]] })).await;
    wait_row_status(&client, ids[0], "conflict").await;
    // WhatsApp asks "Waiting desk" for a passkey; its details say what to do.
    wait_row_status(&client, ids[1], "qr_pending").await;
    invoke(&client, "simulate", json!({ "id": ids[1], "action": { "action": "passkey" } })).await;
    wait_row_status(&client, ids[1], "connecting").await;
    client
        .execute("document.querySelector(`li.row[data-id=\"${arguments[0]}\"]`).click();", vec![json!(ids[1])])
        .await
        .unwrap();
    wait_true(&client, "document.querySelector('.detail section.passkey') && !document.querySelector('.detail section.passkey').hidden")
        .await;
    assert!(text(&client, "li.row[data-status=\"connecting\"] .line").await.contains("passkey"));
    axe_check(&client, "the detail panel asking for a passkey").await;
    shots.take(&client, "21-axe-passkey").await;
    // The same bulk action from the window, for its summary banner.
    tab_to(&client, ".selection-bar button.bulk-connect", false).await;
    press(&client, Key::Enter).await;
    wait_true(&client, "document.querySelector('.bulk-summary')").await;
    axe_check(&client, "the list with every state and a bulk summary").await;
    shots.take(&client, "21-axe-busy-list").await;
    client.close().await.unwrap();
}
