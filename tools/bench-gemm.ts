/**
 * GEMM throughput of each native path (built-in micro-kernels, system BLAS) against PyTorch
 * and the machine's measured FMA peak, in one run.
 * Usage: npx tsx tools/bench-gemm.ts [--seconds S] [--rounds R] [--no-torch] [--python PATH]
 * Shapes: squares, small products (where the BLAS/built-in rule is decided) and the shapes a
 * GPT-2-like model (width 384, MLP 1536, vocab 8192, 1024 tokens per step) issues in forward
 * (x·Wᵀ), input grads (dY·W) and weight grads (dYᵀ·X).
 * Each path runs in its own child process (SFTKIT_BLAS=off / force), rounds interleaved with
 * PyTorch (torch.set_num_threads(<native threads>)); every number is the median over rounds
 * of per-round medians, because the machine may be shared. SFTKIT_SIMD=avx2 measures the
 * AVX2 path on an AVX-512 machine.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { loadNativeKernels, nativeInfo, nativePeakGflops } from "../src/engine/kernels/native.js";

interface Shape {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  what: string;
}

const shapes: Shape[] = [
  { M: 32, N: 256, K: 256, transA: false, transB: true, what: "small" },
  { M: 64, N: 896, K: 896, transA: false, transB: true, what: "small" },
  { M: 128, N: 128, K: 128, transA: false, transB: false, what: "square" },
  { M: 256, N: 256, K: 256, transA: false, transB: false, what: "square" },
  { M: 512, N: 512, K: 512, transA: false, transB: false, what: "square" },
  { M: 1024, N: 1024, K: 1024, transA: false, transB: false, what: "square" },
  { M: 2048, N: 2048, K: 2048, transA: false, transB: false, what: "square" },
  { M: 1024, N: 384, K: 384, transA: false, transB: true, what: "attn proj fwd x·Wᵀ" },
  { M: 1024, N: 384, K: 384, transA: false, transB: false, what: "attn proj dx = dY·W" },
  { M: 384, N: 384, K: 1024, transA: true, transB: false, what: "attn proj dW = dYᵀ·X" },
  { M: 1024, N: 1536, K: 384, transA: false, transB: true, what: "mlp up fwd" },
  { M: 1024, N: 384, K: 1536, transA: false, transB: true, what: "mlp down fwd" },
  { M: 1536, N: 384, K: 1024, transA: true, transB: false, what: "mlp up dW" },
  { M: 1024, N: 8192, K: 384, transA: false, transB: true, what: "lm head fwd" },
  { M: 1024, N: 384, K: 8192, transA: false, transB: false, what: "lm head dx" },
  { M: 8192, N: 384, K: 1024, transA: true, transB: false, what: "lm head dW" },
];

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(opt("--seconds")) || 0.3;
const rounds = Number(opt("--rounds")) || 3;
const withTorch = !args.includes("--no-torch");
const python = opt("--python") ?? "/usr/bin/python3";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function benchNative(s: Shape): number {
  const k = loadNativeKernels();
  const a = new Float32Array(s.M * s.K).map(() => Math.random() - 0.5);
  const b = new Float32Array(s.K * s.N).map(() => Math.random() - 0.5);
  const out = new Float32Array(s.M * s.N);
  const o = { transA: s.transA, transB: s.transB };
  k.matmul(out, a, b, s.M, s.N, s.K, o);
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end || times.length < 3) {
    const t0 = performance.now();
    k.matmul(out, a, b, s.M, s.N, s.K, o);
    times.push((performance.now() - t0) / 1000);
  }
  return (2 * s.M * s.N * s.K) / median(times) / 1e9;
}

if (args.includes("--child")) {
  // One path's measurements, as JSON on the last line.
  const info = nativeInfo();
  const peak = nativePeakGflops(0.1, 3) ?? null;
  console.log(JSON.stringify({ info, peak, gflops: shapes.map(benchNative) }));
  process.exit(0);
}

const torchScript = `
import json, sys, time, torch
threads, seconds, shapes = int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
torch.set_num_threads(threads)
res = []
for s in shapes:
    M, N, K = s["M"], s["N"], s["K"]
    a = torch.rand(K, M).t() if s["transA"] else torch.rand(M, K)
    b = torch.rand(N, K).t() if s["transB"] else torch.rand(K, N)
    out = torch.empty(M, N)
    torch.mm(a, b, out=out)
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - t0)
    times.sort()
    res.append(2 * M * N * K / times[len(times) // 2] / 1e9)
print(json.dumps({"version": torch.__version__, "gflops": res}))
`;

interface ChildResult {
  info: ReturnType<typeof nativeInfo>;
  peak: number | null;
  gflops: number[];
}

function runChild(blas: string): ChildResult | null {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), "--child", "--seconds", String(seconds)],
    { encoding: "utf8", env: { ...process.env, SFTKIT_BLAS: blas }, maxBuffer: 1 << 22 },
  );
  if (r.status !== 0) {
    process.stderr.write(`native run (SFTKIT_BLAS=${blas}) failed: ${r.stderr}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

function runTorch(threads: number): { version: string; gflops: number[] } | null {
  const r = spawnSync(python, ["-c", torchScript, String(threads), String(seconds), JSON.stringify(shapes)], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) {
    process.stderr.write(`torch benchmark (${python}) failed: ${r.stderr || r.error}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const info = nativeInfo();
const builtin: number[][] = [];
const blas: number[][] = [];
const auto: number[][] = [];
const torchRuns: number[][] = [];
const peaks: number[] = [];
let torchVersion = "";
for (let r = 0; r < rounds; r++) {
  const b = runChild("off");
  if (b) {
    builtin.push(b.gflops);
    if (b.peak) peaks.push(b.peak);
  }
  if (info.blas) {
    const f = runChild("force");
    if (f) blas.push(f.gflops);
    const a = runChild("auto");
    if (a) auto.push(a.gflops);
  }
  if (withTorch) {
    const t = runTorch(info.threads);
    if (t) {
      torchRuns.push(t.gflops);
      torchVersion = t.version;
    }
  }
}
const col = (runs: number[][], i: number): number | undefined =>
  runs.length ? median(runs.map((g) => g[i])) : undefined;
const peak = peaks.length ? Math.max(...peaks) : undefined;
console.log(
  `native ${info.version}, simd ${info.simd}, ${info.threads} threads; BLAS: ${info.blas ?? `none (${info.blasMissing})`}`,
);
console.log(
  `measured FMA peak (${info.simd}, ${info.threads} threads): ${peak ? `${peak.toFixed(1)} GFLOP/s` : "-"}; ` +
    `${seconds}s per shape, median of ${rounds} interleaved rounds${torchVersion ? `; torch ${torchVersion} (${python})` : ""}`,
);
const fmt1 = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(1));
const pct = (x: number | undefined) => (x === undefined || !peak ? "-" : `${((100 * x) / peak).toFixed(0)}%`);
const header = ["M", "N", "K", "op", "what", "built-in", "BLAS", "auto", "auto %peak", "torch", "auto/torch"];
const rows = shapes.map((s, i) => {
  const t = col(torchRuns, i);
  const a = info.blas ? col(auto, i) : col(builtin, i);
  return [
    String(s.M),
    String(s.N),
    String(s.K),
    `${s.transA ? "T" : "N"}${s.transB ? "T" : "N"}`,
    s.what,
    fmt1(col(builtin, i)),
    fmt1(col(blas, i)),
    fmt1(a),
    pct(a),
    fmt1(t),
    a !== undefined && t !== undefined ? `${(a / t).toFixed(2)}x` : "-",
  ];
});
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const fmt = (r: string[]) => r.map((x, c) => x.padStart(widths[c])).join("  ");
console.log("GFLOP/s:");
console.log(fmt(header));
for (const r of rows) console.log(fmt(r));
