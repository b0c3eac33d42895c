//! The `settings` table: one row per changed setting.

use rusqlite::params;

use super::{Store, StoreError};
use crate::lifecycle::{SettingName, Settings};

impl Store {
    /// The stored settings over the defaults. A stored value that is out of
    /// range (written by hand, or by another version) is logged and the default
    /// used instead; the row is left as it is until the settings are saved.
    pub fn load_settings(&self) -> Result<Settings, StoreError> {
        let mut settings = Settings::default();
        let mut stmt = self.conn.prepare("SELECT key, value FROM settings")?;
        let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
        for row in rows {
            let (key, value) = row?;
            let Some(name) = SettingName::from_key(&key) else {
                tracing::warn!(%key, "ignoring an unknown stored setting");
                continue;
            };
            let mut candidate = settings;
            match candidate.set(name, value).and_then(|()| candidate.validate()) {
                Ok(()) => settings = candidate,
                Err(err) => tracing::warn!(%key, value, "stored setting rejected, using the default: {err}"),
            }
        }
        Ok(settings)
    }

    /// Writes every setting in one transaction.
    pub fn save_settings(&mut self, settings: &Settings) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        for name in SettingName::ALL {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![name.key(), settings.get(name) as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
