//! The memory floor of the GUI benchmark (`scripts/bench-gui.sh`): a plain Tauri 2 window of the
//! app's size showing a blank page from a local HTTP server, built with the app's profile and
//! features, and nothing else (no plugins, no commands, no WebKit settings). The app's process
//! tree is measured against this one's.
//!
//!   cargo build --release -p clawkeep-desktop --features tauri/custom-protocol --example empty_window
//!
//! Prints `empty-window: page loaded URL` on stderr when a page has finished loading. For
//! diagnostics only (the benchmark never sets it), `EMPTY_WINDOW_PAGE=FILE` serves that HTML
//! instead of the blank page, e.g. to see what running any script at all costs; a script in it
//! can report a number by loading `/?result=N` (the server answers every path with the page).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use tauri::webview::PageLoadEvent;
use tauri::{WebviewUrl, WebviewWindowBuilder};

const PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>empty</title></head><body></body></html>";

/// Answers every request on `listener` with `page`.
fn serve(listener: TcpListener, page: String) {
    for stream in listener.incoming().flatten() {
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        // Read the request head up to the blank line; the body (none for GET) is ignored.
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if line == "\r\n" || line == "\n" {
                break;
            }
            line.clear();
        }
        let mut out = &stream;
        let _ = write!(out, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}", page.len());
    }
}

fn main() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/", listener.local_addr()?);
    let page = match std::env::var_os("EMPTY_WINDOW_PAGE") {
        Some(path) => std::fs::read_to_string(path)?,
        None => PAGE.to_string(),
    };
    std::thread::spawn(move || serve(listener, page));
    tauri::Builder::default()
        .setup(move |app| {
            WebviewWindowBuilder::new(app, "main", WebviewUrl::External(url.parse()?))
                .title("empty")
                .inner_size(1200.0, 780.0)
                .on_page_load(|_, payload| {
                    if payload.event() == PageLoadEvent::Finished {
                        eprintln!("empty-window: page loaded {}", payload.url());
                    }
                })
                .build()?;
            Ok(())
        })
        .run(tauri::generate_context!())?;
    Ok(())
}
