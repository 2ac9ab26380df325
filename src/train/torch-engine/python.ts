/**
 * The interpreter the torch engine runs: found, new enough, with torch, transformers and
 * peft at least at the versions python/requirements.txt pins (the tested ones), and CUDA or
 * MPS when asked. Each failure is one line saying what to install or change.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SftError } from "../../errors.js";

/** python/ of the package (the same relative place from src/ and from dist/). */
export const PYTHON_DIR = fileURLToPath(new URL("../../../python/", import.meta.url));
export const RECIPE = `${PYTHON_DIR}sftkit_torch/train.py`;
export const REQUIREMENTS = `${PYTHON_DIR}requirements.txt`;
const REQUIRED = ["torch", "transformers", "peft", "safetensors"] as const;

export interface PythonInfo {
  python: string;
  version: string;
  packages: Record<string, string | null>;
  cuda: boolean;
  mps: boolean;
}

const PROBE = `
import json, sys, importlib.metadata as md
out = {"version": "%d.%d.%d" % sys.version_info[:3], "packages": {}, "cuda": False, "mps": False}
for name in ${JSON.stringify(REQUIRED)}:
    try:
        out["packages"][name] = md.version(name)
    except md.PackageNotFoundError:
        out["packages"][name] = None
try:
    import torch
    out["cuda"] = torch.cuda.is_available()
    out["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
except Exception:
    pass
print(json.dumps(out))
`;

/** The pinned versions of python/requirements.txt. */
export function pinnedVersions(): Record<string, string> {
  const pins: Record<string, string> = {};
  for (const line of readFileSync(REQUIREMENTS, "utf8").split("\n")) {
    const m = /^([A-Za-z0-9_.-]+)==([^\s#]+)/.exec(line.trim());
    if (m) pins[m[1].toLowerCase()] = m[2];
  }
  return pins;
}

/** -1, 0, 1 comparing dotted release numbers (local tags such as +cpu ignored). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .split("+")[0]
      .split(".")
      .map((x) => Number.parseInt(x, 10) || 0);
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Probes `python` and throws the one-line error for the first thing missing. */
export function checkPython(python: string, device: "cpu" | "cuda" | "mps"): PythonInfo {
  const r = spawnSync(python, ["-c", PROBE], { encoding: "utf8", timeout: 120_000 });
  if (r.error || r.status !== 0) {
    const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
    throw new SftError(
      missing
        ? `no Python at \`${python}\``
        : `\`${python}\` did not run: ${(r.stderr || String(r.error)).trim().split("\n").pop()}`,
      {
        where: { field: "--python" },
        hint: "install Python >= 3.10, or pass --python PATH to the interpreter of a virtualenv with torch",
        code: "E_PYTHON",
      },
    );
  }
  const info = JSON.parse(r.stdout.trim().split("\n").pop() as string) as Omit<PythonInfo, "python">;
  if (compareVersions(info.version, "3.10") < 0)
    throw new SftError(`Python ${info.version} at \`${python}\` is too old for the torch engine`, {
      where: { field: "--python" },
      hint: "use Python >= 3.10 (--python PATH)",
      code: "E_PYTHON",
    });
  const pins = pinnedVersions();
  for (const name of REQUIRED) {
    const have = info.packages[name];
    const want = pins[name];
    if (have === null || (want && compareVersions(have, want) < 0)) {
      const install = `${python} -m pip install ${REQUIRED.map((n) => (pins[n] ? `${n}==${pins[n]}` : n)).join(" ")}`;
      throw new SftError(
        have === null
          ? `${name} is not installed in \`${python}\``
          : `${name} ${have} in \`${python}\` is older than the tested ${want}`,
        {
          where: { field: "--python" },
          hint: `${install} (or -r ${REQUIREMENTS}); for CUDA take torch from https://pytorch.org/get-started/locally/ at the same version`,
          code: "E_PYTHON",
        },
      );
    }
  }
  if (device === "cuda" && !info.cuda)
    throw new SftError(
      `--device cuda was asked, but torch ${info.packages.torch} in \`${python}\` sees no CUDA device`,
      {
        where: { field: "--device" },
        hint: "install a CUDA build of torch and check nvidia-smi, or use --device cpu",
        code: "E_DEVICE",
      },
    );
  if (device === "mps" && !info.mps)
    throw new SftError(`--device mps was asked, but torch in \`${python}\` sees no Apple MPS device`, {
      where: { field: "--device" },
      hint: "use --device cpu",
      code: "E_DEVICE",
    });
  return { python, ...info };
}
