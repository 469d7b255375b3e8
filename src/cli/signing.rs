//! `sign` and `verify`: the signature schemes on the command line, for demos and for debugging a
//! sender or a consumer without running anything.

use super::Failure;
use crate::config::SchemeName;
use crate::live;
use crate::model::{Header, Timestamp, Verdict, Verification};
use crate::signature::{self, Encoding, Scheme, Secret, SecretValue, Verifier};
use crate::text::{escape, write_json_line};
use anyhow::{Context, anyhow};
use clap::Args;
use std::io::{Read, Write};
use std::path::PathBuf;

/// The scheme and its secrets, shared by `sign` and `verify`.
#[derive(Debug, Args)]
pub struct SchemeArgs {
    /// zentra | standard-webhooks | stripe | github | slack | shopify | header-secret | hmac
    #[arg(long, value_name = "S")]
    pub scheme: Option<String>,
    /// A signing secret; repeat for a rotation window (labelled #1, #2, ...). On the command
    /// line it is visible to other users in the process list: prefer HOOKLENS_SECRET or
    /// --secret-file.
    #[arg(
        long,
        value_name = "X",
        env = "HOOKLENS_SECRET",
        hide_env_values = true
    )]
    pub secret: Vec<String>,
    /// A file holding one secret (a trailing newline is not part of it); repeatable, after any
    /// --secret in the rotation order.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Vec<std::path::PathBuf>,
    /// hmac: the signature header.
    #[arg(long, value_name = "NAME")]
    pub sig_header: Option<String>,
    /// hmac: text before the encoded signature, e.g. `sha256=`.
    #[arg(long)]
    pub prefix: Option<String>,
    /// hmac: hex or base64.
    #[arg(long, value_parser = ["hex", "base64"])]
    pub encoding: Option<String>,
    /// hmac: the header that carries the signed timestamp.
    #[arg(long, value_name = "NAME")]
    pub timestamp_header: Option<String>,
    /// hmac: what is signed, e.g. `{timestamp}.{body}` (default `{body}`).
    #[arg(long, value_name = "TEMPLATE")]
    pub signed: Option<String>,
    /// header-secret: the header carrying the secret (default X-Webhook-Secret).
    #[arg(long, value_name = "NAME")]
    pub secret_header: Option<String>,
}

impl SchemeArgs {
    /// The scheme `--scheme` names (`fallback` when it names none: `send`'s sample's own).
    pub(super) fn scheme(&self, fallback: Option<&str>) -> Result<Scheme, Failure> {
        let Some(given) = self.scheme.as_deref().or(fallback) else {
            return Err(Failure::usage(anyhow!(
                "--scheme is required; one of: {}",
                Scheme::NAMES.join(", ")
            )));
        };
        let name: SchemeName = given.parse().map_err(|_| {
            Failure::usage(anyhow!(
                "unknown scheme {given:?}; one of: {}",
                Scheme::NAMES.join(", ")
            ))
        })?;
        let header = match name {
            SchemeName::HeaderSecret => self.secret_header.as_deref(),
            _ => self.sig_header.as_deref(),
        };
        let encoding = self.encoding.as_deref().map(|e| match e {
            "base64" => Encoding::Base64,
            _ => Encoding::Hex,
        });
        let scheme = live::scheme(
            name,
            header,
            self.prefix.as_deref(),
            encoding,
            self.timestamp_header.as_deref(),
            self.signed.as_deref(),
        );
        scheme.validate().map_err(Failure::usage)?;
        Ok(scheme)
    }

    pub(super) fn secrets(&self) -> Result<Vec<Secret>, Failure> {
        let mut values: Vec<Vec<u8>> = self.secret.iter().map(|s| s.as_bytes().to_vec()).collect();
        for path in &self.secret_file {
            let mut bytes = std::fs::read(path)
                .with_context(|| format!("cannot read --secret-file {}", path.display()))
                .map_err(Failure::usage)?;
            while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                bytes.pop();
            }
            values.push(bytes);
        }
        if values.is_empty() {
            return Err(Failure::usage(anyhow!(
                "a secret is required: HOOKLENS_SECRET, --secret-file PATH or --secret X"
            )));
        }
        Ok(values
            .into_iter()
            .enumerate()
            .map(|(i, s)| Secret::positional(i, SecretValue::new(s)))
            .collect())
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  echo -n '{\"type\":\"invoice.paid\"}' > body.json\n  hooklens sign --scheme stripe --secret whsec_test --timestamp 1700000000 body.json\n  hooklens sign --scheme github --secret s3cret --id d-1 body.json | sed 's/^/-H /'\n  hooklens sign --scheme hmac --secret k --sig-header X-Sig --prefix sha256= --timestamp-header X-Ts --signed '{timestamp}.{body}' body.json"
)]
pub struct SignArgs {
    #[command(flatten)]
    pub scheme: SchemeArgs,
    /// Unix seconds to sign (default: now), where the scheme signs a timestamp.
    #[arg(long, value_name = "T")]
    pub timestamp: Option<i64>,
    /// Fills the scheme's id header (webhook-id, X-Zentra-Delivery-Id, X-GitHub-Delivery, ...).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Fills the scheme's event header (X-Zentra-Event).
    #[arg(long, value_name = "TYPE")]
    pub event_type: Option<String>,
    /// The body: a file, or - for standard input.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  hooklens verify --scheme github --secret s3cret --header 'X-Hub-Signature-256: sha256=...' body.json\n  hooklens verify --scheme stripe --secret whsec_test --header \"$(grep Stripe-Signature headers.txt)\" --now 1700000005 body.json\n  hooklens sign --scheme slack --secret s --timestamp 1700000000 body.json > h.txt\n  hooklens verify --scheme slack --secret s $(sed 's/^/--header=/' h.txt | tr '\\n' ' ') --now 1700000000 body.json"
)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub scheme: SchemeArgs,
    /// A received header, `Name: value`; repeatable.
    #[arg(long = "header", value_name = "'Name: value'")]
    pub headers: Vec<String>,
    /// The receiving clock, unix seconds (default: now).
    #[arg(long, value_name = "T")]
    pub now: Option<i64>,
    /// Seconds a signed timestamp may be off.
    #[arg(long, default_value_t = signature::DEFAULT_TOLERANCE_SECS, value_name = "SECS")]
    pub tolerance: i64,
    /// Print the verification as JSON.
    #[arg(long)]
    pub json: bool,
    /// The body: a file, or - for standard input.
    pub file: PathBuf,
}

fn read_body(file: &PathBuf) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    }
    Ok(body)
}

pub fn sign(args: SignArgs) -> Result<(), Failure> {
    let scheme = args.scheme.scheme(None)?;
    let secrets = args.scheme.secrets()?;
    let body = read_body(&args.file)?;
    let timestamp = args
        .timestamp
        .unwrap_or_else(|| crate::model::now().unix_secs());
    let headers = signature::try_sign(
        &scheme,
        &secrets,
        &body,
        timestamp,
        args.id.as_deref(),
        args.event_type.as_deref(),
    )
    .map_err(Failure::usage)?;
    let mut out = std::io::stdout().lock();
    // The values are ours but for `--id`, which may have been copied from a captured event.
    for (name, value) in headers {
        writeln!(out, "{name}: {}", escape(&value))?;
    }
    Ok(())
}

pub fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let scheme = args.scheme.scheme(None)?;
    let secrets = args.scheme.secrets()?;
    let body = read_body(&args.file)?;
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let now = match args.now {
        Some(t) => Timestamp::from_unix_millis(t.saturating_mul(1000)),
        None => crate::model::now(),
    };
    let verifier = Verifier::new(scheme, secrets).with_tolerance(args.tolerance);
    let verification = verifier.verify(&headers, &body, now);
    let mut out = std::io::stdout().lock();
    if args.json {
        write_json_line(&mut out, &verification)?;
    } else {
        print_verification(&mut out, &verification)?;
    }
    if verification.verdict == Verdict::Verified {
        Ok(())
    } else {
        Err(Failure {
            code: 1,
            error: anyhow!("not verified: {}", verification.verdict.as_str()),
        })
    }
}

/// `Name: value` → a header as the receiver would have captured it (name lowercased).
fn parse_header(text: &str) -> Result<Header, Failure> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| Failure::usage(anyhow!("--header {text:?} is not 'Name: value'")))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Failure::usage(anyhow!("--header {text:?} has no name")));
    }
    Ok(Header::new(
        name.to_ascii_lowercase(),
        value.trim().as_bytes(),
    ))
}

pub fn print_verification(out: &mut impl Write, v: &Verification) -> std::io::Result<()> {
    let show = |s: &Option<String>| {
        s.as_deref()
            .map_or("-".to_owned(), |s| escape(s).into_owned())
    };
    writeln!(out, "verdict    {}", v.verdict.as_str())?;
    writeln!(out, "scheme     {}", show(&v.scheme))?;
    writeln!(out, "secret     {}", show(&v.secret))?;
    match v.skew_secs {
        Some(skew) => writeln!(out, "timestamp  {} (skew {skew} s)", show(&v.timestamp))?,
        None => writeln!(out, "timestamp  {}", show(&v.timestamp))?,
    }
    writeln!(out, "received   {}", show(&v.received))?;
    writeln!(out, "expected   {}", show(&v.expected))?;
    writeln!(out, "signed     {}", show(&v.signed_content))?;
    print_diagnosis(out, v)
}

/// `diagnosis  code: message`, when there is one.
pub fn print_diagnosis(out: &mut impl Write, v: &Verification) -> std::io::Result<()> {
    if let Some(d) = &v.diagnosis {
        writeln!(
            out,
            "diagnosis  {}: {}",
            escape(&d.code),
            escape(&d.message)
        )?;
    }
    Ok(())
}
