//! Which CPU each side of the SCIM bench runs on. On a machine with two or more CPUs every
//! server runs on CPU 1 and the load generator (this process) on CPU 0, as issue 10 measured:
//! a server then gets one vCPU of its own whatever its threading model (actix workers, node's
//! event loop, python), and the load generator never takes time from it.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// The CPU the servers get, when the machine has two.
const SERVER_CPU: usize = 1;
/// The CPU the load generator gets, when the machine has two.
const LOAD_CPU: usize = 0;

/// Where the servers and the load generator run.
#[derive(Debug, Clone, Copy)]
pub struct Pinning {
    /// Whether both CPUs were there to pin to.
    pinned: bool,
    /// How many CPUs this process could run on before pinning.
    cpus: usize,
}

fn cpu_set_of(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set, and CPU_SET writes
    // one bit of it (cpu is below CPU_SETSIZE, checked by the callers' constants).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

/// Runs the calling thread (and every thread it starts afterwards) on `cpu` only.
fn run_on(cpu: usize) -> std::io::Result<()> {
    let set = cpu_set_of(cpu);
    // SAFETY: pid 0 is the calling thread; the set is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The CPUs this process may run on now.
fn allowed() -> std::io::Result<Vec<usize>> {
    // SAFETY: as in `cpu_set_of`; sched_getaffinity fills the set it is given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect())
    }
}

impl Pinning {
    /// Pins this process to the load generator's CPU when both CPUs are there. Call it before any
    /// thread starts: threads take their CPUs from the thread that starts them.
    pub fn apply() -> anyhow::Result<Pinning> {
        let cpus = allowed()?;
        let pinned = cpus.contains(&SERVER_CPU) && cpus.contains(&LOAD_CPU);
        if pinned {
            run_on(LOAD_CPU)?;
        }
        Ok(Pinning {
            pinned,
            cpus: cpus.len(),
        })
    }

    /// Makes `command` run on the servers' CPU, when pinning.
    pub fn server(&self, command: &mut Command) {
        if self.pinned {
            // SAFETY: the closure runs between fork and exec, where only async-signal-safe calls
            // are allowed: it makes one system call and allocates nothing.
            unsafe {
                command.pre_exec(|| run_on(SERVER_CPU));
            }
        }
    }

    /// The header line that says where everything ran.
    pub fn describe(&self) -> String {
        if self.pinned {
            format!(
                "pinning: each server (vestibule, polis, scim2-server) on CPU {SERVER_CPU}, the load generator on CPU {LOAD_CPU} ({} CPUs; PostgreSQL's own processes are not pinned)",
                self.cpus
            )
        } else {
            format!(
                "pinning: none ({} CPU available: servers and load generator share it)",
                self.cpus
            )
        }
    }
}
