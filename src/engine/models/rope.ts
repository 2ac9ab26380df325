/**
 * Rotary position embedding tables (cos/sin per position and frequency), with the
 * frequency rules of Hugging Face's `rope_scaling`: none/"default", "linear" and "llama3";
 * "dynamic" (NTK) is the identity up to the original context length, which is all a
 * training run within that length needs.
 */
import { SftError } from "../../errors.js";
import type { ModelConfig } from "../config.js";
import type { FloatArray } from "../kernels/types.js";
import { allocFloat, type DType } from "../params.js";

/** Inverse frequencies theta^(-2i/D), i < D/2, after rope_scaling. */
export function ropeInverseFrequencies(config: ModelConfig): Float64Array {
  const D = config.headDim;
  const half = D / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / config.ropeTheta ** ((2 * i) / D);
  const s = config.ropeScaling;
  if (!s || s.type === "default") return inv;
  if (s.type === "linear") {
    for (let i = 0; i < half; i++) inv[i] /= s.factor;
    return inv;
  }
  if (s.type === "dynamic") return inv;
  if (s.type === "llama3") {
    const factor = s.factor;
    const low = s.lowFreqFactor ?? 1;
    const high = s.highFreqFactor ?? 4;
    const oldLen = s.originalMaxPositionEmbeddings ?? 8192;
    const lowWavelen = oldLen / low;
    const highWavelen = oldLen / high;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen < highWavelen) continue;
      if (wavelen > lowWavelen) {
        inv[i] /= factor;
        continue;
      }
      const smooth = (oldLen / wavelen - low) / (high - low);
      inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
    }
    return inv;
  }
  throw new SftError(`rope_scaling type "${s.type}" is not supported`, {
    where: { field: "rope_scaling.rope_type" },
    hint: 'supported: "default", "linear", "llama3", and "dynamic" within the original context length',
  });
}

/** cos/sin tables [maxPos, D/2], grown on demand to cover the largest position seen. */
export class RopeTables {
  cos: FloatArray;
  sin: FloatArray;
  private size = 0;
  private readonly inv: Float64Array;

  constructor(
    config: ModelConfig,
    private readonly dtype: DType,
  ) {
    this.inv = ropeInverseFrequencies(config);
    this.cos = allocFloat(dtype, 0);
    this.sin = allocFloat(dtype, 0);
    this.ensure(Math.min(config.maxPositionEmbeddings, 4096));
  }

  /** Makes the tables cover positions [0, n). */
  ensure(n: number): void {
    if (n <= this.size) return;
    const size = Math.max(n, this.size * 2);
    const half = this.inv.length;
    const cos = allocFloat(this.dtype, size * half);
    const sin = allocFloat(this.dtype, size * half);
    for (let p = 0; p < size; p++) {
      for (let i = 0; i < half; i++) {
        const a = p * this.inv[i];
        cos[p * half + i] = Math.cos(a);
        sin[p * half + i] = Math.sin(a);
      }
    }
    this.cos = cos;
    this.sin = sin;
    this.size = size;
  }
}
