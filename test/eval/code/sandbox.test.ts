/**
 * Escapes from the code sandbox, in JavaScript and Python: each must be contained and scored 0
 * with the reason, or — where this machine cannot isolate that resource — reported as a gap.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CodeLanguage } from "../../../src/eval/code/extract.js";
import { type CodeRunResult, runCodeTests } from "../../../src/eval/code/run.js";
import { isolationGaps, resetSandboxProbe } from "../../../src/eval/code/sandbox.js";
import { skipWithoutPython, TEST_PYTHON } from "./python-available.js";

const outside = mkdtempSync(join(tmpdir(), "sft-sandbox-test-"));
const secretFile = join(outside, "secret.txt");
writeFileSync(secretFile, "the secret");
let server: Server;
let port = 0;
let connections = 0;

before(async () => {
  server = createServer((s) => {
    connections++;
    s.end("hello");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});
after(() => {
  server.close();
  rmSync(outside, { recursive: true, force: true });
});

const run = (language: CodeLanguage, solution: string, tests: string[], timeoutMs = 4000) =>
  runCodeTests(language, solution, tests, { timeoutMs, python: TEST_PYTHON });

function assertContained(r: CodeRunResult, reason: RegExp): void {
  assert.equal(r.passed, 0, `expected 0 passed, detail: ${r.error}`);
  assert.match(r.error ?? "", reason);
}

/** Pids of every live descendant of `root` (from /proc). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z") parent.set(Number(name), Number(fields[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent)
      if (pp === p) {
        out.push(child);
        walk(child);
      }
  };
  walk(root);
  return out;
}

const alive = (pid: number) => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
};

describe("code sandbox: JavaScript escapes", () => {
  it("reading a file outside the working directory fails", async () => {
    const r = await run(
      "javascript",
      `const s = require("node:fs").readFileSync(${JSON.stringify(secretFile)}, "utf8");`,
      ["assert.equal(1, 1)"],
    );
    assertContained(r, /ERR_ACCESS_DENIED|denied|restricted/i);
  });

  it("writing a file outside the working directory fails and leaves nothing", async () => {
    const target = join(outside, "written-by-js.txt");
    const r = await run("javascript", `require("node:fs").writeFileSync(${JSON.stringify(target)}, "x");`, [
      "assert.ok(true)",
    ]);
    assertContained(r, /ERR_ACCESS_DENIED|denied|restricted/i);
    assert.equal(existsSync(target), false);
  });

  it("spawning a process fails", async () => {
    const r = await run("javascript", `require("node:child_process").execSync("echo hi");`, [
      "assert.ok(true)",
    ]);
    assertContained(r, /ERR_ACCESS_DENIED|denied|restricted/i);
  });

  it("connecting to a listener on 127.0.0.1 fails (or the gap is reported)", async () => {
    const before = connections;
    const r = await run(
      "javascript",
      `function fetchHello() { return new Promise((ok, fail) => { const s = require("node:net").connect(${port}, "127.0.0.1"); let d = ""; s.on("data", (c) => (d += c)); s.on("end", () => ok(d)); s.on("error", fail); }); }`,
      ['assert.equal(await fetchHello(), "hello")'],
    );
    if (r.isolation.network) {
      assertContained(r, /ECONNREFUSED|ENETUNREACH|EACCES|connect/i);
      assert.equal(connections, before);
    } else assert.ok(isolationGaps(r.isolation).includes("network not isolated"));
  });

  it("allocating 1 GB of native buffers fails", async () => {
    const r = await run("javascript", "const b = Buffer.alloc(1024 * 1024 * 1024, 1);", [
      "assert.equal(b.length, 1 << 30)",
    ]);
    if (!r.isolation.memory) return assert.ok(isolationGaps(r.isolation).some((g) => g.startsWith("memory")));
    assertContained(r, /memory|allocation failed|RangeError/i);
  });

  it("an infinite loop is killed by the watchdog", async () => {
    const t0 = Date.now();
    const r = await run("javascript", "for (;;) {}", ["assert.ok(true)"], 800);
    assert.equal(r.timedOut, true);
    assertContained(r, /timed out/);
    assert.ok(Date.now() - t0 < 5000);
  });

  it("reports what it could not isolate when namespaces are off (SFT_SANDBOX=limits)", async () => {
    process.env.SFT_SANDBOX = "limits";
    resetSandboxProbe();
    try {
      const r = await run("javascript", "function add(a, b) { return a + b; }", [
        "assert.equal(add(1, 2), 3)",
      ]);
      assert.equal(r.passed, 1);
      assert.ok(isolationGaps(r.isolation).includes("network not isolated"));
    } finally {
      delete process.env.SFT_SANDBOX;
      resetSandboxProbe();
    }
  });
});

describe("code sandbox: Python escapes", { skip: skipWithoutPython }, () => {
  it("reading a file outside the working directory fails", async () => {
    const r = await run("python", `secret = open(${JSON.stringify(secretFile)}).read()`, [
      "assert secret == 'the secret'",
    ]);
    if (r.isolation.filesystem) assertContained(r, /FileNotFoundError|PermissionError/);
    else assert.ok(isolationGaps(r.isolation).some((g) => g.startsWith("filesystem")));
  });

  it("import os and deleting or writing files outside is contained", async (t) => {
    const victim = join(outside, "victim.txt");
    writeFileSync(victim, "keep me");
    const written = join(outside, "written-by-py.txt");
    const r = await run(
      "python",
      `import os\nos.remove(${JSON.stringify(victim)})\nopen(${JSON.stringify(written)}, "w").write("x")`,
      ["assert True"],
    );
    if (!r.isolation.filesystem && !r.isolation.processes) {
      assert.ok(isolationGaps(r.isolation).some((g) => g.startsWith("filesystem")));
      return t.skip(
        "this machine cannot confine the filesystem (no namespaces, not root): the gap is reported",
      );
    }
    assertContained(r, /FileNotFoundError|PermissionError/);
    assert.equal(readFileSync(victim, "utf8"), "keep me");
    assert.equal(existsSync(written), false);
  });

  it("writing inside the working directory works and leaves nothing behind", async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith(`sft-code-${process.pid}-`)).length;
    const r = await run("python", `open("scratch.txt", "w").write("ok")\nback = open("scratch.txt").read()`, [
      "assert back == 'ok'",
    ]);
    assert.equal(r.passed, 1, r.error);
    const leftover = readdirSync(tmpdir()).filter((n) => n.startsWith(`sft-code-${process.pid}-`)).length;
    assert.ok(leftover <= before);
  });

  it("sockets cannot reach a listener on 127.0.0.1 (or the gap is reported)", async () => {
    const before = connections;
    const r = await run(
      "python",
      `import socket\ns = socket.create_connection(("127.0.0.1", ${port}), timeout=2)\ngot = s.recv(5)`,
      ["assert got == b'hello'"],
    );
    if (r.isolation.network) {
      assertContained(r, /OSError|ConnectionRefused|Network is unreachable|Errno/);
      assert.equal(connections, before);
    } else assert.ok(isolationGaps(r.isolation).includes("network not isolated"));
  });

  it("the child holds no capabilities and cannot take the filesystem view apart", async (t) => {
    const r = await run(
      "python",
      "caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))]\nimport os\ntry:\n    os.chroot('/tmp')\n    chrooted = True\nexcept OSError:\n    chrooted = False",
      ["assert caps == ['0000000000000000'] * 3, caps", "assert not chrooted"],
    );
    if (!r.isolation.filesystem) return t.skip("no mount namespace here: the gap is reported");
    assert.equal(r.passed, 2, r.error);
  });

  it("spawning programs is refused", async () => {
    const r = await run(
      "python",
      `import subprocess\nout = subprocess.run(["/bin/echo", "hi"], capture_output=True).stdout`,
      ["assert out == b'hi\\n'"],
    );
    assertContained(r, /PermissionError|not allowed/);
  });

  it("allocating 1 GB fails with MemoryError", async () => {
    const r = await run("python", "b = bytearray(1024 * 1024 * 1024)", ["assert len(b) == 1 << 30"]);
    assertContained(r, /MemoryError|memory/);
  });

  it("an infinite loop is killed by the watchdog", async () => {
    const r = await run("python", "while True:\n    pass", ["assert True"], 800);
    assert.equal(r.timedOut, true);
    assertContained(r, /timed out/);
  });

  it("a fork bomb is bounded and every process is gone afterwards", async (t) => {
    const probe = await run("python", "", ["assert True"]);
    if (!probe.isolation.processes) {
      assert.ok(isolationGaps(probe.isolation).includes("process count not limited"));
      return t.skip(
        "RLIMIT_NPROC cannot bound a fork bomb here (no user namespace, not root): the gap is reported",
      );
    }
    const t0 = Date.now();
    const r = await run(
      "python",
      "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
      ["assert True"],
      1500,
    );
    assert.equal(r.passed, 0);
    assert.ok(Date.now() - t0 < 10_000, "the bomb was stopped");
    await new Promise((ok) => setTimeout(ok, 300));
    const sandboxed = descendants(process.pid).filter((p) => {
      try {
        return !readFileSync(`/proc/${p}/cmdline`, "utf8").includes("esbuild");
      } catch {
        return false;
      }
    });
    assert.deepEqual(sandboxed, [], "no sandboxed process survives the run");
  });
});

describe("code sandbox: killed with its parent", () => {
  for (const language of ["javascript", "python"] as const) {
    it(`SIGKILL of the evaluating process leaves no ${language} child running`, async (t) => {
      if (language === "python" && skipWithoutPython) return t.skip(skipWithoutPython);
      const dir = mkdtempSync(join(tmpdir(), "sft-sandbox-parent-"));
      const script = join(dir, "parent.mts");
      const runModule = resolve("src/eval/code/run.ts");
      const loop = language === "python" ? "while True:\\n    pass" : "for (;;) {}";
      writeFileSync(
        script,
        `import { runCodeTests } from ${JSON.stringify(runModule)};
process.stdout.write("started\\n");
await runCodeTests(${JSON.stringify(language)}, "${loop}", ["assert True"], { timeoutMs: 60000, python: ${JSON.stringify(TEST_PYTHON)} });
`,
      );
      const parent = spawn(process.execPath, ["--import", "tsx", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      try {
        let kids: number[] = [];
        const deadline = Date.now() + 20_000;
        // wait until the interpreter itself runs (a descendant three or more levels down)
        while (Date.now() < deadline) {
          kids = descendants(parent.pid!);
          const interp = kids.filter((p) => {
            try {
              const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
              return language === "python" ? /python/.test(cmd) && !/-c/.test(cmd) : /-permission/.test(cmd);
            } catch {
              return false;
            }
          });
          if (interp.length > 0) break;
          await new Promise((ok) => setTimeout(ok, 100));
        }
        // the parent's own TypeScript loader (esbuild) is not part of the sandbox
        kids = kids.filter((p) => {
          try {
            return !readFileSync(`/proc/${p}/cmdline`, "utf8").includes("esbuild");
          } catch {
            return false;
          }
        });
        assert.ok(kids.length > 0, "the sandboxed child started");
        parent.kill("SIGKILL");
        await new Promise((ok) => parent.once("close", ok));
        const t0 = Date.now();
        // the kernel kills the namespace at once; 10 s leaves room for a heavily loaded CI
        // machine to reap it (3 s was once too short at a load average of 10 on 2 cores)
        while (kids.some(alive) && Date.now() - t0 < 10_000) await new Promise((ok) => setTimeout(ok, 50));
        assert.deepEqual(kids.filter(alive), [], "every sandboxed process died with its parent");
        // its scratch directory is swept by the next run
        await run("javascript", "", ["assert.ok(true)"]);
        const stale = readdirSync(tmpdir()).filter((n) => n.startsWith(`sft-code-${parent.pid}-`));
        assert.deepEqual(stale, []);
      } finally {
        parent.kill("SIGKILL");
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
