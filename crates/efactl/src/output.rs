//! Output plumbing shared by the commands: formats and colour.

use std::io::{IsTerminal, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
    pub fn enabled_for_stdout(self) -> bool {
        self.enabled(std::io::stdout().is_terminal())
    }

    pub fn enabled_for_stderr(self) -> bool {
        self.enabled(std::io::stderr().is_terminal())
    }

    fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingsFormat {
    Human,
    Json,
    Sarif,
}

/// Writes to stdout, treating a closed pipe (`efactl rules | head`) as success.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// The exit codes of every command (docs/output.md, "Exit codes").
pub mod exit {
    /// Done; nothing at or above `--fail-on` (for `doctor` and `nccl analyze`: healthy).
    pub const OK: u8 = 0;
    /// Findings at or above `--fail-on`: the spec, template, account, fabric or log has a
    /// problem (also: a deploy that failed and was rolled back, a timed-out wait).
    pub const FINDINGS: u8 = 1;
    /// Bad input or usage: an unreadable or malformed file, a bad flag, missing credentials or
    /// region, a refused output location. Nothing was changed.
    pub const USAGE: u8 = 2;
}

/// Reports a failure of `command`: one line on stderr and, under `--format json`, an error
/// document on stdout too, so that a script reading stdout always gets JSON.
pub fn fail(format: Format, command: &str, code: u8, message: &str) -> anyhow::Result<u8> {
    eprintln!("efactl: {message}");
    if format == Format::Json {
        print(&error_document(command, code, message, None))?;
    }
    Ok(code)
}

/// The JSON error document (schema `efactl.error/v1`); `hint` only when there is one.
pub fn error_document(command: &str, code: u8, message: &str, hint: Option<&str>) -> String {
    let mut doc = serde_json::json!({
        "schema": "efactl.error/v1",
        "command": command,
        "exitCode": code,
        "error": message,
    });
    if let Some(h) = hint {
        doc["hint"] = serde_json::Value::from(h);
    }
    serde_json::to_string_pretty(&doc).expect("serialises") + "\n"
}
