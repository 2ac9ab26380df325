/**
 * GEMM throughput of the native kernel against PyTorch on the same machine, in one run.
 * Usage: npx tsx tools/bench-gemm.ts [--seconds S] [--no-torch]
 * Shapes: squares and the shapes a GPT-2-like model (width 384, MLP 1536, vocab 8192,
 * 1024 tokens per step) issues in forward (x·Wᵀ), input grads (dY·W) and weight grads (dYᵀ·X).
 * PyTorch runs via Debian's /usr/bin/python3 with torch.set_num_threads(<native threads>).
 * Numbers are noisy when other work shares the cores: each is the median of repeated runs.
 */
import { spawnSync } from "node:child_process";
import { loadNativeKernels, nativeInfo } from "../src/engine/kernels/native.js";

interface Shape {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  what: string;
}

const shapes: Shape[] = [
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
const seconds = Number(args[args.indexOf("--seconds") + 1] ?? "") || 0.6;
const withTorch = !args.includes("--no-torch");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function benchNative(s: Shape): number {
  const k = loadNativeKernels();
  const a = new Float32Array(s.M * s.K).map(() => Math.random() - 0.5);
  const b = new Float32Array(s.K * s.N).map(() => Math.random() - 0.5);
  const out = new Float32Array(s.M * s.N);
  const opts = { transA: s.transA, transB: s.transB };
  k.matmul(out, a, b, s.M, s.N, s.K, opts);
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end || times.length < 3) {
    const t0 = performance.now();
    k.matmul(out, a, b, s.M, s.N, s.K, opts);
    times.push((performance.now() - t0) / 1000);
  }
  return (2 * s.M * s.N * s.K) / median(times) / 1e9;
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

function benchTorch(threads: number): { version: string; gflops: number[] } | null {
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", torchScript, String(threads), String(seconds), JSON.stringify(shapes)],
    { encoding: "utf8", maxBuffer: 1 << 20 },
  );
  if (r.status !== 0) {
    process.stderr.write(`torch benchmark failed: ${r.stderr || r.error}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const info = nativeInfo();
console.log(
  `native: ${info.version}, simd ${info.simd}, ${info.threads} threads; ${seconds}s per shape, median`,
);
const native = shapes.map(benchNative);
const torch = withTorch ? benchTorch(info.threads) : null;
if (torch) console.log(`torch ${torch.version}, torch.set_num_threads(${info.threads})`);
const header = ["M", "N", "K", "op", "what", "native GFLOP/s", "torch GFLOP/s", "native/torch"];
const rows = shapes.map((s, i) => [
  String(s.M),
  String(s.N),
  String(s.K),
  `${s.transA ? "T" : "N"}${s.transB ? "T" : "N"}`,
  s.what,
  native[i].toFixed(1),
  torch ? torch.gflops[i].toFixed(1) : "-",
  torch ? `${(native[i] / torch.gflops[i]).toFixed(2)}x` : "-",
]);
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const fmt = (r: string[]) => r.map((x, c) => x.padStart(widths[c])).join("  ");
console.log(fmt(header));
for (const r of rows) console.log(fmt(r));
