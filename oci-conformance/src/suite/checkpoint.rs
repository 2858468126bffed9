//! `checkpoint` (runc's command line, not runtime-spec): only what holds for any runtime on
//! any host. An unknown id and a created container are refused; where CRIU cannot work
//! (`criu check` fails), a failed checkpoint leaves a running container running.

use crate::context::Ctx;
use crate::harness::{Outcome, Verdict};
use crate::{cases, check};

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "cli/checkpoint/unknown-id-error" => unknown_id,
        "cli/checkpoint/created-error" => created,
        "cli/checkpoint/failure-keeps-running" => failure_keeps_running,
    ]
}

fn image_dir(b: &crate::bundle::Bundle) -> String {
    b.path().join("checkpoint-images").display().to_string()
}

fn unknown_id(ctx: &Ctx) -> Outcome {
    let b = ctx.bundle()?;
    let img = image_dir(&b);
    let c = ctx.guard(ctx.new_id());
    let inv = ctx
        .rt
        .invoke(&["checkpoint", "--image-path", &img, c.id.as_str()])?;
    check!(
        !inv.success(),
        "checkpoint of an unknown id succeeded: {}",
        inv.describe()
    );
    Ok(Verdict::Pass)
}

fn created(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    let img = image_dir(&b);
    let c = ctx.create_ok(&b)?;
    let inv = c.invoke(&["checkpoint", "--image-path", &img, c.id.as_str()])?;
    check!(
        !inv.success(),
        "checkpoint of a created container succeeded: {}",
        inv.describe()
    );
    check!(
        c.status()? == "created",
        "after the refused checkpoint the container is {}",
        c.status()?
    );
    Ok(Verdict::Pass)
}

/// `criu check` (the criu the runtime runs by default, from PATH): None when it works.
fn criu_broken() -> Option<String> {
    match std::process::Command::new("criu").arg("check").output() {
        Err(e) => Some(format!("no criu: {e}")),
        Ok(o) if o.status.success() => None,
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr).into_owned()
                + &String::from_utf8_lossy(&o.stdout);
            Some(text.lines().next().unwrap_or("").to_string())
        }
    }
}

fn failure_keeps_running(ctx: &Ctx) -> Outcome {
    let Some(why) = criu_broken() else {
        return Ok(Verdict::Skip(
            "criu works on this host (this test needs a failing CRIU)".into(),
        ));
    };
    if why.starts_with("no criu") {
        return Ok(Verdict::Skip(why));
    }
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    let img = image_dir(&b);
    let c = ctx.start_ok(&b)?;
    let pid = c.pid()?;
    let inv = c.invoke(&["checkpoint", "--image-path", &img, c.id.as_str()])?;
    check!(
        !inv.success(),
        "checkpoint succeeded although `criu check` fails ({why})"
    );
    check!(
        c.status()? == "running" && c.pid()? == pid,
        "after the failed checkpoint the container is {} (pid {} was {pid})",
        c.status()?,
        c.pid()?
    );
    let inv = c.kill("KILL")?;
    check!(inv.success(), "kill failed: {}", inv.describe());
    c.wait_stopped()?;
    let inv = c.delete()?;
    check!(inv.success(), "delete failed: {}", inv.describe());
    Ok(Verdict::Pass)
}
