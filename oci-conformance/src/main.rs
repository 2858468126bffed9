//! oci-conformance: run the OCI runtime-spec conformance suite against one
//! runtime binary and print TAP, ending with `N passed, M failed, K skipped`.

mod bundle;
mod context;
mod harness;
mod host;
mod interrupt;
mod results;
mod runtime;
mod seccomp_agent;
mod spec;
mod suite;
mod tempdir;
mod test_user;

use anyhow::{bail, Context as _};
use clap::Parser;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "OCI runtime-spec conformance suite")]
struct Cli {
    /// Runtime binary under test (runc-compatible CLI).
    #[arg(long)]
    runtime: Option<PathBuf>,
    /// Extra global flag for the runtime, before the subcommand (repeatable).
    #[arg(long = "runtime-arg", allow_hyphen_values = true)]
    runtime_args: Vec<String>,
    /// Static busybox copied into every rootfs.
    #[arg(long, default_value = "/bin/busybox")]
    busybox: PathBuf,
    /// The static checker binary (default: oci-checker next to this binary).
    #[arg(long)]
    checker: Option<PathBuf>,
    /// Tests run at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Run only tests whose name contains this (repeatable).
    #[arg(long)]
    filter: Vec<String>,
    /// List the test names and exit.
    #[arg(long)]
    list: bool,
    /// Known gaps of this runtime (`name # reason` per line): failures listed are TODO.
    #[arg(long)]
    known_gaps: Option<PathBuf>,
    /// Tests that passed before: exit non-zero only if one of them fails now.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Write the names of the passing tests to this file.
    #[arg(long)]
    write_passed: Option<PathBuf>,
    /// Write all results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where bundles and the private --root go.
    #[arg(long, default_value = "/tmp")]
    scratch: PathBuf,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oci-conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let all = suite::all();
    let selected: Vec<harness::TestCase> = all
        .into_iter()
        .filter(|t| cli.filter.is_empty() || cli.filter.iter().any(|f| t.name.contains(f)))
        .collect();
    if cli.list {
        for t in &selected {
            println!("{}", t.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(runtime_path) = cli.runtime.clone() else {
        bail!("--runtime PATH is required");
    };
    let runtime_path = std::fs::canonicalize(&runtime_path)
        .with_context(|| format!("runtime {}", runtime_path.display()))?;
    let checker = match &cli.checker {
        Some(c) => c.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary has no directory")?
            .join("oci-checker"),
    };
    let known_gaps = match &cli.known_gaps {
        Some(p) => results::load_list(p)?,
        None => BTreeMap::new(),
    };
    let baseline: Option<BTreeSet<String>> = match &cli.baseline {
        Some(p) => Some(results::load_list(p)?.into_keys().collect()),
        None => None,
    };

    let scratch = tempdir::TempDir::new_in(&cli.scratch, "oci-conformance")?;
    let root = scratch.path().join("root");
    let io_dir = scratch.path().join("io");
    std::fs::create_dir_all(&root)?;
    std::fs::create_dir_all(&io_dir)?;
    let assets = bundle::Assets::prepare(&cli.busybox, &checker, scratch.path())?;
    let rt = runtime::Runtime::new(runtime_path.clone(), cli.runtime_args.clone(), root, io_dir);
    let ctx = context::Ctx::new(rt, assets, host::Host::probe());
    interrupt::install();

    let version = std::process::Command::new(&runtime_path)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    println!("TAP version 13");
    println!("# runtime: {} ({version})", runtime_path.display());
    println!("1..{}", selected.len());
    let results = harness::run_all(&ctx, &selected, cli.jobs, |i, r| {
        println!("{}", results::tap(i + 1, r, &known_gaps));
    });
    ctx.host.remove_cgroup_tree(&ctx.cgroup_parent);
    drop(ctx);
    drop(scratch);

    if let Some(p) = &cli.write_passed {
        results::write_passed(p, &results)?;
    }
    if let Some(p) = &cli.json {
        results::write_json(p, &runtime_path.display().to_string(), &results)?;
    }
    let bad: Vec<&str> = match &baseline {
        Some(b) => {
            let reg = results::regressions(&results, b);
            for name in &reg {
                println!("# REGRESSION: {name} (in the baseline, fails now)");
            }
            reg
        }
        None => {
            let unexpected = results::unexpected_failures(&results, &known_gaps);
            for name in &unexpected {
                println!("# UNEXPECTED FAILURE: {name}");
            }
            unexpected
        }
    };
    let s = results::summarize(&results);
    if interrupt::requested() {
        println!("# INTERRUPTED: the remaining tests were skipped");
    }
    println!(
        "{} passed, {} failed, {} skipped",
        s.passed, s.failed, s.skipped
    );
    if interrupt::requested() {
        return Ok(ExitCode::from(130));
    }
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
