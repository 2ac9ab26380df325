#!/usr/bin/env node
// Builds the native kernels (native/) with node-gyp on `npm install`.
// A failed build never fails the install: the engine then runs on its TypeScript kernels
// (correct, slow) and says so. What is missing is printed in one line, not as a node-gyp log.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = join(root, "native");
const logFile = join(nativeDir, "build", "build.log");

function say(msg) {
  process.stderr.write(`sftkit: ${msg}\n`);
}

if (process.env.SFTKIT_SKIP_NATIVE === "1") {
  say("SFTKIT_SKIP_NATIVE=1: not building native kernels; the engine will use its TypeScript kernels.");
  process.exit(0);
}

function which(cmd) {
  const r = spawnSync(
    process.platform === "win32" ? "where" : "sh",
    process.platform === "win32" ? [cmd] : ["-c", `command -v ${cmd}`],
    { encoding: "utf8" },
  );
  return r.status === 0;
}

const compiler = process.env.CXX ?? ["c++", "g++", "clang++"].find(which);
if (!compiler) {
  say(
    "no C++ compiler found: install g++ or clang (Debian/Ubuntu: apt-get install g++ make; macOS: xcode-select --install), then run `npm rebuild sftkit`.",
  );
  say("continuing without native kernels: training will be much slower.");
  process.exit(0);
}
if (!which("make") && process.platform !== "win32") {
  say("`make` not found: install make (Debian/Ubuntu: apt-get install make), then run `npm rebuild sftkit`.");
  process.exit(0);
}
if (!which("python3") && !which("python")) {
  say(
    "python3 not found: node-gyp needs it to configure the native build. Install python3, then run `npm rebuild sftkit`.",
  );
  process.exit(0);
}

const require = createRequire(import.meta.url);
let gyp;
try {
  gyp = require.resolve("node-gyp/bin/node-gyp.js");
} catch {
  say("node-gyp is not installed (it is a dependency of sftkit; reinstall with `npm install`).");
  process.exit(0);
}
const jobs = process.env.SFTKIT_BUILD_JOBS ?? "max";
const args = [gyp, "rebuild", `--jobs=${jobs}`];
// Offline machines cannot download Node's headers: use the ones installed beside this node binary.
const prefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(prefix, "include", "node", "node_api.h"))) {
  args.push(`--nodedir=${prefix}`);
}
const res = spawnSync(process.execPath, args, { cwd: nativeDir, encoding: "utf8" });
mkdirSync(dirname(logFile), { recursive: true });
writeFileSync(logFile, `${res.stdout ?? ""}\n${res.stderr ?? ""}`);
if (res.status !== 0 || !existsSync(join(nativeDir, "build", "Release", "sftkit_native.node"))) {
  const text = `${res.stdout}\n${res.stderr}`;
  const firstError =
    text.split("\n").find((l) => /error:|not found|No such file|ERR! stack Error/i.test(l)) ??
    "unknown error";
  let hint = "";
  if (/ENOTFOUND|ECONNREFUSED|network connectivity/.test(text))
    hint =
      " (could not download Node.js headers: install them, e.g. Debian's nodejs-dev / libnode-dev, or set npm_config_nodedir)";
  if (/node_api\.h|node\.h|common\.gypi/.test(text))
    hint = " (Node.js headers missing: install nodejs-dev / set npm_config_nodedir)";
  say(`native kernels failed to build: ${firstError.trim()}${hint}`);
  say(`full log: ${logFile}. The engine will use its TypeScript kernels (correct, slow).`);
  process.exit(0);
}
say("native kernels built.");
