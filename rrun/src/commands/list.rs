//! `rrun list [--format table|json] [-q]`.

use anyhow::{bail, Result};
use librrun::container::{list_ids, Container};
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// select one of: table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// display only container IDs
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn cmd(root: &Path, a: &ListArgs) -> Result<i32> {
    if a.format != "table" && a.format != "json" {
        bail!("invalid format option");
    }
    let mut states = Vec::new();
    for id in list_ids(root)? {
        // A container deleted while we list is simply not listed.
        match Container::open_unlocked(root, &id) {
            Ok(c) => states.push(c.oci_state()),
            // A corrupt or half-written state is shown, not hidden (as runc does, on stderr so
            // that the listing stays parseable); `delete --force ID` removes it.
            Err(e) if root.join(&id).exists() => eprintln!("load container {id}: {e}"),
            Err(_) => {}
        }
    }
    if a.quiet {
        for s in &states {
            super::emit(&format!("{}\n", s.id))?;
        }
        return Ok(0);
    }
    if a.format == "json" {
        super::emit(&(serde_json::to_string(&states)? + "\n"))?;
        return Ok(0);
    }
    let rows: Vec<[String; 6]> = states
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                s.pid.to_string(),
                s.status.to_string(),
                s.bundle.display().to_string(),
                s.created.clone(),
                s.owner.clone(),
            ]
        })
        .collect();
    super::emit(&table(
        &["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        &rows,
    ))?;
    Ok(0)
}

/// Columns padded like Go's tabwriter (minwidth 12, padding 1) as runc prints them.
fn table(head: &[&str; 6], rows: &[[String; 6]]) -> String {
    let mut w = [12usize; 6];
    for (i, h) in head.iter().enumerate() {
        w[i] = w[i].max(h.len() + 1);
    }
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len() + 1);
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<width$}", width = w[i]));
            }
        }
        out.push('\n');
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(|s| s.as_str()).collect());
    }
    out
}
