/**
 * The Gemma family (Gemma 2, Gemma 3 text): RMSNorm scaling by (1 + w), embeddings scaled by
 * √hidden, four norms per block (input, post-attention, pre- and post-feedforward), per-head
 * q/k RMSNorm (Gemma 3), GeGLU with tanh GELU, attention scaled by query_pre_attn_scalar^-½,
 * sliding-window layers beside global ones (each with its own RoPE base in Gemma 3), and
 * attention-logit soft-capping (Gemma 2). Each function's backward sits right after it.
 */
import type { ModelConfig } from "../../config.js";
import type { AttentionShape, FloatArray } from "../../kernels/types.js";
import { allocFloat } from "../../params.js";
import { RopeTables } from "../rope.js";
import {
  attend,
  blockLinearBackward,
  blockLinearForward,
  type FamilyBlocks,
  type LinearDef,
  type StepContext,
  type TensorDef,
} from "../types.js";

function dims(c: ModelConfig) {
  return {
    C: c.hiddenSize,
    H: c.numHeads,
    KVH: c.numKvHeads,
    D: c.headDim,
    QD: c.numHeads * c.headDim,
    KD: c.numKvHeads * c.headDim,
    I: c.intermediateSize,
  };
}

/** Whether layer l attends through the sliding window. */
export function isSlidingLayer(c: ModelConfig, l: number): boolean {
  if (!c.slidingWindow) return false;
  return c.slidingLayers ? c.slidingLayers[l] === true : true;
}

function attentionShape(ctx: StepContext, l: number): AttentionShape {
  const c = ctx.config;
  const { H, KVH, D } = dims(c);
  return {
    B: ctx.B,
    Tq: ctx.T,
    Tk: ctx.T,
    H,
    KVH,
    D,
    scale: 1 / Math.sqrt(c.queryPreAttnScalar ?? D),
    segments: ctx.segments,
    window: isSlidingLayer(c, l) ? (c.slidingWindow ?? undefined) : undefined,
    softcap: c.attnLogitSoftcap ?? undefined,
  };
}

/** Gemma's norms scale by (1 + w); the gradient of w is that of the (1 + w) the kernel sees. */
function plusOne(w: FloatArray): FloatArray {
  const out = allocFloat(w instanceof Float64Array ? "float64" : "float32", w.length);
  for (let i = 0; i < w.length; i++) out[i] = 1 + w[i];
  return out;
}

/** The sliding layers' RoPE tables (Gemma 3's rope_local_base_freq, no scaling), beside the global ones. */
const localTables = new WeakMap<RopeTables, RopeTables>();

function ropeFor(ctx: StepContext, l: number): RopeTables {
  const global = ctx.rope!;
  const c = ctx.config;
  if (c.ropeLocalTheta === undefined || !isSlidingLayer(c, l)) return global;
  let local = localTables.get(global);
  if (!local) {
    const dtype = global.cos instanceof Float64Array ? "float64" : "float32";
    local = new RopeTables({ ...c, ropeTheta: c.ropeLocalTheta, ropeScaling: null }, dtype);
    localTables.set(global, local);
  }
  local.ensure(global.cos.length / (c.headDim / 2));
  return local;
}

export const gemmaBlocks: FamilyBlocks = {
  layerLinears(c, l) {
    const { C, QD, KD, I } = dims(c);
    const p = `model.layers.${l}`;
    const lin = (key: string, path: string, inF: number, outF: number): LinearDef => ({
      key,
      target: key,
      path,
      inF,
      outF,
      layout: "out_in",
      bias: c.attentionBias && path.includes(".self_attn."),
    });
    return [
      lin("q_proj", `${p}.self_attn.q_proj`, C, QD),
      lin("k_proj", `${p}.self_attn.k_proj`, C, KD),
      lin("v_proj", `${p}.self_attn.v_proj`, C, KD),
      lin("o_proj", `${p}.self_attn.o_proj`, QD, C),
      lin("gate_proj", `${p}.mlp.gate_proj`, C, I),
      lin("up_proj", `${p}.mlp.up_proj`, C, I),
      lin("down_proj", `${p}.mlp.down_proj`, I, C),
    ];
  },

  layerTensors(c, l): TensorDef[] {
    const p = `model.layers.${l}`;
    const norm = (key: string): TensorDef => ({
      key,
      name: `${p}.${key}.weight`,
      shape: [c.hiddenSize],
      decay: false,
    });
    const t: TensorDef[] = [
      norm("input_layernorm"),
      norm("post_attention_layernorm"),
      norm("pre_feedforward_layernorm"),
      norm("post_feedforward_layernorm"),
    ];
    if (c.qkNorm) {
      t.push(
        { key: "q_norm", name: `${p}.self_attn.q_norm.weight`, shape: [c.headDim], decay: false },
        { key: "k_norm", name: `${p}.self_attn.k_norm.weight`, shape: [c.headDim], decay: false },
      );
    }
    return t;
  },

  globalTensors(c): TensorDef[] {
    const t: TensorDef[] = [
      { key: "embed", name: "model.embed_tokens.weight", shape: [c.vocabSize, c.hiddenSize], decay: true },
      { key: "norm", name: "model.norm.weight", shape: [c.hiddenSize], decay: false },
    ];
    if (!c.tieWordEmbeddings) {
      t.push({ key: "lm_head", name: "lm_head.weight", shape: [c.vocabSize, c.hiddenSize], decay: true });
    }
    return t;
  },

  embeddingTensorKeys: ["embed"],

  lmHeadKey(c) {
    return c.tieWordEmbeddings ? "embed" : "lm_head";
  },

  actSizes(c, N, B, T) {
    const { C, H, KVH, QD, KD, I } = dims(c);
    const s: Record<string, number> = {
      ln1: N * C,
      rstd1: N,
      q: N * QD,
      k: N * KD,
      v: N * KD,
      att: N * QD,
      lse: B * H * T,
      o: N * C,
      rstdO: N,
      xMid: N * C,
      ln2: N * C,
      rstd2: N,
      gate: N * I,
      up: N * I,
      gg: N * I,
      h: N * I,
      m: N * C,
      rstdM: N,
    };
    if (c.qkNorm) {
      s.qRaw = N * QD;
      s.kRaw = N * KD;
      s.qRstd = N * H;
      s.kRstd = N * KVH;
    }
    return s;
  },

  scratchSizes(c, N) {
    const { C, QD, KD, I } = dims(c);
    const s: Record<string, number> = {
      dln: N * C,
      dbranch: N * C,
      datt: N * QD,
      dq: N * QD,
      dk: N * KD,
      dv: N * KD,
      dgate: N * I,
      dup: N * I,
      dh: N * I,
    };
    if (c.qkNorm) {
      s.dqRaw = N * QD;
      s.dkRaw = N * KD;
    }
    return s;
  },

  finalStatSizes(N) {
    return { rstd: N };
  },

  // HF multiplies the embeddings by √hidden (in the model's dtype).
  embedForward(ctx, g, out, ids) {
    const C = ctx.config.hiddenSize;
    ctx.k.embeddingForward(out, g.embed.data, ids, ctx.N, C);
    ctx.k.scale(out, Math.sqrt(C), ctx.N * C);
  },

  /** Scales dout in place: it is the last use of the residual gradient. */
  embedBackward(ctx, g, dout, ids) {
    const C = ctx.config.hiddenSize;
    if (!g.embed.grad) return;
    ctx.k.scale(dout, Math.sqrt(C), ctx.N * C);
    ctx.k.embeddingBackward(g.embed.grad, dout, ids, ctx.N, C);
  },

  finalNormForward(ctx, g, out, stats, x) {
    const c = ctx.config;
    ctx.k.rmsnormForward(out, stats.rstd, x, plusOne(g.norm.data), ctx.N, c.hiddenSize, c.normEps);
  },

  finalNormBackward(ctx, g, dx, dout, stats, x) {
    const C = ctx.config.hiddenSize;
    ctx.k.rmsnormBackward(dx, g.norm.grad, dout, x, plusOne(g.norm.data), stats.rstd, ctx.N, C);
  },

  blockForward(ctx, layer, a, _scratch, xIn, xOut) {
    const { k, config: c, N } = ctx;
    const { C, H, KVH, D, I } = dims(c);
    const t = layer.tensors;
    const eps = c.normEps;
    // attention: xMid = x + norm(o(attn(rope(qnorm(q)), rope(knorm(k)), v))) with q,k,v from norm(x)
    k.rmsnormForward(a.ln1, a.rstd1, xIn, plusOne(t.input_layernorm.data), N, C, eps);
    blockLinearForward(ctx, layer, "q_proj", a, c.qkNorm ? a.qRaw : a.q, a.ln1, false);
    blockLinearForward(ctx, layer, "k_proj", a, c.qkNorm ? a.kRaw : a.k, a.ln1, false);
    blockLinearForward(ctx, layer, "v_proj", a, a.v, a.ln1, false);
    if (c.qkNorm) {
      k.rmsnormForward(a.q, a.qRstd, a.qRaw, plusOne(t.q_norm.data), N * H, D, eps);
      k.rmsnormForward(a.k, a.kRstd, a.kRaw, plusOne(t.k_norm.data), N * KVH, D, eps);
    }
    const rope = ropeFor(ctx, layer.index);
    k.ropeForward(a.q, ctx.positions, N, H, D, rope.cos, rope.sin, false);
    k.ropeForward(a.k, ctx.positions, N, KVH, D, rope.cos, rope.sin, false);
    attend(ctx, layer.index, a.att, a.lse, a.q, a.k, a.v, attentionShape(ctx, layer.index));
    blockLinearForward(ctx, layer, "o_proj", a, a.o, a.att, false);
    k.rmsnormForward(a.xMid, a.rstdO, a.o, plusOne(t.post_attention_layernorm.data), N, C, eps);
    k.add(a.xMid, a.xMid, xIn, N * C);
    // MLP: xOut = xMid + norm(down(gelu_tanh(gate(norm(xMid))) * up(norm(xMid))))
    k.rmsnormForward(a.ln2, a.rstd2, a.xMid, plusOne(t.pre_feedforward_layernorm.data), N, C, eps);
    blockLinearForward(ctx, layer, "gate_proj", a, a.gate, a.ln2, false);
    blockLinearForward(ctx, layer, "up_proj", a, a.up, a.ln2, false);
    k.geluForward(a.gg, a.gate, N * I);
    const { gg, up, h } = a;
    for (let i = 0; i < N * I; i++) h[i] = gg[i] * up[i];
    blockLinearForward(ctx, layer, "down_proj", a, a.m, a.h, false);
    k.rmsnormForward(xOut, a.rstdM, a.m, plusOne(t.post_feedforward_layernorm.data), N, C, eps);
    k.add(xOut, xOut, a.xMid, N * C);
  },

  blockBackward(ctx, layer, a, s, xIn, dres, needInputGrad) {
    const { k, config: c, N } = ctx;
    const { C, H, KVH, D, I } = dims(c);
    const t = layer.tensors;
    // MLP branch (dres = d xOut, which the residual passes on to xMid unchanged)
    const pf = t.post_feedforward_layernorm;
    s.dbranch.fill(0);
    k.rmsnormBackward(s.dbranch, pf.grad, dres, a.m, plusOne(pf.data), a.rstdM, N, C);
    blockLinearBackward(ctx, layer, "down_proj", a, s.dh, s.dbranch, a.h, false);
    // h = gelu(gate) * up: d up = dh * gelu(gate); dh becomes d gelu(gate) = dh * up in place.
    const { dh, dup } = s;
    const { gg, up } = a;
    for (let i = 0; i < N * I; i++) {
      dup[i] = dh[i] * gg[i];
      dh[i] *= up[i];
    }
    s.dgate.fill(0);
    k.geluBackward(s.dgate, dh, a.gate, N * I);
    blockLinearBackward(ctx, layer, "gate_proj", a, s.dln, s.dgate, a.ln2, false);
    blockLinearBackward(ctx, layer, "up_proj", a, s.dln, s.dup, a.ln2, true);
    const pre = t.pre_feedforward_layernorm;
    k.rmsnormBackward(dres, pre.grad, s.dln, a.xMid, plusOne(pre.data), a.rstd2, N, C);
    // attention branch (dres = d xMid, passed on to xIn unchanged)
    const pa = t.post_attention_layernorm;
    s.dbranch.fill(0);
    k.rmsnormBackward(s.dbranch, pa.grad, dres, a.o, plusOne(pa.data), a.rstdO, N, C);
    blockLinearBackward(ctx, layer, "o_proj", a, s.datt, s.dbranch, a.att, false);
    s.dq.fill(0);
    s.dk.fill(0);
    s.dv.fill(0);
    const shape = attentionShape(ctx, layer.index);
    k.attentionBackward(s.dq, s.dk, s.dv, s.datt, a.q, a.k, a.v, a.att, a.lse, shape);
    const rope = ropeFor(ctx, layer.index);
    k.ropeBackward(s.dq, ctx.positions, N, H, D, rope.cos, rope.sin, false);
    k.ropeBackward(s.dk, ctx.positions, N, KVH, D, rope.cos, rope.sin, false);
    let dqIn: FloatArray = s.dq;
    let dkIn: FloatArray = s.dk;
    if (c.qkNorm) {
      s.dqRaw.fill(0);
      s.dkRaw.fill(0);
      const qn = t.q_norm;
      const kn = t.k_norm;
      k.rmsnormBackward(s.dqRaw, qn.grad, s.dq, a.qRaw, plusOne(qn.data), a.qRstd, N * H, D);
      k.rmsnormBackward(s.dkRaw, kn.grad, s.dk, a.kRaw, plusOne(kn.data), a.kRstd, N * KVH, D);
      dqIn = s.dqRaw;
      dkIn = s.dkRaw;
    }
    const inorm = t.input_layernorm;
    // Below the first block only the embedding could need d(ln1); skip it when frozen.
    const dln = needInputGrad || inorm.grad ? s.dln : null;
    blockLinearBackward(ctx, layer, "q_proj", a, dln, dqIn, a.ln1, false);
    blockLinearBackward(ctx, layer, "k_proj", a, dln, dkIn, a.ln1, true);
    blockLinearBackward(ctx, layer, "v_proj", a, dln, s.dv, a.ln1, true);
    if (dln) k.rmsnormBackward(dres, inorm.grad, s.dln, xIn, plusOne(inorm.data), a.rstd1, N, C);
  },
};
