/**
 * Runs one untrusted program (an interpreter reading its program from stdin) in an OS
 * sandbox, with a private result channel on fd 3.
 *
 * On Linux with util-linux (`unshare`, `prlimit`, `setpriv`) and namespaces available, the
 * child gets, in this order of wrapping:
 * - `setpriv --pdeathsig KILL`: killed when sftkit dies, even by SIGKILL;
 * - `unshare --net --pid --fork --kill-child --mount` (plus `--user --map-root-user` when not
 *   root): no network but a loopback that is down; its own PID namespace, so every process it
 *   forks dies with it; its own mount namespace;
 * - a filesystem view built with a chroot: the system directories (`/usr`, `/bin`, `/lib*`,
 *   `/etc`) and the interpreter's own installation read-only, `/dev/{null,zero,random,urandom}`,
 *   a fresh `/proc`, and `/sandbox`, a size-capped tmpfs that is the only writable place and
 *   disappears with the namespace (nothing of the run is left on disk, whatever kills it);
 * - `prlimit`: address space or data segment (native buffers included), processes/threads,
 *   file size, open files, no core dumps;
 * - `setpriv --no-new-privs`, and: when sftkit runs as root, uid/gid 65534 with no groups (so
 *   RLIMIT_NPROC applies); in a user namespace, no capabilities, now or after exec.
 * Elsewhere each missing layer is dropped and reported (`Isolation`); the wall-clock watchdog,
 * the own process group (killed as a whole on timeout) and the output caps always apply.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";

/** What a run was confined by; anything false is reported to the user. */
export interface Isolation {
  network: boolean;
  filesystem: boolean;
  killedWithParent: boolean;
  memory: boolean;
  processes: boolean;
}

export interface SandboxSpec {
  /** argv of the interpreter, given the working directory as the child sees it */
  argv: (workDir: string) => string[];
  /** the program, written to the child's stdin */
  program: string;
  /** 32 random bytes only the trusted prologue reads (from fd 3) */
  nonce: Buffer;
  timeoutMs: number;
  memoryMb: number;
  /** RLIMIT_AS for interpreters that reserve little address space; RLIMIT_DATA for V8 */
  memoryLimit: "as" | "data";
  /** directories the interpreter needs to read (its installation) */
  readPaths: string[];
}

export interface SandboxRun {
  stdout: string;
  stderr: string;
  /** everything the child wrote on fd 3 */
  channel: Buffer;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  isolation: Isolation;
}

const OUTPUT_CAP = 64 * 1024;
const CHANNEL_CAP = 4096;
const WORK_DIR = "/sandbox";
const NOBODY = 65534;
const DEVICES = ["/dev/null", "/dev/zero", "/dev/urandom"];
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];

/**
 * Runs inside the new namespaces as (namespace) root: builds the chroot on a tmpfs at $1 and
 * starts "$@" in /sandbox. $2: directories bound as they are (system directories, not
 * writable by the child's user); $3: directories bound read-only (the interpreter's
 * installation, which may belong to the user); $4: symlinks as path=target. Lists are
 * colon-separated. Shell builtins where possible: every exec costs milliseconds.
 */
const VIEW_SCRIPT = `set -e
R=$1; BINDS=$2; RO=$3; LINKS=$4; shift 4
mount -t tmpfs -o size=1m,mode=755 sft-root "$R"
IFS=:
dirs="$R/dev:$R/proc:$R/tmp:$R${WORK_DIR}"
for p in $BINDS $RO; do dirs="$dirs:$R$p"; done
mkdir -p $dirs
for l in $LINKS; do ln -s "\${l#*=}" "$R\${l%%=*}"; done
for p in $BINDS; do mount --rbind "$p" "$R$p"; done
for p in $RO; do mount --rbind "$p" "$R$p"; mount -o remount,bind,ro "$R$p" 2>/dev/null || true; done
unset IFS
for d in ${DEVICES.join(" ")}; do : > "$R$d"; mount --bind "$d" "$R$d"; done
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t tmpfs -o size=\${SFT_SANDBOX_TMPFS_MB}m,mode=777,nosuid,nodev sft-work "$R${WORK_DIR}"
mount -o remount,bind,ro "$R" 2>/dev/null || true
# The shell inside stays PID 1 of the namespace and runs the command as its child: dropping to
# nobody clears a process's parent-death signal, so the command itself must not be PID 1 —
# when this shell is killed (its parent, unshare, died), the kernel kills the whole namespace.
exec chroot "$R" /bin/sh -c 'cd "$0" || exit 1; "$@"; exit $?' ${WORK_DIR} "$@"
`;

/** The chroot's contents: system directories (bound or, for merged-/usr links, linked) and extras. */
function viewPlan(readPaths: string[]): { binds: string; ro: string; links: string } {
  const binds: string[] = [];
  const links: string[] = [];
  for (const d of SYSTEM_DIRS) {
    try {
      if (lstatSync(d).isSymbolicLink()) links.push(`${d}=${readlinkSync(d)}`);
      else binds.push(d);
    } catch {
      // not on this system
    }
  }
  return { binds: binds.join(":"), ro: extraReadPaths(readPaths).join(":"), links: links.join(":") };
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** The directories under which `paths` live, minus those already inside a system dir. */
function extraReadPaths(paths: string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    let real: string;
    try {
      real = realpathSync(p);
    } catch {
      continue;
    }
    if (SYSTEM_DIRS.some((d) => real === d || real.startsWith(`${d}/`))) continue;
    out.add(real);
  }
  return [...out];
}

interface Launcher {
  /** argv prefix + the argv, given the interpreter's argv */
  wrap(argv: string[], spec: SandboxSpec, scratch: string): { cmd: string; args: string[] };
  workDir: (scratch: string) => string;
  isolation: Isolation;
}

function limitArgs(spec: SandboxSpec, withProcs: boolean): string[] {
  const bytes = spec.memoryMb * 1024 * 1024;
  return [
    spec.memoryLimit === "as" ? `--as=${bytes}` : `--data=${bytes}`,
    `--fsize=${16 * 1024 * 1024}`,
    "--core=0",
    "--nofile=64",
    ...(withProcs ? ["--nproc=64"] : []),
  ];
}

function fullLauncher(tools: { unshare: string; prlimit: string; setpriv: string }): Launcher {
  const root = isRoot();
  return {
    workDir: () => WORK_DIR,
    isolation: { network: true, filesystem: true, killedWithParent: true, memory: true, processes: true },
    wrap(argv, spec, scratch) {
      const plan = viewPlan(spec.readPaths);
      // the same paths inside the chroot: they lie under the bound system directories
      const inner = [
        tools.prlimit,
        ...limitArgs(spec, true),
        "--",
        // as root: become nobody (RLIMIT_NPROC does not bind root); in a user namespace, stay
        // its root but without any capability, now or after exec (else it could unmount the view)
        tools.setpriv,
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        ...(root
          ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"]
          : [
              "--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked,+keep_caps_locked",
            ]),
        "--",
        ...argv,
      ];
      return {
        cmd: tools.setpriv,
        args: [
          "--pdeathsig",
          "KILL",
          "--",
          tools.unshare,
          ...(root ? [] : ["--user", "--map-root-user"]),
          "--net",
          "--pid",
          "--fork",
          "--kill-child=SIGKILL",
          "--mount",
          "--",
          "/bin/sh",
          "-c",
          VIEW_SCRIPT,
          "sft-sandbox",
          join(scratch, "root"),
          plan.binds,
          plan.ro,
          plan.links,
          ...inner,
        ],
      };
    },
  };
}

/** No namespaces: limits and parent-death signal only, in an on-disk temporary directory. */
function limitsLauncher(tools: { prlimit: string; setpriv: string | null }): Launcher {
  // without a user namespace RLIMIT_NPROC counts every process of the user: only safe
  // when the child runs as its own user (root dropping to nobody)
  const drop = isRoot() && tools.setpriv !== null;
  return {
    workDir: (scratch) => join(scratch, "work"),
    isolation: {
      network: false,
      filesystem: false,
      killedWithParent: tools.setpriv !== null,
      memory: true,
      processes: drop,
    },
    wrap(argv, spec) {
      const args = [
        ...(tools.setpriv ? ["--pdeathsig", "KILL", "--", tools.prlimit] : []),
        ...limitArgs(spec, drop),
        "--",
        ...(drop
          ? [
              tools.setpriv!,
              "--no-new-privs",
              "--inh-caps=-all",
              "--bounding-set=-all",
              `--reuid=${NOBODY}`,
              `--regid=${NOBODY}`,
              "--clear-groups",
              "--",
            ]
          : []),
        ...argv,
      ];
      return { cmd: tools.setpriv ?? tools.prlimit, args };
    },
  };
}

function plainLauncher(): Launcher {
  return {
    workDir: (scratch) => join(scratch, "work"),
    isolation: {
      network: false,
      filesystem: false,
      killedWithParent: false,
      memory: false,
      processes: false,
    },
    wrap: (argv) => ({ cmd: argv[0], args: argv.slice(1) }),
  };
}

/** Words for what a run was not confined by ("network not isolated", …); empty when fully. */
export function isolationGaps(i: Isolation): string[] {
  const out: string[] = [];
  if (!i.network) out.push("network not isolated");
  if (!i.filesystem) out.push("filesystem not confined to the temporary directory");
  if (!i.killedWithParent) out.push("not killed with its parent");
  if (!i.memory) out.push("memory not limited beyond the interpreter's own heap limit");
  if (!i.processes) out.push("process count not limited");
  return out;
}

const launchers = new Map<string, Launcher>();
const SCRATCH_PREFIX = "sft-code-";

/** Removes scratch directories of earlier runs whose sftkit process is gone (killed -9). */
function sweepStaleScratch(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^sft-code-(\d+)-/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === "EPERM";
    }
    if (!alive) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function newScratch(): string {
  return mkdtempSync(join(tmpdir(), `${SCRATCH_PREFIX}${process.pid}-`));
}

/** Tries the launchers from most to least confining with `probe` (must exit 0). */
function pickLauncher(interpreter: string, probe: SandboxSpec): Launcher {
  const forced = process.env.SFT_SANDBOX;
  const key = `${forced ?? ""}\u0000${interpreter}`;
  const cached = launchers.get(key);
  if (cached) return cached;
  const candidates: Launcher[] = [];
  const unshare = which("unshare");
  const prlimit = which("prlimit");
  const setpriv = which("setpriv");
  if (
    process.platform === "linux" &&
    forced !== "limits" &&
    forced !== "none" &&
    unshare &&
    prlimit &&
    setpriv
  )
    candidates.push(fullLauncher({ unshare, prlimit, setpriv }));
  if (process.platform === "linux" && forced !== "none" && prlimit)
    candidates.push(limitsLauncher({ prlimit, setpriv }));
  let chosen = plainLauncher();
  for (const l of candidates) {
    const scratch = newScratch();
    try {
      const { cmd, args } = l.wrap(probe.argv(l.workDir(scratch)), probe, scratch);
      prepareScratch(scratch, l);
      const r = spawnSync(cmd, args, {
        input: probe.program,
        timeout: 20_000,
        env: sandboxEnv(),
        stdio: ["pipe", "pipe", "pipe"],
      });
      if (r.status === 0) {
        chosen = l;
        break;
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  launchers.set(key, chosen);
  return chosen;
}

function sandboxEnv(): NodeJS.ProcessEnv {
  // nothing of the caller's environment (API keys) reaches the child
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    LANG: "C.UTF-8",
    HOME: WORK_DIR,
    SFT_SANDBOX_TMPFS_MB: "64",
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONIOENCODING: "utf-8",
  };
}

function prepareScratch(scratch: string, l: Launcher): void {
  mkdirSync(join(scratch, "root"), { recursive: true });
  const work = l.workDir(scratch);
  if (!work.startsWith(scratch)) return; // the working directory is a tmpfs inside the namespace
  mkdirSync(work, { recursive: true, mode: 0o700 });
  if (isRoot() && l.isolation.processes) chownSync(work, NOBODY, NOBODY);
}

/** Live children and their scratch directories, cleaned up when sftkit exits. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const [child, scratch] of live) {
      killGroup(child);
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}

/**
 * Runs `spec` and resolves when the child is gone. Never throws for anything the child does.
 * `probeKey` names the interpreter, so the launcher is chosen once per interpreter.
 */
export async function runSandboxed(
  spec: SandboxSpec,
  probe: { key: string; spec: SandboxSpec },
): Promise<SandboxRun> {
  const launcher = pickLauncher(probe.key, probe.spec);
  installExitHook();
  sweepStaleScratch();
  const scratch = newScratch();
  prepareScratch(scratch, launcher);
  const { cmd, args } = launcher.wrap(spec.argv(launcher.workDir(scratch)), spec, scratch);
  const child = spawn(cmd, args, {
    cwd: launcher.workDir(scratch).startsWith(scratch) ? launcher.workDir(scratch) : scratch,
    env: sandboxEnv(),
    stdio: ["pipe", "pipe", "pipe", "pipe"],
    // own process group: the watchdog kills the whole group
    detached: true,
  });
  live.set(child, scratch);
  try {
    return await new Promise<SandboxRun>((resolve) => {
      let stdout = "";
      let stderr = "";
      const channel: Buffer[] = [];
      let channelBytes = 0;
      child.stdout!.on("data", (d: Buffer) => {
        if (stdout.length < OUTPUT_CAP) stdout += d.toString("utf8");
      });
      child.stderr!.on("data", (d: Buffer) => {
        if (stderr.length < OUTPUT_CAP) stderr += d.toString("utf8");
      });
      const ch = child.stdio[3] as Readable & Writable;
      ch.on("data", (d: Buffer) => {
        if (channelBytes < CHANNEL_CAP) channel.push(d);
        channelBytes += d.length;
      });
      ch.on("error", () => {});
      child.stdin!.on("error", () => {});
      ch.write(spec.nonce);
      child.stdin!.end(spec.program);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child);
      }, spec.timeoutMs);
      child.on("error", (e) => {
        stderr += `\n${e.message}`;
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        // grandchildren that left the group are gone with the PID namespace; without one,
        // kill what is left of the group
        killGroup(child);
        resolve({
          stdout,
          stderr,
          channel: Buffer.concat(channel),
          code,
          signal,
          timedOut,
          isolation: launcher.isolation,
        });
      });
    });
  } finally {
    live.delete(child);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Forgets the chosen launchers (tests switch `SFT_SANDBOX`). */
export function resetSandboxProbe(): void {
  launchers.clear();
}

/** The installation directory of an executable (for `readPaths`). */
export function installRoot(executable: string): string {
  try {
    return dirname(dirname(realpathSync(executable)));
  } catch {
    return dirname(executable);
  }
}
