//! End to end in the real window: the debug app under Xvfb, driven through
//! tauri-driver and WebKitWebDriver, in demo mode on a temporary data
//! directory. Screenshots of each state go to `test-output/e2e/`.
//!
//! Needs a display (`scripts/test.sh` runs the suite under `xvfb-run`),
//! `tauri-driver` (installed by `scripts/test.sh`) and `WebKitWebDriver`
//! (Debian's `webkit2gtk-driver`). The app is this package's
//! `switchboard-under-test` binary, which `cargo test` builds with the tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use fantoccini::{Client, Locator};
use serde_json::json;
use switchboard_engine::lifecycle::Rule;
use switchboard_tests::webdriver::{self, PATIENCE, PrivateBus, invoke, start_driver, start_driver_with_env};

/// The tests take turns: two windows at once would only compete for two cores.
pub(crate) static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) async fn open_app(driver: &webdriver::Driver, data_dir: &Path) -> Client {
    let args = ["--demo", "--data-dir", data_dir.to_str().unwrap()];
    let client = driver.open(Path::new(env!("CARGO_BIN_EXE_switchboard-under-test")), &args).await;
    client.wait().at_most(PATIENCE).for_element(Locator::Css("header.top")).await.expect("the panel renders");
    client
}

pub(crate) struct Shots {
    dir: PathBuf,
}

impl Shots {
    pub(crate) fn new() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-output/e2e");
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir }
    }

    pub(crate) async fn take(&self, client: &Client, name: &str) {
        eprintln!("e2e: {name}");
        let png = client.screenshot().await.expect("a screenshot");
        assert_eq!(&png[..4], b"\x89PNG");
        std::fs::write(self.dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// Reads an attribute of the first match of `css`, waiting until it satisfies `ok`.
pub(crate) async fn wait_attr(client: &Client, css: &str, attr: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(el) = client.find(Locator::Css(css)).await {
            if let Ok(Some(value)) = el.attr(attr).await {
                if ok(&value) {
                    return value;
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            // What the window showed instead, for the failure's message.
            let seen = client
                .execute(
                    "return [document.querySelector('.detail h2')?.textContent, document.querySelector('.toast')?.textContent];",
                    vec![],
                )
                .await;
            panic!("{css}[{attr}] never became what was expected; the detail panel and the toast showed {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_status(client: &Client, status: &str) {
    wait_attr(client, "li.row", "data-status", |s| s == status).await;
}

/// The element's `textContent`. (WebDriver's visible-text algorithm returns
/// "" for ellipsized one-line elements in WebKitWebDriver; tried here.)
pub(crate) async fn text(client: &Client, css: &str) -> String {
    let el = client.find(Locator::Css(css)).await.unwrap();
    el.prop("textContent").await.unwrap().unwrap_or_default()
}

pub(crate) async fn click(client: &Client, css: &str) {
    client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

pub(crate) fn decode_qr(data_url: &str) -> String {
    let b64 = data_url.strip_prefix("data:image/png;base64,").expect("a PNG data URL");
    let png = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_seed_flows_in_the_real_window_and_a_restart_keeps_the_deadline() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    let driver = start_driver().await;
    let data = tempfile::tempdir().unwrap();
    let shots = Shots::new();

    let client = open_app(&driver, data.path()).await;
    shots.take(&client, "01-empty").await;
    assert!(text(&client, ".empty").await.contains("No agents yet"));
    assert_eq!(text(&client, ".demo-label").await, "DEMO");

    // Add an agent through the dialog.
    click(&client, "button.add").await;
    let input = client.wait().at_most(PATIENCE).for_element(Locator::Css(".modal input.name-input")).await.unwrap();
    input.send_keys("Support Desk 1").await.unwrap();
    click(&client, ".modal button[type=submit]").await;
    wait_status(&client, "disconnected").await;
    shots.take(&client, "02-added").await;
    assert_eq!(text(&client, "li.row .name").await, "Support Desk 1");

    // Seed test 1's first half: connect → the QR appears and decodes to the simulated code.
    click(&client, "li.row button.connect").await;
    wait_status(&client, "qr_pending").await;
    let qr = wait_attr(&client, ".qr-image", "src", |s| s.starts_with("data:image/png")).await;
    assert!(decode_qr(&qr).starts_with("sim-qr-"), "decoded {:?}", decode_qr(&qr));
    shots.take(&client, "03-qr").await;

    // Simulate the scan: the pairing restart, then connected.
    click(&client, "button.sim-scan").await;
    wait_status(&client, "connected").await;
    shots.take(&client, "04-connected").await;

    // Simulate a 401 (the select starts at 401): conflict with a running countdown (seed test 2).
    click(&client, "button.sim-drop").await;
    wait_status(&client, "conflict").await;
    let until = wait_attr(&client, "li.row", "data-until", |s| !s.is_empty()).await;
    let first = text(&client, "li.row .line").await;
    assert!(first.contains("cooldown"), "{first}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let later = text(&client, "li.row .line").await;
    assert_ne!(first, later, "the countdown runs");
    let connect = client.find(Locator::Css("li.row button.connect")).await.unwrap();
    assert!(!connect.is_enabled().await.unwrap(), "Connect is blocked");
    let reason = connect.attr("title").await.unwrap().unwrap();
    // The tooltip names the close and counts down from the engine's `until`.
    assert!(reason.contains("Blocked") && reason.contains("(401)") && reason.ends_with(" left)"), "{reason}");
    shots.take(&client, "05-conflict-blocked").await;

    // Close the app and start it again on the same data directory: the same deadline (P-2).
    client.close().await.unwrap();
    let client = open_app(&driver, data.path()).await;
    wait_status(&client, "conflict").await;
    let again = wait_attr(&client, "li.row", "data-until", |s| !s.is_empty()).await;
    assert_eq!(again, until, "the cooldown continues from the same deadline");
    shots.take(&client, "06-restarted-conflict").await;

    // Seed test 3: a manual disconnect, then Connect at once gets a fresh QR.
    click(&client, "li.row button.disconnect").await;
    wait_status(&client, "disconnected").await;
    click(&client, "li.row button.connect").await;
    wait_status(&client, "qr_pending").await;
    click(&client, "li.row").await;
    let qr = wait_attr(&client, ".qr-image", "src", |s| s.starts_with("data:image/png")).await;
    assert!(decode_qr(&qr).starts_with("sim-qr-"));
    shots.take(&client, "07-qr-again").await;

    // The settings page shows the engine's validation error inline and keeps the old value.
    click(&client, "button.settings-button").await;
    let retries =
        client.wait().at_most(PATIENCE).for_element(Locator::Css(".modal input[name=max_retries]")).await.unwrap();
    retries.clear().await.unwrap();
    retries.send_keys("0").await.unwrap();
    click(&client, ".modal button[type=submit]").await;
    client.wait().at_most(PATIENCE).for_element(Locator::Css(".modal .error:not([hidden])")).await.unwrap();
    assert!(text(&client, ".modal .error").await.contains("between 1 and 100"));
    // A person sees the message without scrolling the form, and the value they typed is kept.
    let (seen, typed) = {
        let v = client
            .execute(
                "const error = document.querySelector('.modal .error'); const e = error.getBoundingClientRect(); \
                 const on_top = document.elementFromPoint(e.left + e.width / 2, e.top + e.height / 2); \
                 return [error.contains(on_top), document.querySelector('.modal input[name=max_retries]').value];",
                vec![],
            )
            .await
            .unwrap();
        (v[0].as_bool().unwrap(), v[1].as_str().unwrap().to_owned())
    };
    assert!(seen, "the settings error is out of sight");
    assert_eq!(typed, "0");
    // A moment for the scrolled form to be painted before the screenshot.
    tokio::time::sleep(Duration::from_millis(300)).await;
    shots.take(&client, "08-settings-error").await;
    client.close().await.unwrap();
}

/// Waits until `count`, a JavaScript expression the page evaluates, is `expected`.
pub(crate) async fn wait_count(client: &Client, count: &str, expected: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let n = client.execute(&format!("return {count};"), vec![]).await.unwrap();
        if n == json!(expected) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{count} is {n}, not {expected}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the agent's row shows `status`, scrolling the list to it: the
/// list holds only the rows on screen, as a person would scroll to a row.
pub(crate) async fn wait_row_status(client: &Client, id: i64, status: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        reveal_row(client, id).await;
        let row = client.find(Locator::Css(&format!("li.row[data-id=\"{id}\"]"))).await;
        if let Ok(row) = row
            && row.attr("data-status").await.ok().flatten().as_deref() == Some(status)
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "agent {id} never showed {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Scrolls the list, half a screen at a time from the top, until the agent's row is in the page.
pub(crate) async fn reveal_row(client: &Client, id: i64) {
    client
        .execute(
            "const [id] = arguments; const list = document.querySelector('section.list'); \
             const there = () => document.querySelector(`li.row[data-id=\"${id}\"]`) !== null; \
             for (let top = 0; !there() && top <= list.scrollHeight; top += list.clientHeight / 2) { \
               list.scrollTop = top; list.dispatchEvent(new Event('scroll')); }",
            vec![json!(id)],
        )
        .await
        .unwrap();
}

/// Adds `n` agents named "<prefix> 01"… through the window's IPC, links
/// each (Connect, then the simulated phone scans its QR) and waits until
/// every one is connected; returns their ids.
async fn link_new_agents(client: &Client, prefix: &str, n: usize) -> Vec<i64> {
    let ids = client
        .execute_async(
            "const [prefix, n, done] = arguments; const call = window.__TAURI_INTERNALS__.invoke; (async () => { \
               const ids = []; \
               for (let i = 0; i < n; i++) { \
                 const a = await call('add_agent', { name: `${prefix} ${String(i + 1).padStart(2, '0')}` }); ids.push(a.id); \
                 await call('connect_agent', { id: a.id }); \
               } \
               return ids; \
             })().then(done, (e) => done(String(e)));",
            vec![json!(prefix), json!(n)],
        )
        .await
        .unwrap();
    let ids: Vec<i64> = serde_json::from_value(ids).expect("ids");
    for &id in &ids {
        wait_row_status(client, id, "qr_pending").await;
        invoke(client, "simulate", json!({ "id": id, "action": { "action": "scan" } })).await;
    }
    for &id in &ids {
        wait_row_status(client, id, "connected").await;
    }
    ids
}

/// What staff see on a busy day: agents in every state, a long name, a
/// blocked connect with its countdown, then a thousand agents in the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_a_busy_panel_with_every_state_and_a_thousand_agents() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    let driver = start_driver().await;
    let data = tempfile::tempdir().unwrap();
    let shots = Shots::new();
    let client = open_app(&driver, data.path()).await;

    let mut ids = Vec::new();
    for name in [
        "Customer care — Berlin office, weekend and holiday coverage team",
        "Sales DACH",
        "Returns desk",
        "Night shift",
        "Key accounts",
        "Onboarding",
        "Billing 🧾 desk",
    ] {
        ids.push(invoke(&client, "add_agent", json!({ "name": name })).await["id"].as_i64().unwrap());
    }
    let [care, sales, returns, night, keys, onboarding, billing] = ids[..] else { unreachable!() };
    // Linked: connect, scan, and the pairing restart.
    for id in [care, sales, returns, night, keys] {
        invoke(&client, "connect_agent", json!({ "id": id })).await;
        wait_row_status(&client, id, "qr_pending").await;
        invoke(&client, "simulate", json!({ "id": id, "action": { "action": "scan" } })).await;
    }
    for id in [care, sales, returns, night, keys] {
        wait_row_status(&client, id, "connected").await;
    }
    invoke(&client, "simulate", json!({ "id": sales, "action": { "action": "drop", "code": 440 } })).await;
    invoke(&client, "simulate", json!({ "id": returns, "action": { "action": "drop", "code": 403 } })).await;
    invoke(&client, "simulate", json!({ "id": night, "action": { "action": "drop", "code": 503 } })).await;
    invoke(&client, "connect_agent", json!({ "id": onboarding })).await;
    wait_row_status(&client, sales, "conflict").await;
    wait_row_status(&client, returns, "failed").await;
    wait_row_status(&client, onboarding, "qr_pending").await;

    // The long name is cut with an ellipsis in the row, whole in its tooltip.
    let name = client.find(Locator::Css(&format!("li.row[data-id=\"{care}\"] .name"))).await.unwrap();
    let (shown, full): (f64, f64) = {
        let size = client
            .execute(
                "const e = arguments[0]; return [e.clientWidth, e.scrollWidth];",
                vec![serde_json::to_value(&name).unwrap()],
            )
            .await
            .unwrap();
        (size[0].as_f64().unwrap(), size[1].as_f64().unwrap())
    };
    assert!(shown < full, "the long name is clipped ({shown} < {full})");
    // The blocked connect names its reason and counts down.
    let blocked = client.find(Locator::Css(&format!("li.row[data-id=\"{sales}\"] button.connect"))).await.unwrap();
    assert!(!blocked.is_enabled().await.unwrap());
    assert!(blocked.attr("title").await.unwrap().unwrap().contains("(440)"));
    // A fatal close raises a banner naming the agent (L-3).
    client.wait().at_most(PATIENCE).for_element(Locator::Css(".banner.alert")).await.unwrap();
    assert!(text(&client, ".banner.alert .text").await.contains("Returns desk"));
    client.find(Locator::Css(&format!("li.row[data-id=\"{onboarding}\"]"))).await.unwrap().click().await.unwrap();
    wait_attr(&client, ".qr-image", "src", |s| s.starts_with("data:image/png")).await;
    // A name with an emoji shows the emoji in colour, not as an empty box:
    // drawn in the row's own fonts, some of its pixels have a colour.
    let coloured = client
        .execute(
            "const name = document.querySelector(`li.row[data-id=\"${arguments[0]}\"] .name`); \
             const canvas = document.createElement('canvas'); canvas.width = 64; canvas.height = 64; \
             const g = canvas.getContext('2d'); g.font = `48px ${getComputedStyle(name).fontFamily}`; \
             g.textBaseline = 'top'; g.fillStyle = '#000'; g.fillText('🧾', 4, 4); \
             const px = g.getImageData(0, 0, 64, 64).data; let n = 0; \
             for (let i = 0; i < px.length; i += 4) { \
               const [r, gr, b] = [px[i], px[i + 1], px[i + 2]]; \
               if (px[i + 3] > 128 && Math.max(r, gr, b) - Math.min(r, gr, b) > 60) n++; } \
             return name.textContent.includes('🧾') ? n : -1;",
            vec![json!(billing)],
        )
        .await
        .unwrap();
    assert!(coloured.as_i64().unwrap() > 50, "the emoji drew {coloured} coloured pixels: no colour emoji font");
    shots.take(&client, "10-busy-panel").await;

    // A thousand agents: every row is there, and the page still answers.
    let added = client
        .execute_async(
            "const done = arguments[0]; (async () => { \
               for (let i = 0; i < 993; i++) await window.__TAURI_INTERNALS__.invoke('add_agent', { name: `Agent ${String(i).padStart(4, '0')}` }); \
             })().then(() => done(true), (e) => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(added, json!(true));
    // A thousand agents in the list, a screenful of rows in the page.
    wait_count(&client, "Number(document.querySelector('ul.rows').dataset.shown)", 1000).await;
    let in_page = client.execute("return document.querySelectorAll('li.row').length;", vec![]).await.unwrap();
    assert!(in_page.as_u64().unwrap() < 60, "{in_page} rows in the page");
    assert_eq!(text(&client, ".chip[data-status=\"all\"] .count").await, "1000");
    shots.take(&client, "11-thousand-agents").await;

    // Compact rows: about twice the agents on screen; back to comfortable
    // after (the choice is remembered for this user's next window).
    let rows_on_screen = |client: &Client| {
        let client = client.clone();
        async move {
            let v = client
                .execute(
                    "const list = document.querySelector('section.list').getBoundingClientRect(); \
                     return [...document.querySelectorAll('li.row')].filter((r) => { \
                       const b = r.getBoundingClientRect(); return b.top >= list.top && b.bottom <= list.bottom; }).length;",
                    vec![],
                )
                .await
                .unwrap();
            v.as_u64().unwrap()
        }
    };
    let comfortable = rows_on_screen(&client).await;
    client.find(Locator::Css("select.density")).await.unwrap().select_by_value("compact").await.unwrap();
    wait_count(&client, "document.querySelector('ul.rows.compact') ? 1 : 0", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let compact = rows_on_screen(&client).await;
    assert!(compact * 10 >= comfortable * 18, "{compact} compact rows on screen against {comfortable}");
    shots.take(&client, "11b-thousand-agents-compact").await;
    client.find(Locator::Css("select.density")).await.unwrap().select_by_value("comfortable").await.unwrap();

    // F-4: forty agents linked, then all closed with 403 at once: one grouped
    // banner, the list still on screen, and "Show them" shows exactly them.
    let fleet = link_new_agents(&client, "Fleet", 40).await;
    for &id in &fleet {
        invoke(&client, "simulate", json!({ "id": id, "action": { "action": "drop", "code": 403 } })).await;
    }
    client.wait().at_most(PATIENCE).for_element(Locator::Css(".banner.group")).await.unwrap();
    assert!(text(&client, ".banner.group .text").await.contains("40 agents need attention"));
    let (banners_bottom, list_top, window_height): (f64, f64, f64) = {
        let v = client
            .execute(
                "return [document.querySelector('.banners').getBoundingClientRect().bottom, \
                         document.querySelector('.list').getBoundingClientRect().top, window.innerHeight];",
                vec![],
            )
            .await
            .unwrap();
        (v[0].as_f64().unwrap(), v[1].as_f64().unwrap(), v[2].as_f64().unwrap())
    };
    assert!(list_top <= window_height * 0.5, "the list starts at {list_top} px of {window_height}");
    assert!(banners_bottom <= list_top + 1.0);
    client.find(Locator::Css(".banner.group button.show")).await.unwrap().click().await.unwrap();
    wait_count(&client, "Number(document.querySelector('ul.rows').dataset.shown)", 40).await;
    // The list was scrolled through a thousand rows: back to its top, and a
    // moment for the rows that come into view to be painted.
    client.execute("document.querySelector('.list').scrollTop = 0;", vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    shots.take(&client, "12-grouped-notice").await;

    // F-1…F-3: six agents linked, then WhatsApp unreachable (demo): one
    // outage banner with the agents waiting and the next check counting
    // down; reachable again and "Try now": the banner goes and every agent
    // is back without a click on any row.
    client.find(Locator::Css(".banner.group button.dismiss")).await.unwrap().click().await.unwrap();
    let six = link_new_agents(&client, "Branch", 6).await;
    client.find(Locator::Css("button.simulate-outage")).await.unwrap().click().await.unwrap();
    let minutes = client.find(Locator::Css(".modal .number-input")).await.unwrap();
    minutes.clear().await.unwrap();
    minutes.send_keys("5").await.unwrap();
    client.find(Locator::Css(".modal button.primary")).await.unwrap().click().await.unwrap();
    client.wait().at_most(PATIENCE).for_element(Locator::Css(".banner.outage:not([hidden])")).await.unwrap();
    // The banner appears with the outage; the agents it holds join it one
    // by one as their retries come due, so wait for more than one.
    wait_count(
        &client,
        "document.querySelector('.banner.outage .text').textContent.includes('agents wait for it') ? 1 : 0",
        1,
    )
    .await;
    let banner = text(&client, ".banner.outage .text").await;
    assert!(banner.contains("WhatsApp unreachable since"), "{banner}");
    client.find(Locator::Css("button.chip[data-status=\"reconnecting\"]")).await.unwrap().click().await.unwrap();
    // Their first retries come due and are held (F-2): the rows say why.
    wait_count(
        &client,
        "[...document.querySelectorAll('li.row:not([hidden]) .line')].filter((l) => l.textContent.includes('(outage)')).length >= 6 ? 1 : 0",
        1,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    shots.take(&client, "13-outage").await;

    invoke(&client, "simulate_unreachable", json!({ "minutes": 0 })).await;
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(".banner.outage:not([hidden]) button.try-now:not([disabled])"))
        .await
        .unwrap();
    client.find(Locator::Css(".banner.outage button.try-now")).await.unwrap().click().await.unwrap();
    client.wait().at_most(PATIENCE).for_element(Locator::Css(".banner.outage[hidden]")).await.unwrap();
    // The list shows the agents it is filtered to: those now connected.
    client.find(Locator::Css("button.chip[data-status=\"connected\"]")).await.unwrap().click().await.unwrap();
    for &id in &six {
        wait_row_status(&client, id, "connected").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    shots.take(&client, "14-outage-over").await;
    client.close().await.unwrap();
}

/// Issue 15: closing the window does not drop the fleet. On a desktop
/// without a tray (this session bus has no StatusNotifierWatcher) the window
/// asks; "Keep running" leaves the process and the agent's link untouched.
/// A second launch hands over to the running app and shows its window.
/// Ctrl+Q then quits gracefully (P-4): the agent keeps its credentials and
/// its status for the next start, and nothing was logged out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_closing_the_window_keeps_the_fleet_running_and_ctrl_q_quits_gracefully() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    let bus = PrivateBus::start();
    // A home of its own: the login item is written under it, never the machine's.
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str()),
        ("RUST_LOG", "warn,switchboard_app=info"),
        ("HOME", home.path().to_str().unwrap()),
    ];
    let driver = start_driver_with_env(&env).await;
    let data = tempfile::tempdir().unwrap();
    let shots = Shots::new();
    let client = open_app(&driver, data.path()).await;
    let id = link_new_agents(&client, "Desk", 1).await[0];

    // Start at login: a desktop entry that starts the app hidden, and gone when turned off.
    let login_item = home.path().join(".config/autostart/Switchboard.desktop");
    assert_eq!(invoke(&client, "desktop_info", json!({})).await["autostart"], json!(false));
    assert_eq!(invoke(&client, "set_autostart", json!({ "enabled": true })).await, json!(true));
    let entry = std::fs::read_to_string(&login_item).expect("the login item");
    let exec = entry.lines().find(|l| l.starts_with("Exec=")).expect("an Exec line");
    assert!(exec.contains("switchboard-under-test") && exec.ends_with("--minimized"), "{exec}");
    assert_eq!(invoke(&client, "desktop_info", json!({})).await["autostart"], json!(true));
    assert_eq!(invoke(&client, "set_autostart", json!({ "enabled": false })).await, json!(false));
    assert!(!login_item.exists(), "turned off, the login item is gone");
    let timeline = invoke(&client, "agent_history", json!({ "id": id, "limit": 100 })).await;

    // The settings name the versions and what closing does (no tray here: it asks).
    click(&client, "button.settings-button").await;
    client.wait().at_most(PATIENCE).for_element(Locator::Css(".modal .about")).await.unwrap();
    assert!(text(&client, ".modal .about").await.starts_with("Switchboard 0.1.0 (whatsapp-rust 0."));
    let close_choice = client.find(Locator::Css(".modal select[name='close_action']")).await.unwrap();
    assert_eq!(close_choice.prop("value").await.unwrap().as_deref(), Some("ask"));
    shots.take(&client, "16-settings-desktop").await;
    client.execute("document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));", vec![]).await.unwrap();

    // The title bar's close button sends this very request.
    invoke(&client, "plugin:window|close", json!({ "label": "main" })).await;
    client.wait().at_most(PATIENCE).for_element(Locator::Css(".modal")).await.expect("the question");
    assert_eq!(text(&client, ".modal h2").await, "Quit Switchboard?");
    shots.take(&client, "15-close-question").await;
    let keep = client.find(Locator::XPath("//div[@class='modal']//button[text()='Keep running']")).await.unwrap();
    keep.click().await.unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while client.find(Locator::Css(".modal")).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the question stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still running, still linked: the simulated WhatsApp saw no close.
    tokio::time::sleep(Duration::from_secs(1)).await;
    wait_row_status(&client, id, "connected").await;
    assert_eq!(invoke(&client, "agent_history", json!({ "id": id, "limit": 100 })).await, timeline, "nothing happened");

    // A second launch hands over to the running app, which shows its window.
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
        .args(["--demo", "--data-dir", data.path().to_str().unwrap()])
        .envs(env)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second launch kept running: a second app on the same data");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    let logs = data.path().join("logs");
    let said = |words: &'static str| {
        let logs = logs.clone();
        move || {
            std::fs::read_dir(&logs)
                .into_iter()
                .flatten()
                .flatten()
                .any(|file| std::fs::read_to_string(file.path()).is_ok_and(|text| text.contains(words)))
        }
    };
    wait_until(said("Switchboard was launched again: showing its window"), "the first instance heard the second").await;
    wait_row_status(&client, id, "connected").await;

    // Ctrl+Q quits; the process ends, gracefully. (Pressed a moment after
    // this call returns: the app may be gone before it could answer.)
    client
        .execute(
            "setTimeout(() => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'q', ctrlKey: true })), 200);",
            vec![],
        )
        .await
        .unwrap();
    let data_dir = data.path().to_str().unwrap().to_owned();
    wait_until(
        move || {
            let running = std::process::Command::new("pgrep").args(["-f", &data_dir]).output().unwrap();
            running.stdout.is_empty()
        },
        "the app to quit",
    )
    .await;
    drop(client);
    let conn = rusqlite::Connection::open(data.path().join("demo.db")).unwrap();
    let (status, credentials): (String, bool) = conn
        .query_row("SELECT status, has_credentials FROM agents WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((status.as_str(), credentials), ("connected", true), "P-4: kept for P-3 to resume");
    let unlinked: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM history WHERE agent_id = ?1 AND rule IN (?2, ?3)",
            rusqlite::params![id, Rule::D1.id(), Rule::L2.id()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unlinked, 0, "nothing was logged out");
    assert!(said("Switchboard stopped")(), "the exit ran its graceful shutdown");
}

/// Waits (real time, bounded by [`PATIENCE`]) until `done`.
async fn wait_until(done: impl Fn() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tray host as a desktop runs one (KDE, XFCE, GNOME's AppIndicator
/// extension): it owns `org.kde.StatusNotifierWatcher` and hears which
/// items register. Enough for libayatana-appindicator to show an item.
struct StandInTrayHost {
    items: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

// The D-Bus interface's shape is the protocol's: zbus takes the header by
// value and properties as methods, whether or not they read `self`.
#[allow(clippy::needless_pass_by_value, clippy::unused_self)]
#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl StandInTrayHost {
    fn register_status_notifier_item(&self, service: &str, #[zbus(header)] header: zbus::message::Header<'_>) {
        let sender = header.sender().map(ToString::to_string).unwrap_or_default();
        self.items.lock().unwrap().push((sender, service.to_owned()));
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().iter().map(|(_, path)| path.clone()).collect()
    }
}

/// The tray's dot colours (src-tauri/src/tray.rs).
const GREEN: [u8; 3] = [34, 160, 90];
const AMBER: [u8; 3] = [230, 150, 20];
const RED: [u8; 3] = [210, 45, 45];

type MenuLayout = (i32, std::collections::HashMap<String, zbus::zvariant::OwnedValue>, Vec<zbus::zvariant::OwnedValue>);

/// The labels of the item's menu, read as a desktop's tray reads them (dbusmenu).
fn tray_menu(bus: &zbus::blocking::Connection, sender: &str, item: &str) -> Vec<String> {
    tray_menu_items(bus, sender, item).into_iter().map(|(_, label)| label).collect()
}

/// Clicks the menu's entry labelled `label`, as a desktop's tray does.
fn tray_click(bus: &zbus::blocking::Connection, sender: &str, item: &str, label: &str) {
    let (id, _) = tray_menu_items(bus, sender, item).into_iter().find(|(_, l)| l == label).expect(label);
    bus.call_method(
        Some(sender),
        format!("{item}/Menu").as_str(),
        Some("com.canonical.dbusmenu"),
        "Event",
        &(id, "clicked", zbus::zvariant::Value::I32(0), 0u32),
    )
    .unwrap();
}

/// The menu's entries with their ids.
fn tray_menu_items(bus: &zbus::blocking::Connection, sender: &str, item: &str) -> Vec<(i32, String)> {
    let reply = bus
        .call_method(
            Some(sender),
            format!("{item}/Menu").as_str(),
            Some("com.canonical.dbusmenu"),
            "GetLayout",
            &(0i32, -1i32, Vec::<String>::new()),
        )
        .unwrap();
    let (_, (_, _, children)): (u32, MenuLayout) = reply.body().deserialize().unwrap();
    children
        .into_iter()
        .filter_map(|child| {
            let (id, properties, _) = MenuLayout::try_from(child).ok()?;
            Some((id, String::try_from(properties.get("label")?.try_clone().ok()?).ok()?))
        })
        .collect()
}

/// The colour in the picture's dot (bottom-right quarter), from the PNG
/// the item names as its icon.
fn tray_dot(bus: &zbus::blocking::Connection, sender: &str, item: &str) -> [u8; 3] {
    let reply = bus
        .call_method(
            Some(sender),
            item,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &("org.kde.StatusNotifierItem", "IconName"),
        )
        .unwrap();
    let icon: zbus::zvariant::OwnedValue = reply.body().deserialize().unwrap();
    let path = String::try_from(icon).unwrap();
    let picture = image::open(&path).unwrap().into_rgba8();
    let (w, h) = picture.dimensions();
    let p = picture.get_pixel(w - w / 4, h - h / 4);
    [p[0], p[1], p[2]]
}

/// Issue 15: on a desktop with a tray, the item's menu tells the fleet in
/// words (tooltips do not work on Linux) and its picture's dot follows it:
/// green when nothing needs anyone, amber when an agent needs attention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_the_tray_lists_the_fleet_and_its_dot_follows_it() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    let bus = PrivateBus::start();
    let items = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let host = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.kde.StatusNotifierWatcher")
        .unwrap()
        .serve_at("/StatusNotifierWatcher", StandInTrayHost { items: items.clone() })
        .unwrap()
        .build()
        .unwrap();
    let driver = start_driver_with_env(&[("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str())]).await;
    let data = tempfile::tempdir().unwrap();
    let client = open_app(&driver, data.path()).await;
    wait_until(|| !items.lock().unwrap().is_empty(), "the tray item to register").await;
    let (sender, item) = items.lock().unwrap()[0].clone();
    let menu = || tray_menu(&host, &sender, &item);
    assert_eq!(
        menu(),
        [
            "Nothing needs you",
            "0 connected",
            "0 connecting or waiting",
            "0 need attention",
            "0 disconnected",
            "Show Switchboard",
            "Pause all automatic reconnects",
            "Quit Switchboard"
        ]
    );
    assert_eq!(tray_dot(&host, &sender, &item), GREEN);

    let ids = link_new_agents(&client, "Tray", 2).await;
    wait_until(|| menu()[1] == "2 connected", "the tray to count two connected agents").await;
    invoke(&client, "simulate", json!({ "id": ids[0], "action": { "action": "drop", "code": 403 } })).await;
    wait_until(
        || menu()[..4] == ["Something needs attention", "1 connected", "0 connecting or waiting", "1 need attention"],
        "the tray to tell of the banned agent",
    )
    .await;
    wait_until(|| tray_dot(&host, &sender, &item) == AMBER, "the amber dot").await;

    // "Pause all automatic reconnects" from the menu: the window tells it
    // and offers Resume; the tray says so and offers Resume too.
    tray_click(&host, &sender, &item, "Pause all automatic reconnects");
    wait_until(|| menu()[0] == "Automatic reconnects paused", "the tray to tell of the pause").await;
    assert!(menu().contains(&"Resume automatic reconnects".to_owned()), "{:?}", menu());
    assert_eq!(tray_dot(&host, &sender, &item), RED);
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(".banner.outage:not([hidden]) button.resume"))
        .await
        .unwrap();
    assert!(text(&client, ".banner.outage .text").await.starts_with("Automatic reconnects paused since"));
    Shots::new().take(&client, "17-paused").await;
    click(&client, ".banner.outage button.resume").await;
    wait_until(|| menu()[0] == "Something needs attention", "the pause to be lifted").await;
    assert!(menu().contains(&"Pause all automatic reconnects".to_owned()), "{:?}", menu());

    // With a tray, closing the window hides it without a question, tells
    // once that Switchboard keeps running, and "Show Switchboard" brings it back.
    let visible = || async { client.execute("return document.visibilityState;", vec![]).await.unwrap() };
    invoke(&client, "plugin:window|close", json!({ "label": "main" })).await;
    let preferences = data.path().join("preferences.json");
    let told = || std::fs::read_to_string(&preferences).is_ok_and(|p| p.contains("\"closeNoticeShown\": true"));
    wait_until(told, "the first hide to be told (and remembered)").await;
    assert!(client.find(Locator::Css(".modal")).await.is_err(), "no question with a tray");
    assert_eq!(visible().await, json!("hidden"), "the window is hidden");
    tray_click(&host, &sender, &item, "Show Switchboard");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while visible().await != json!("visible") {
        assert!(tokio::time::Instant::now() < deadline, "the window did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_row_status(&client, ids[1], "connected").await;
}
