//! The desktop shell's tests, as one test binary: every IPC command on Tauri's mock runtime,
//! the canary oracle over those commands, the team vault's commands, and the freshness of the TypeScript bindings.

mod bindings;
mod canary;
mod costs;
mod ipc;
mod onboard;
mod team;

/// The IPC request the webview would send for `cmd` with `body` (every suite invokes through it).
pub(crate) fn request(cmd: &str, body: serde_json::Value) -> tauri::webview::InvokeRequest {
    tauri::webview::InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    }
}
