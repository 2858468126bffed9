//! The calls rrun makes to systemd's manager (org.freedesktop.systemd1.Manager): start a
//! transient unit and wait for its job, set properties, stop a unit and wait, reset a failed
//! one.
//!
//! As root, systemd's private socket (/run/systemd/private, what systemctl uses) is tried
//! first: it needs no bus daemon (dbus is only recommended by systemd, minimal hosts lack it)
//! and skips a hop. Otherwise the system bus (DBUS_SYSTEM_BUS_ADDRESS, else
//! /run/dbus/system_bus_socket), where the manager's signals must be subscribed to.

use std::path::Path;
use std::time::Duration;

use super::dbus::{Connection, DbusError, Message, Value};
use super::properties::Property;
use crate::cgroups::error::CgroupError;

const SYSTEMD: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PRIVATE_SOCKET: &str = "/run/systemd/private";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
/// How long a call or a job may take (runc waits 30 s for a unit to start).
const TIMEOUT: Duration = Duration::from_secs(30);

/// Whether systemd is pid 1 and runs its manager here (sd_booted(3)'s test).
pub fn running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// A connection to systemd's manager.
#[derive(Debug)]
pub struct Systemd {
    conn: Connection,
    /// Through a bus daemon (messages need a destination).
    bus: bool,
}

fn is_job_removed(m: &Message) -> bool {
    m.member.as_deref() == Some("JobRemoved") && m.interface.as_deref() == Some(MANAGER)
}

fn call_error<'a>(op: &'static str, unit: &'a str) -> impl Fn(DbusError) -> CgroupError + 'a {
    move |source| CgroupError::Systemd {
        op,
        unit: unit.to_string(),
        source: Box::new(source),
    }
}

/// Properties as the `a(sv)` argument of StartTransientUnit and SetUnitProperties.
fn properties_value(properties: &[Property]) -> Value {
    Value::Array {
        elem: "(sv)".into(),
        items: properties
            .iter()
            .map(|(k, v)| {
                Value::Struct(vec![
                    Value::Str(k.clone()),
                    Value::Variant(Box::new(v.clone())),
                ])
            })
            .collect(),
    }
}

impl Systemd {
    /// Connect to systemd; a clear error when it does not run here.
    pub fn connect() -> Result<Systemd, CgroupError> {
        if !running() {
            return Err(CgroupError::SystemdNotRunning);
        }
        let connect_err = call_error("connect", "");
        if nix::unistd::geteuid().is_root() && Path::new(PRIVATE_SOCKET).exists() {
            if let Ok(conn) = Connection::open(Path::new(PRIVATE_SOCKET), TIMEOUT, is_job_removed) {
                return Ok(Systemd { conn, bus: false });
            }
        }
        let socket = match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
            Ok(addr) if !addr.is_empty() => {
                super::dbus::connection::socket_of_address(&addr).map_err(&connect_err)?
            }
            _ => SYSTEM_BUS.into(),
        };
        let conn = Connection::open(&socket, TIMEOUT, is_job_removed).map_err(&connect_err)?;
        let mut s = Systemd { conn, bus: true };
        let hello = Message::method_call(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            &[],
        )
        .map_err(&connect_err)?;
        s.conn.call(&hello).map_err(&connect_err)?;
        let rule = format!(
            "type='signal',sender='{SYSTEMD}',path='{PATH}',interface='{MANAGER}',member='JobRemoved'"
        );
        let add_match = Message::method_call(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
            &[Value::Str(rule)],
        )
        .map_err(&connect_err)?;
        s.conn.call(&add_match).map_err(&connect_err)?;
        // On the bus, systemd sends its signals only while someone is subscribed.
        s.manager_call("Subscribe", &[]).map_err(&connect_err)?;
        Ok(s)
    }

    fn manager_call(&mut self, member: &str, args: &[Value]) -> Result<Vec<Value>, DbusError> {
        let dest = self.bus.then_some(SYSTEMD);
        let m = Message::method_call(dest, PATH, MANAGER, member, args)?;
        self.conn.call(&m)
    }

    /// Wait for the JobRemoved signal of `job`; its result (`done`, `failed`, ...).
    fn wait_job(&mut self, job: &str) -> Result<String, DbusError> {
        self.conn.wait_signal(&format!("end of job {job}"), |m| {
            let args = m.args().ok()?;
            if args.get(1)?.as_str()? != job {
                return None;
            }
            Some(args.get(3)?.as_str()?.to_string())
        })
    }

    fn job_of(reply: &[Value]) -> Result<String, DbusError> {
        reply
            .first()
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| DbusError::Malformed("the reply names no job".into()))
    }

    /// StartTransientUnit(name, "replace", properties) and wait until its job is done. A
    /// failed leftover unit of the same name is reset and the start tried once more.
    pub fn start_transient_unit(
        &mut self,
        name: &str,
        properties: &[Property],
    ) -> Result<(), CgroupError> {
        let props = properties_value(properties);
        let aux = Value::Array {
            elem: "(sa(sv))".into(),
            items: Vec::new(),
        };
        let args = [
            Value::Str(name.to_string()),
            Value::Str("replace".into()),
            props,
            aux,
        ];
        let err = call_error("StartTransientUnit", name);
        let reply = match self.manager_call("StartTransientUnit", &args) {
            Err(e) if e.remote_name() == Some("org.freedesktop.systemd1.UnitExists") => {
                self.reset_failed(name);
                self.manager_call("StartTransientUnit", &args)
            }
            other => other,
        }
        .map_err(&err)?;
        let job = Self::job_of(&reply).map_err(&err)?;
        let result = self.wait_job(&job).map_err(&err)?;
        if result != "done" {
            return Err(CgroupError::SystemdJob {
                op: "start",
                unit: name.to_string(),
                result,
            });
        }
        Ok(())
    }

    /// SetUnitProperties(name, runtime=true, properties).
    pub fn set_unit_properties(
        &mut self,
        name: &str,
        properties: &[Property],
    ) -> Result<(), CgroupError> {
        if properties.is_empty() {
            return Ok(());
        }
        let props = properties_value(properties);
        self.manager_call(
            "SetUnitProperties",
            &[Value::Str(name.to_string()), Value::Bool(true), props],
        )
        .map_err(call_error("SetUnitProperties", name))?;
        Ok(())
    }

    /// StopUnit(name, "replace") and wait for its job; a unit that is already gone (a scope
    /// ends by itself once its last process exits) is no error.
    pub fn stop_unit(&mut self, name: &str) -> Result<(), CgroupError> {
        let err = call_error("StopUnit", name);
        let reply = match self.manager_call(
            "StopUnit",
            &[Value::Str(name.to_string()), Value::Str("replace".into())],
        ) {
            Err(e) if e.remote_name() == Some("org.freedesktop.systemd1.NoSuchUnit") => {
                return Ok(())
            }
            other => other.map_err(&err)?,
        };
        let job = Self::job_of(&reply).map_err(&err)?;
        let result = self.wait_job(&job).map_err(&err)?;
        if result != "done" && result != "canceled" {
            self.reset_failed(name);
            return Err(CgroupError::SystemdJob {
                op: "stop",
                unit: name.to_string(),
                result,
            });
        }
        // A scope whose processes were killed ends "failed"; forget it so that the name can be
        // used again.
        self.reset_failed(name);
        Ok(())
    }

    /// ResetFailedUnit(name); errors (the unit is not failed, or gone) do not matter.
    pub fn reset_failed(&mut self, name: &str) {
        let _ = self.manager_call("ResetFailedUnit", &[Value::Str(name.to_string())]);
    }
}
