/**
 * GPT-2: pre-LayerNorm blocks, learned absolute positions, multi-head attention from one
 * fused c_attn projection, and a GELU (tanh) MLP. HF stores its Conv1D weights as
 * [in, out]; they are kept in that layout ("in_out" linears). Backward follows each forward.
 */
import type { ModelConfig } from "../../config.js";
import type { FloatArray } from "../../kernels/types.js";
import {
  attend,
  blockLinearBackward,
  blockLinearForward,
  type FamilyBlocks,
  type LinearDef,
  type StepContext,
  type TensorDef,
} from "../types.js";

function attentionShape(ctx: StepContext) {
  const c = ctx.config;
  return {
    B: ctx.B,
    Tq: ctx.T,
    Tk: ctx.T,
    H: c.numHeads,
    KVH: c.numHeads,
    D: c.headDim,
    scale: 1 / Math.sqrt(c.headDim),
    segments: ctx.segments,
  };
}

/** qkv[N, 3C] → q, k, v [N, C] each. */
function splitQkv(qkv: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * 3 * C;
    q.set(qkv.subarray(o, o + C), n * C);
    k.set(qkv.subarray(o + C, o + 2 * C), n * C);
    v.set(qkv.subarray(o + 2 * C, o + 3 * C), n * C);
  }
}

/** dq, dk, dv [N, C] → dqkv[N, 3C]. */
function joinQkv(
  dqkv: FloatArray,
  dq: FloatArray,
  dk: FloatArray,
  dv: FloatArray,
  N: number,
  C: number,
): void {
  for (let n = 0; n < N; n++) {
    const o = n * 3 * C;
    dqkv.set(dq.subarray(n * C, n * C + C), o);
    dqkv.set(dk.subarray(n * C, n * C + C), o + C);
    dqkv.set(dv.subarray(n * C, n * C + C), o + 2 * C);
  }
}

function ln(key: string, name: string, C: number): TensorDef[] {
  return [
    { key, name: `${name}.weight`, shape: [C], decay: false },
    { key: `${key}.bias`, name: `${name}.bias`, shape: [C], decay: false },
  ];
}

export const gpt2Blocks: FamilyBlocks = {
  layerLinears(c: ModelConfig, l: number): LinearDef[] {
    const C = c.hiddenSize;
    const I = c.intermediateSize;
    const p = `transformer.h.${l}`;
    const lin = (key: string, target: string, inF: number, outF: number): LinearDef => ({
      key,
      target,
      path: `${p}.${key}`,
      inF,
      outF,
      layout: "in_out",
      bias: true,
    });
    return [
      lin("attn.c_attn", "c_attn", C, 3 * C),
      lin("attn.c_proj", "c_proj", C, C),
      lin("mlp.c_fc", "c_fc", C, I),
      lin("mlp.c_proj", "c_proj", I, C),
    ];
  },

  layerTensors(c, l) {
    const p = `transformer.h.${l}`;
    return [...ln("ln_1", `${p}.ln_1`, c.hiddenSize), ...ln("ln_2", `${p}.ln_2`, c.hiddenSize)];
  },

  globalTensors(c) {
    const t: TensorDef[] = [
      { key: "wte", name: "transformer.wte.weight", shape: [c.vocabSize, c.hiddenSize], decay: true },
      {
        key: "wpe",
        name: "transformer.wpe.weight",
        shape: [c.maxPositionEmbeddings, c.hiddenSize],
        decay: true,
      },
      ...ln("ln_f", "transformer.ln_f", c.hiddenSize),
    ];
    if (!c.tieWordEmbeddings) {
      t.push({ key: "lm_head", name: "lm_head.weight", shape: [c.vocabSize, c.hiddenSize], decay: true });
    }
    return t;
  },

  embeddingTensorKeys: ["wte", "wpe"],

  lmHeadKey(c) {
    return c.tieWordEmbeddings ? "wte" : "lm_head";
  },

  actSizes(c, N, B, T) {
    const C = c.hiddenSize;
    const I = c.intermediateSize;
    return {
      ln1: N * C,
      mean1: N,
      rstd1: N,
      q: N * C,
      k: N * C,
      v: N * C,
      att: N * C,
      lse: B * c.numHeads * T,
      xMid: N * C,
      ln2: N * C,
      mean2: N,
      rstd2: N,
      fc: N * I,
      h: N * I,
    };
  },

  scratchSizes(c, N) {
    const C = c.hiddenSize;
    const I = c.intermediateSize;
    return {
      qkv: N * 3 * C,
      dln: N * C,
      datt: N * C,
      dq: N * C,
      dk: N * C,
      dv: N * C,
      dh: N * I,
      dfc: N * I,
    };
  },

  finalStatSizes(N) {
    return { mean: N, rstd: N };
  },

  embedForward(ctx, g, out, ids) {
    const C = ctx.config.hiddenSize;
    ctx.k.embeddingForward(out, g.wte.data, ids, ctx.N, C);
    const wpe = g.wpe.data;
    const pos = ctx.positions;
    for (let n = 0; n < ctx.N; n++) {
      const o = n * C;
      const p = pos[n] * C;
      for (let i = 0; i < C; i++) out[o + i] += wpe[p + i];
    }
  },

  embedBackward(ctx, g, dout, ids) {
    const C = ctx.config.hiddenSize;
    if (g.wte.grad) ctx.k.embeddingBackward(g.wte.grad, dout, ids, ctx.N, C);
    if (g.wpe.grad) ctx.k.embeddingBackward(g.wpe.grad, dout, ctx.positions, ctx.N, C);
  },

  finalNormForward(ctx, g, out, stats, x) {
    const c = ctx.config;
    ctx.k.layernormForward(
      out,
      stats.mean,
      stats.rstd,
      x,
      g.ln_f.data,
      g["ln_f.bias"].data,
      ctx.N,
      c.hiddenSize,
      c.normEps,
    );
  },

  finalNormBackward(ctx, g, dx, dout, stats, x) {
    ctx.k.layernormBackward(
      dx,
      g.ln_f.grad,
      g["ln_f.bias"].grad,
      dout,
      x,
      g.ln_f.data,
      stats.mean,
      stats.rstd,
      ctx.N,
      ctx.config.hiddenSize,
    );
  },

  blockForward(ctx, layer, a, s, xIn, xOut) {
    const { k, config: c, N } = ctx;
    const C = c.hiddenSize;
    const t = layer.tensors;
    const eps = c.normEps;
    k.layernormForward(a.ln1, a.mean1, a.rstd1, xIn, t.ln_1.data, t["ln_1.bias"].data, N, C, eps);
    // c_attn output goes to a scratch row buffer and is split into q, k, v for attention.
    const qkv = s.qkv;
    blockLinearForward(ctx, layer, "attn.c_attn", a, qkv, a.ln1, false);
    splitQkv(qkv, a.q, a.k, a.v, N, C);
    attend(ctx, layer.index, a.att, a.lse, a.q, a.k, a.v, attentionShape(ctx));
    a.xMid.set(xIn);
    blockLinearForward(ctx, layer, "attn.c_proj", a, a.xMid, a.att, true);
    k.layernormForward(a.ln2, a.mean2, a.rstd2, a.xMid, t.ln_2.data, t["ln_2.bias"].data, N, C, eps);
    blockLinearForward(ctx, layer, "mlp.c_fc", a, a.fc, a.ln2, false);
    k.geluForward(a.h, a.fc, N * c.intermediateSize);
    xOut.set(a.xMid);
    blockLinearForward(ctx, layer, "mlp.c_proj", a, xOut, a.h, true);
  },

  blockBackward(ctx, layer, a, s, xIn, dres, needInputGrad) {
    const { k, config: c, N } = ctx;
    const C = c.hiddenSize;
    const t = layer.tensors;
    // MLP branch
    blockLinearBackward(ctx, layer, "mlp.c_proj", a, s.dh, dres, a.h, false);
    s.dfc.fill(0);
    k.geluBackward(s.dfc, s.dh, a.fc, N * c.intermediateSize);
    blockLinearBackward(ctx, layer, "mlp.c_fc", a, s.dln, s.dfc, a.ln2, false);
    k.layernormBackward(
      dres,
      t.ln_2.grad,
      t["ln_2.bias"].grad,
      s.dln,
      a.xMid,
      t.ln_2.data,
      a.mean2,
      a.rstd2,
      N,
      C,
    );
    // attention branch
    blockLinearBackward(ctx, layer, "attn.c_proj", a, s.datt, dres, a.att, false);
    s.dq.fill(0);
    s.dk.fill(0);
    s.dv.fill(0);
    k.attentionBackward(s.dq, s.dk, s.dv, s.datt, a.q, a.k, a.v, a.att, a.lse, attentionShape(ctx));
    joinQkv(s.qkv, s.dq, s.dk, s.dv, N, C);
    // Below the first block only the embeddings could need d(ln_1); skip it when frozen.
    const ln1 = t.ln_1;
    const ln1b = t["ln_1.bias"];
    const dln = needInputGrad || ln1.grad || ln1b.grad ? s.dln : null;
    blockLinearBackward(ctx, layer, "attn.c_attn", a, dln, s.qkv, a.ln1, false);
    if (dln) k.layernormBackward(dres, ln1.grad, ln1b.grad, dln, xIn, ln1.data, a.mean1, a.rstd1, N, C);
  },
};
