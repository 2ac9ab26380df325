/**
 * The Python virtualenv the torch-side tests use: python/requirements.txt installed
 * (torch==2.13.0 exactly, the CPU wheel), cached outside the repository under
 * ~/.cache/sftkit-torch-venv-<hash of the requirements> and built once. A test skips with the
 * reason when it cannot be made.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../tokenize/helpers.js";

const MARKER = ".sftkit-complete";

export function torchVenvDir(): string {
  const req = readFileSync(join(repoRoot, "python/requirements.txt"));
  const hash = createHash("sha256").update(req).digest("hex").slice(0, 12);
  return join(process.env.SFTKIT_TORCH_VENV_CACHE ?? join(homedir(), ".cache"), `sftkit-torch-venv-${hash}`);
}

/** The venv's python, or why there is none. Builds the venv when it is missing (minutes). */
export function torchVenvPython(): { python: string } | { skip: string } {
  const dir = torchVenvDir();
  const python = join(dir, "bin/python");
  if (existsSync(join(dir, MARKER))) return { python };
  const base = ["python3.11", "python3.12", "python3"].find(
    (p) => spawnSync(p, ["-c", "import sys; assert sys.version_info >= (3, 10)"]).status === 0,
  );
  if (!base) return { skip: "no Python >= 3.10 on PATH to make the torch venv" };
  rmSync(dir, { recursive: true, force: true });
  // built in place: a venv's scripts hold its absolute path, so it cannot be moved afterwards
  const made = spawnSync(base, ["-m", "venv", dir], { encoding: "utf8" });
  if (made.status !== 0) return { skip: `cannot make a venv: ${made.stderr.trim().split("\n").pop()}` };
  const pip = spawnSync(
    python,
    ["-m", "pip", "install", "-q", "-r", join(repoRoot, "python/requirements.txt")],
    { encoding: "utf8", timeout: 20 * 60_000 },
  );
  if (pip.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return {
      skip: `pip install -r python/requirements.txt failed: ${(pip.stderr ?? "").trim().split("\n").pop()}`,
    };
  }
  writeFileSync(join(dir, MARKER), "");
  return { python };
}
