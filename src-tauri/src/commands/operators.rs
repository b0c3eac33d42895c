//! Operators at scale: bulk actions (B-1), the audit log and CSV exports (B-3).

use std::io::Write as _;
use std::path::Path;

use switchboard_engine::audit::AuditFilter;
use switchboard_engine::clock::Timestamp;
use switchboard_engine::lifecycle::AgentId;
use tauri::{AppHandle, Runtime, State};

use crate::args::Arg;
use crate::dto::{AuditEntryDto, AuditQueryDto, BulkActionDto, BulkOutcomeDto};
use crate::error::IpcError;
use crate::state::AppState;

/// The most agents one bulk action takes: more than any fleet this app runs.
const MOST_SELECTED: usize = 100_000;
/// The most audit entries one call returns.
const MOST_AUDIT_ENTRIES: u32 = 5_000;
/// The largest export the window may hand over (an agent's whole timeline fits many times).
const LARGEST_EXPORT: usize = 64 * 1024 * 1024;

/// B-1: Connect, Disconnect or Remove on a selection; what became of each agent, in order.
#[tauri::command]
pub async fn bulk_action(
    state: State<'_, AppState>,
    action: Arg<BulkActionDto>,
    ids: Arg<Vec<i64>>,
) -> Result<Vec<BulkOutcomeDto>, IpcError> {
    if ids.0.is_empty() || ids.0.len() > MOST_SELECTED {
        return Err(IpcError::new(
            "invalid_payload",
            format!("a bulk action takes 1 to {MOST_SELECTED} agents, got {}", ids.0.len()),
        ));
    }
    let ids: Vec<AgentId> = ids.0.into_iter().map(AgentId).collect();
    let engine = state.engine().await?;
    let outcomes = engine.supervisor.bulk(action.0.into(), &ids).await;
    for outcome in &outcomes {
        if outcome.result == switchboard_engine::supervisor::BulkResult::Removed {
            // Its last QR image goes with it, as with a single removal.
            state.qr_images.forget(outcome.agent.0);
        }
    }
    Ok(outcomes.iter().map(BulkOutcomeDto::from).collect())
}

/// B-3: the newest audit entries that match the query.
#[tauri::command]
pub async fn audit_log(state: State<'_, AppState>, query: Arg<AuditQueryDto>) -> Result<Vec<AuditEntryDto>, IpcError> {
    let query = query.0;
    if !(1..=MOST_AUDIT_ENTRIES).contains(&query.limit) {
        return Err(IpcError::new(
            "invalid_payload",
            format!("the audit log gives 1 to {MOST_AUDIT_ENTRIES} entries at a time, got {}", query.limit),
        ));
    }
    let action = match query.action {
        None => None,
        Some(dto) => Some(
            dto.action()
                .ok_or_else(|| IpcError::new("invalid_payload", "`unknown` names no action to filter by".to_owned()))?,
        ),
    };
    let filter = AuditFilter {
        agent: query.agent.map(AgentId),
        action,
        since: query.since.map(Timestamp),
        until: query.until.map(Timestamp),
        limit: query.limit,
    };
    let entries = state.engine().await?.supervisor.audit_log(filter).await?;
    Ok(entries.iter().map(AuditEntryDto::from).collect())
}

/// B-3: asks the person where to save a CSV export (the audit log, a
/// timeline) with the system's save dialog, and writes it there. Returns
/// the file written, or `null` when they cancelled. The window reaches the
/// dialog only through this command: it has no file-system or dialog
/// permission of its own, and nothing is written anywhere but the file the
/// person chose.
#[tauri::command]
pub async fn save_csv<R: Runtime>(
    app: AppHandle<R>,
    file_name: Arg<String>,
    contents: Arg<String>,
) -> Result<Option<String>, IpcError> {
    use tauri_plugin_dialog::DialogExt as _;
    let file_name = suggested_file_name(&file_name.0)?;
    if contents.0.len() > LARGEST_EXPORT {
        return Err(IpcError::new("invalid_payload", format!("an export holds at most {LARGEST_EXPORT} bytes")));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_file_name(&file_name).add_filter("CSV", &["csv"]).save_file(move |chosen| {
        let _ = tx.send(chosen);
    });
    let Some(chosen) = rx.await.ok().flatten() else { return Ok(None) };
    let path =
        chosen.into_path().map_err(|err| IpcError::new("export", format!("not a file on this computer: {err}")))?;
    write_export(&path, &contents.0)
        .map_err(|err| IpcError::new("export", format!("could not write {}: {err}", path.display())))?;
    tracing::info!(file = %path.display(), "exported a CSV file");
    Ok(Some(path.display().to_string()))
}

/// The name the save dialog suggests: a plain file name ending in `.csv`.
fn suggested_file_name(name: &str) -> Result<String, IpcError> {
    let name = name.trim();
    let plain = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if !plain {
        return Err(IpcError::new("invalid_payload", format!("“{name}” is not a plain file name")));
    }
    Ok(if name.to_ascii_lowercase().ends_with(".csv") { name.to_owned() } else { format!("{name}.csv") })
}

/// Writes the whole export or nothing: to a temporary file beside the
/// target, synced, then renamed over it. A failure leaves an existing file
/// as it was.
fn write_export(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    // A byte-order mark, so spreadsheets read the UTF-8 names (emoji, accents) as such.
    temporary.write_all("\u{feff}".as_bytes())?;
    temporary.write_all(contents.as_bytes())?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|err| err.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_replaces_the_file_whole_and_starts_with_a_byte_order_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.csv");
        std::fs::write(&path, "old").unwrap();
        write_export(&path, "at,user\r\n1,\"a, b\"\r\n").unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..3], b"\xef\xbb\xbf");
        assert_eq!(&bytes[3..], b"at,user\r\n1,\"a, b\"\r\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn an_export_into_a_missing_folder_fails_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_export(&dir.path().join("gone/audit.csv"), "x").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_suggested_name_is_a_plain_csv_file_name() {
        assert_eq!(suggested_file_name("audit 2026-11-24").unwrap(), "audit 2026-11-24.csv");
        assert_eq!(suggested_file_name("Sales 🚀.CSV").unwrap(), "Sales 🚀.CSV");
        for bad in ["", "../etc/passwd", "a/b", ".hidden", "tab\there"] {
            assert_eq!(suggested_file_name(bad).unwrap_err().kind, "invalid_payload", "{bad:?}");
        }
    }
}
