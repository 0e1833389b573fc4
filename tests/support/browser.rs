//! A real browser for the HTML report: Debian's `chromium`, headless, opening a file the way a
//! reader would, with its console messages on standard error.
//!
//! [`open`] loads one file with `--dump-dom` and `--enable-logging=stderr`, in a profile
//! directory of its own (tests run at once), bounded in time (the process is stopped by its
//! id if it hangs), and returns the document as the browser built it, its text, and every
//! console message (Chromium logs them as `…:CONSOLE:…] "message"`: a script error, a
//! Content-Security-Policy violation, a resource that failed to load).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::tools;

/// How long a page may take to load and be dumped.
const DEADLINE: Duration = Duration::from_secs(60);

/// What the browser made of a page.
#[derive(Debug)]
pub struct Page {
    /// The document as the browser serialised it (`--dump-dom`).
    pub dom: String,
    /// Its text: the DOM without tags, entities decoded, white space collapsed.
    pub text: String,
    /// The console messages the page caused.
    pub console: Vec<String>,
}

/// Opens the HTML file at `path` in headless Chromium.
pub fn open(path: &Path) -> Page {
    tools::require(&["chromium"]);
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", path.canonicalize().unwrap().display());
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            // Stopped by its own process id, never by name.
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading {url} within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out.join().unwrap();
    let log = err.join().unwrap();
    assert!(
        status.success(),
        "chromium failed on {url}: {status}\n{log}"
    );
    assert!(
        dom.contains("<html"),
        "chromium dumped no document for {url}:\n{log}"
    );
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    Page {
        text: text_of(&dom),
        dom,
        console,
    }
}

/// The text of serialised HTML: tags dropped (the head's title and style too), entities
/// decoded, white space collapsed.
pub fn text_of(dom: &str) -> String {
    let body = dom.split_once("<body").map_or(dom, |(_, rest)| {
        rest.split_once('>').map_or(rest, |(_, b)| b)
    });
    let mut text = String::new();
    let mut in_tag = false;
    for ch in body.chars() {
        match ch {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}
