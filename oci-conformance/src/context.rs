//! What every test gets: the runtime, the bundle assets, host facts, and
//! helpers to create containers that are always deleted afterwards.

use crate::bundle::{Assets, Bundle};
use crate::harness::Failure;
use crate::host::Host;
use crate::runtime::{Invocation, Io, Runtime};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Ctx {
    pub rt: Runtime,
    pub assets: Assets,
    pub host: Host,
    /// Top cgroup (relative to each hierarchy) under which tests that set
    /// cgroupsPath place their containers; removed at the end of the run.
    pub cgroup_parent: String,
    ids: AtomicU64,
}

/// A container id owned by a test; dropping it deletes the container
/// (`delete --force`, then kill + delete if needed), even on failure.
pub struct Container<'a> {
    ctx: &'a Ctx,
    pub id: String,
}

impl Ctx {
    pub fn new(rt: Runtime, assets: Assets, host: Host) -> Ctx {
        Ctx {
            rt,
            assets,
            host,
            cgroup_parent: format!("oci-conformance-{}", std::process::id()),
            ids: AtomicU64::new(0),
        }
    }

    pub fn new_id(&self) -> String {
        format!(
            "oc{}-{}",
            std::process::id(),
            self.ids.fetch_add(1, Ordering::Relaxed)
        )
    }

    pub fn bundle(&self) -> Result<Bundle, Failure> {
        Ok(Bundle::new(&self.assets)?)
    }

    /// A cgroupsPath under the run's private parent.
    pub fn cgroups_path(&self, id: &str) -> String {
        format!("/{}/{id}", self.cgroup_parent)
    }

    /// Guard for an id (whether or not a container exists under it yet).
    pub fn guard(&self, id: String) -> Container<'_> {
        Container { ctx: self, id }
    }

    /// `create --bundle B ID` under a new id; the container's stdio is
    /// `B/stdout` and `B/stderr`. Returns the guard and the invocation, even
    /// when create failed.
    pub fn create(&self, b: &Bundle) -> Result<(Container<'_>, Invocation), Failure> {
        let id = self.new_id();
        self.create_as(b, id, &[])
    }

    pub fn create_as(
        &self,
        b: &Bundle,
        id: String,
        extra: &[&str],
    ) -> Result<(Container<'_>, Invocation), Failure> {
        b.write_config()?;
        let c = self.guard(id);
        let bundle = b.path().display().to_string();
        let mut args = vec!["create", "--bundle", bundle.as_str()];
        args.extend_from_slice(extra);
        args.push(c.id.as_str());
        let inv = self.rt.invoke_io(
            &args,
            &Io {
                stdout: &b.path().join("stdout"),
                stderr: &b.path().join("stderr"),
            },
        )?;
        Ok((c, inv))
    }

    /// Create and require success.
    pub fn create_ok(&self, b: &Bundle) -> Result<Container<'_>, Failure> {
        let (c, inv) = self.create(b)?;
        crate::check!(inv.success(), "create failed: {}", inv.describe());
        Ok(c)
    }

    /// Create and start, requiring both to succeed.
    pub fn start_ok(&self, b: &Bundle) -> Result<Container<'_>, Failure> {
        let c = self.create_ok(b)?;
        let inv = c.start()?;
        crate::check!(inv.success(), "start failed: {}", inv.describe());
        Ok(c)
    }

    /// `run --bundle B ID` in the foreground: the invocation's stdout is the
    /// container's stdout and its exit code the process's.
    pub fn run(&self, b: &Bundle) -> Result<Invocation, Failure> {
        b.write_config()?;
        let c = self.guard(self.new_id());
        let bundle = b.path().display().to_string();
        Ok(self
            .rt
            .invoke(&["run", "--bundle", bundle.as_str(), c.id.as_str()])?)
    }

    /// Run the checker (already set as the process) and parse its JSON.
    pub fn run_checker(&self, b: &Bundle) -> Result<Value, Failure> {
        let inv = self.run(b)?;
        crate::check!(inv.success(), "run failed: {}", inv.describe());
        parse_json("checker output", &inv.stdout)
    }
}

pub fn parse_json(what: &'static str, text: &str) -> Result<Value, Failure> {
    serde_json::from_str(text.trim()).map_err(|source| Failure::Json {
        what,
        text: text.chars().take(2000).collect(),
        source,
    })
}

impl Container<'_> {
    pub fn invoke(&self, args: &[&str]) -> Result<Invocation, Failure> {
        Ok(self.ctx.rt.invoke(args)?)
    }

    pub fn start(&self) -> Result<Invocation, Failure> {
        self.invoke(&["start", &self.id])
    }

    pub fn kill(&self, signal: &str) -> Result<Invocation, Failure> {
        self.invoke(&["kill", &self.id, signal])
    }

    pub fn delete(&self) -> Result<Invocation, Failure> {
        self.invoke(&["delete", &self.id])
    }

    pub fn state_raw(&self) -> Result<Invocation, Failure> {
        self.invoke(&["state", &self.id])
    }

    /// The state JSON, requiring `state` to succeed.
    pub fn state(&self) -> Result<Value, Failure> {
        let inv = self.state_raw()?;
        crate::check!(inv.success(), "state failed: {}", inv.describe());
        parse_json("state output", &inv.stdout)
    }

    pub fn status(&self) -> Result<String, Failure> {
        Ok(self.state()?["status"].as_str().unwrap_or("").to_string())
    }

    /// The container process's host pid from the state.
    pub fn pid(&self) -> Result<i64, Failure> {
        let st = self.state()?;
        match st["pid"].as_i64() {
            Some(p) if p > 0 => Ok(p),
            _ => crate::fail!("state has no positive pid: {st}"),
        }
    }

    /// Poll `state` until the status is "stopped" (a hang guard, not a timing check).
    pub fn wait_stopped(&self) -> Result<(), Failure> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.status()?;
            if status == "stopped" {
                return Ok(());
            }
            crate::check!(
                Instant::now() < deadline,
                "container never reached stopped (last status {status:?})"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Poll until `path` exists (hang guard: 30 s).
pub fn wait_for_file(path: &std::path::Path) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        crate::check!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let Ok(inv) = self.ctx.rt.invoke(&["delete", "--force", &self.id]) else {
            return;
        };
        if inv.success() {
            return;
        }
        // Either nothing exists under this id (fine) or --force is not
        // supported: kill, wait, delete.
        let exists = self
            .ctx
            .rt
            .invoke(&["state", &self.id])
            .map(|s| s.success())
            .unwrap_or(false);
        if exists {
            let _ = self.ctx.rt.invoke(&["kill", &self.id, "KILL"]);
            let _ = self.wait_stopped();
            if let Ok(inv) = self.ctx.rt.invoke(&["delete", &self.id]) {
                if !inv.success() {
                    eprintln!(
                        "# warning: could not delete {}: {}",
                        self.id,
                        inv.describe()
                    );
                }
            }
        }
    }
}
