//! The command line: parsing (clap) and one function per command. Exit codes: 0 success, 1 the
//! operation failed, 2 usage or configuration error.

mod deliveries;
mod events;
mod export;
mod import;
mod output;
mod replay;
mod send;
mod signing;
mod source;
mod targets;

use crate::app::{self, ListenOptions};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "hooklens",
    version,
    about = "Capture, verify, relay and replay webhooks on your own machine",
    after_help = "Examples:\n  hooklens                                   listen on 127.0.0.1:8989\n  hooklens --forward localhost:3000/webhooks  listen and relay (listen's flags work without the word)\n  hooklens --config hooklens.toml listen --headless\n  hooklens events list\n  hooklens events show 01JD0000000000000000000000 --json\n  hooklens sign --scheme github --secret s3cret body.json\n  hooklens verify --scheme github --secret s3cret --header 'X-Hub-Signature-256: sha256=...' body.json"
)]
pub struct Cli {
    /// Configuration file (TOML); watched and applied live while listening.
    #[arg(long, global = true, env = "HOOKLENS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Directory for the history, the API token and instance.json.
    #[arg(long, global = true, env = "HOOKLENS_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// `listen`'s flags, given without the word (`hooklens --forward localhost:3000/hooks`).
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive webhooks (and relay them); the default command.
    #[command(
        after_help = "Examples:\n  hooklens listen\n  hooklens listen --bind 127.0.0.1:0 --headless\n  hooklens listen --forward http://localhost:3000/webhooks --forward http://localhost:4000/hooks"
    )]
    Listen(ListenArgs),
    /// Read the captured history.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Read deliveries: which failed, to which target, how.
    #[command(subcommand)]
    Deliveries(deliveries::DeliveriesCommand),
    /// Deliver a captured event again (to its targets, --target NAME or --to URL), or every
    /// dead letter (--state dead).
    Replay(replay::ReplayArgs),
    /// Each target's health, and the on-call controls: pause, resume, probe.
    #[command(subcommand)]
    Targets(targets::TargetsCommand),
    /// Captured events as JSONL, HAR 1.2 or curl commands (oldest first), to hand to someone.
    Export(export::ExportArgs),
    /// Load a colleague's export (jsonl or har) into this history, marked as imported.
    Import(import::ImportArgs),
    /// Send a signed sample event (from the catalog, or a file) as its provider would.
    Send(send::SendArgs),
    /// Shell completions: `hooklens completions bash > ~/.local/share/bash-completion/completions/hooklens`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Sign a body: prints one `Name: value` line per header to send.
    Sign(signing::SignArgs),
    /// Check a signature; exit 0 only if verified. Prints the evidence and, on failure, why.
    Verify(signing::VerifyArgs),
}

#[derive(Debug, Args, Default)]
pub struct ListenArgs {
    /// Receiver address (port 0 = any free port).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// Control API address (port 0 when --bind has port 0).
    #[arg(long, value_name = "ADDR")]
    pub api_bind: Option<SocketAddr>,
    /// A target for every route; repeatable. No config file needed.
    #[arg(long, value_name = "URL")]
    pub forward: Vec<String>,
    /// No interface: one JSON object per line on stdout.
    #[arg(long)]
    pub headless: bool,
    /// Start the interface without mouse capture (the terminal's own text selection works).
    #[arg(long)]
    pub no_mouse: bool,
}

impl ListenArgs {
    /// These flags (given after `listen`) over `outer` (given before it, or without the word).
    fn over(self, outer: ListenArgs) -> ListenArgs {
        ListenArgs {
            bind: self.bind.or(outer.bind),
            api_bind: self.api_bind.or(outer.api_bind),
            forward: if self.forward.is_empty() {
                outer.forward
            } else {
                self.forward
            },
            headless: self.headless || outer.headless,
            no_mouse: self.no_mouse || outer.no_mouse,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Newest events first.
    #[command(
        after_help = "Examples:\n  hooklens events list\n  hooklens events list --json --limit 10 | jq .id\n  hooklens events list --state partial      # some targets got it, others did not\n  hooklens events list --route stripe --verdict mismatch"
    )]
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// How many events.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
        /// Only events of this route.
        #[arg(long, value_name = "ROUTE")]
        route: Option<String>,
        /// Only this verdict: verified, mismatch, missing, malformed, stale, no_secret, unsigned.
        #[arg(long, value_name = "VERDICT", value_parser = deliveries::variant::<crate::model::Verdict>)]
        verdict: Option<crate::model::Verdict>,
        /// Only events whose deliveries are: none, pending, succeeded, partial, failed, dead.
        #[arg(long, value_name = "STATE", value_parser = deliveries::variant::<crate::model::DeliveriesState>)]
        state: Option<crate::model::DeliveriesState>,
    },
    /// One event: headers, body, verification, deliveries.
    #[command(
        after_help = "Examples:\n  hooklens events show 01JD0000000000000000000000\n  hooklens events show 01JD0000000000000000000000 --json | jq -r .body_base64 | base64 -d"
    )]
    Show {
        /// Event id (or a delivery id: shows its event).
        id: String,
        /// The contract's JSON object.
        #[arg(long)]
        json: bool,
        /// Show header values that may be secrets (Authorization, Cookie, a route's secret header).
        #[arg(long)]
        reveal: bool,
    },
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 2,
            error: error.into(),
        }
    }

    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::failed(error)
    }
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_file = interface_log(&cli);
    init_tracing(log_file.as_ref().map(|(_, file)| file));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("hooklens: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): what it wanted it has; nothing to report.
        Err(failure) if is_broken_pipe(&failure.error) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("hooklens: {}", shown_error(&failure.error));
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        None => listen(cli.config, cli.data, cli.listen).await,
        Some(Command::Listen(args)) => listen(cli.config, cli.data, args.over(cli.listen)).await,
        Some(Command::Events(command)) => events::run(cli.data, command).await,
        Some(Command::Deliveries(command)) => deliveries::run(cli.data, command).await,
        Some(Command::Replay(args)) => replay::run(cli.config, cli.data, args).await,
        Some(Command::Targets(command)) => targets::run(cli.config, cli.data, command).await,
        Some(Command::Export(args)) => export::run(cli.data, args).await,
        Some(Command::Send(args)) => send::run(args).await,
        Some(Command::Import(args)) => import::run(cli.data, args).await,
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "hooklens",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Some(Command::Sign(args)) => signing::sign(args),
        Some(Command::Verify(args)) => signing::verify(args),
    }
}

async fn listen(
    config: Option<PathBuf>,
    data: Option<PathBuf>,
    args: ListenArgs,
) -> Result<(), Failure> {
    let interface = interactive(&args);
    let mouse = !args.no_mouse;
    let options = ListenOptions {
        config_path: config,
        data_dir: data,
        bind: args.bind,
        api_bind: args.api_bind,
        forward: args.forward,
        disk_full: None,
    };
    let config = app::initial_config(&options).map_err(Failure::usage)?;
    if interface {
        let keymap = crate::tui::keymap::Keymap::with_overrides(&config.keys)
            .map_err(|e| Failure::usage(anyhow::anyhow!("keys.{}: {}", e.action, e.message)))?;
        let log = crate::instance::DataDir::resolve(options.data_dir.as_deref())
            .map(|d| d.path().join(LOG_FILE).display().to_string())
            .unwrap_or_default();
        let instance = app::Instance::start(options, config)
            .await
            .map_err(Failure::failed)?;
        return crate::tui::run(instance, keymap, mouse, log)
            .await
            .map_err(Failure::failed);
    }
    app::run_headless(options, config)
        .await
        .map_err(Failure::failed)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// An error as printed: it may quote what a sender sent (a name, a path, a message the instance
/// answered), so each line is escaped; the lines themselves stay (a TOML error points with a
/// caret on the line below).
fn shown_error(error: &anyhow::Error) -> String {
    format!("{error:#}")
        .split('\n')
        .map(crate::text::escape)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The configuration a command without an instance works with: `--config`, else the embedded
/// default.
fn load_config(path: Option<PathBuf>) -> Result<crate::config::Config, Failure> {
    let options = ListenOptions {
        config_path: path,
        ..ListenOptions::default()
    };
    app::initial_config(&options).map_err(Failure::usage)
}

/// Where logs go while the interface is up (stderr would paint over the screen).
const LOG_FILE: &str = "hooklens.log";

/// The interface opens for `listen` (or no command) when stdin and stdout are terminals and
/// `--headless` is not given.
fn interactive(args: &ListenArgs) -> bool {
    !args.headless && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The log file of the interface, opened (0600, appended) when the command will open it.
fn interface_log(cli: &Cli) -> Option<(PathBuf, std::fs::File)> {
    let opens = match &cli.command {
        None => interactive(&cli.listen),
        Some(Command::Listen(args)) => interactive(args) && interactive(&cli.listen),
        Some(_) => false,
    };
    if !opens {
        return None;
    }
    let dir = crate::instance::DataDir::resolve(cli.data.as_deref()).ok()?;
    crate::instance::private_dir(dir.path()).ok()?;
    let path = dir.path().join(LOG_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).ok()?;
    Some((path, file))
}

fn init_tracing(file: Option<&std::fs::File>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HOOKLENS_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    if let Some(file) = file.and_then(|f| f.try_clone().ok()) {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .with_target(false)
            .try_init();
        return;
    }
    // Colour only for a person: stderr a terminal, and NO_COLOR unset (no-color.org).
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_escaped_line_by_line() {
        let error =
            anyhow::anyhow!("no \u{202e}x\u{1b}[2J\n  | ^ here").context("the instance answered");
        assert_eq!(
            shown_error(&error),
            "the instance answered: no \\u{202e}x\\x1b[2J\n  | ^ here"
        );
    }
}
