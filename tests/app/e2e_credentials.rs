//! P-7 in the real window: the real (not demo) app on a data directory whose
//! credentials are under a passphrase. The window asks for it before the
//! panel; a wrong one is said and changes nothing; the right one opens the
//! panel. The screen passes the accessibility check. No agent is linked, so
//! nothing dials WhatsApp.

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;
use switchboard_tests::webdriver::{Driver, PATIENCE, start_driver, start_driver_with_env};
use switchboard_whatsapp::protection::Vault;

use crate::e2e::{ONE_WINDOW_AT_A_TIME, Shots};
use crate::e2e_keyboard::axe_check;

async fn wait_js(client: &Client, js: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let value = client.execute(js, vec![]).await.unwrap();
        if value != json!(null) && value != json!(false) && value != json!("") {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "never true: {js}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The real app on `data`, once `css` (its first screen) shows, checked for accessibility as `view`.
async fn open_real(driver: &Driver, data: &Path, css: &str, view: &str) -> Client {
    let app = Path::new(env!("CARGO_BIN_EXE_switchboard-under-test"));
    let client = driver.open(app, &["--data-dir", data.to_str().unwrap()]).await;
    client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{view}"));
    axe_check(&client, view).await;
    client
}

async fn unlock_with(client: &Client, passphrase: &str) {
    let input = client.find(Locator::Css("input[name=passphrase]")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(passphrase).await.unwrap();
    client.find(Locator::Css("form.unlock-form button[type=submit]")).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_p7_the_window_asks_for_the_passphrase_before_the_panel() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    Vault::new(data.path().join("whatsapp")).choose_passphrase("correct horse battery").unwrap();
    let key_db = std::fs::read(data.path().join("whatsapp/key.db")).unwrap();
    let driver = start_driver().await;
    let shots = Shots::new();
    let client = open_real(&driver, data.path(), "form.unlock-form", "the unlock screen").await;
    wait_js(&client, "return document.activeElement?.name === 'passphrase';").await;
    shots.take(&client, "40-credentials-unlock").await;

    unlock_with(&client, "wrong horse battery").await;
    let said = wait_js(&client, "return document.querySelector('.form-error')?.textContent;").await;
    assert!(said.as_str().unwrap().contains("does not open the credentials"), "{said}");
    assert!(client.find(Locator::Css("header.top")).await.is_err(), "the panel opened on a wrong passphrase");
    assert_eq!(
        std::fs::read(data.path().join("whatsapp/key.db")).unwrap(),
        key_db,
        "a wrong passphrase changed key.db"
    );
    shots.take(&client, "41-credentials-wrong").await;

    unlock_with(&client, "correct horse battery").await;
    client.wait().at_most(PATIENCE).for_element(Locator::Css("header.top")).await.expect("the panel after unlocking");
    let banners = client
        .execute("return [...document.querySelectorAll('.banner .text')].map(b => b.textContent).join(' | ');", vec![])
        .await
        .unwrap();
    assert!(banners.as_str().unwrap().contains("not an official WhatsApp client"), "real mode: {banners}");
    assert!(!banners.as_str().unwrap().contains("unencrypted"), "{banners}");
    shots.take(&client, "42-credentials-unlocked").await;
    client.close().await.unwrap();
}

/// P-7: the first start where no keyring answers (here: no session bus at
/// all) asks how to keep the credentials, and a passphrase typed twice opens
/// the panel; the next start asks for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_p7_without_a_keyring_the_first_start_asks() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let driver =
        start_driver_with_env(&[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/switchboard-test-bus")]).await;
    let shots = Shots::new();
    let client = open_real(&driver, data.path(), "form.choose-passphrase", "the choice screen").await;
    shots.take(&client, "43-credentials-choice").await;
    for (name, value) in [("passphrase", "correct horse battery"), ("repeat", "correct horse battery")] {
        client.find(Locator::Css(&format!("input[name={name}]"))).await.unwrap().send_keys(value).await.unwrap();
    }
    client.find(Locator::Css("form.choose-passphrase button[type=submit]")).await.unwrap().click().await.unwrap();
    client.wait().at_most(PATIENCE).for_element(Locator::Css("header.top")).await.expect("the panel after choosing");
    client.close().await.unwrap();
    assert_eq!(std::fs::read_to_string(data.path().join("whatsapp/protection")).unwrap(), "passphrase\n");
}
