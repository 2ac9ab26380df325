/**
 * The Llama family (Llama 2/3, Mistral, Qwen2/2.5, Qwen3, SmolLM): pre-RMSNorm blocks with
 * grouped-query attention, HF "rotate half" RoPE, optional q/k/v bias (Qwen2) and per-head
 * q/k RMSNorm (Qwen3), and a SwiGLU MLP. Each function's backward sits right after it.
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

function attentionShape(ctx: StepContext) {
  const { H, KVH, D } = dims(ctx.config);
  return {
    B: ctx.B,
    Tq: ctx.T,
    Tk: ctx.T,
    H,
    KVH,
    D,
    scale: 1 / Math.sqrt(D),
    segments: ctx.segments,
    window: ctx.config.slidingWindow ?? undefined,
  };
}

export const llamaBlocks: FamilyBlocks = {
  layerLinears(c, l) {
    const { C, QD, KD, I } = dims(c);
    const p = `model.layers.${l}`;
    const lin = (key: string, path: string, inF: number, outF: number, bias: boolean): LinearDef => ({
      key,
      target: key,
      path,
      inF,
      outF,
      layout: "out_in",
      bias,
    });
    return [
      lin("q_proj", `${p}.self_attn.q_proj`, C, QD, c.attentionBias),
      lin("k_proj", `${p}.self_attn.k_proj`, C, KD, c.attentionBias),
      lin("v_proj", `${p}.self_attn.v_proj`, C, KD, c.attentionBias),
      lin("o_proj", `${p}.self_attn.o_proj`, QD, C, c.attentionOutBias),
      lin("gate_proj", `${p}.mlp.gate_proj`, C, I, c.mlpBias),
      lin("up_proj", `${p}.mlp.up_proj`, C, I, c.mlpBias),
      lin("down_proj", `${p}.mlp.down_proj`, I, C, c.mlpBias),
    ];
  },

  layerTensors(c, l): TensorDef[] {
    const p = `model.layers.${l}`;
    const t: TensorDef[] = [
      { key: "input_layernorm", name: `${p}.input_layernorm.weight`, shape: [c.hiddenSize], decay: false },
      {
        key: "post_attention_layernorm",
        name: `${p}.post_attention_layernorm.weight`,
        shape: [c.hiddenSize],
        decay: false,
      },
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
      xMid: N * C,
      ln2: N * C,
      rstd2: N,
      gate: N * I,
      up: N * I,
      h: N * I,
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

  embedForward(ctx, g, out, ids) {
    ctx.k.embeddingForward(out, g.embed.data, ids, ctx.N, ctx.config.hiddenSize);
  },

  embedBackward(ctx, g, dout, ids) {
    if (g.embed.grad) ctx.k.embeddingBackward(g.embed.grad, dout, ids, ctx.N, ctx.config.hiddenSize);
  },

  finalNormForward(ctx, g, out, stats, x) {
    const c = ctx.config;
    ctx.k.rmsnormForward(out, stats.rstd, x, g.norm.data, ctx.N, c.hiddenSize, c.normEps);
  },

  finalNormBackward(ctx, g, dx, dout, stats, x) {
    ctx.k.rmsnormBackward(dx, g.norm.grad, dout, x, g.norm.data, stats.rstd, ctx.N, ctx.config.hiddenSize);
  },

  blockForward(ctx, layer, a, _scratch, xIn, xOut) {
    const { k, config: c, N } = ctx;
    const { C, H, KVH, D, I } = dims(c);
    const t = layer.tensors;
    // attention: x + o(attn(rope(q), rope(k), v)) with q,k,v from rmsnorm(x)
    k.rmsnormForward(a.ln1, a.rstd1, xIn, t.input_layernorm.data, N, C, c.normEps);
    blockLinearForward(ctx, layer, "q_proj", a, c.qkNorm ? a.qRaw : a.q, a.ln1, false);
    blockLinearForward(ctx, layer, "k_proj", a, c.qkNorm ? a.kRaw : a.k, a.ln1, false);
    blockLinearForward(ctx, layer, "v_proj", a, a.v, a.ln1, false);
    if (c.qkNorm) {
      k.rmsnormForward(a.q, a.qRstd, a.qRaw, t.q_norm.data, N * H, D, c.normEps);
      k.rmsnormForward(a.k, a.kRstd, a.kRaw, t.k_norm.data, N * KVH, D, c.normEps);
    }
    const rope = ctx.rope!;
    k.ropeForward(a.q, ctx.positions, N, H, D, rope.cos, rope.sin, false);
    k.ropeForward(a.k, ctx.positions, N, KVH, D, rope.cos, rope.sin, false);
    attend(ctx, layer.index, a.att, a.lse, a.q, a.k, a.v, attentionShape(ctx));
    a.xMid.set(xIn);
    blockLinearForward(ctx, layer, "o_proj", a, a.xMid, a.att, true);
    // MLP: x + down(silu(gate(rmsnorm(x))) * up(rmsnorm(x)))
    k.rmsnormForward(a.ln2, a.rstd2, a.xMid, t.post_attention_layernorm.data, N, C, c.normEps);
    blockLinearForward(ctx, layer, "gate_proj", a, a.gate, a.ln2, false);
    blockLinearForward(ctx, layer, "up_proj", a, a.up, a.ln2, false);
    k.swigluForward(a.h, a.gate, a.up, N * I);
    xOut.set(a.xMid);
    blockLinearForward(ctx, layer, "down_proj", a, xOut, a.h, true);
  },

  blockBackward(ctx, layer, a, s, xIn, dres, needInputGrad) {
    const { k, config: c, N } = ctx;
    const { C, H, KVH, D, I } = dims(c);
    const t = layer.tensors;
    // MLP branch (dres = d xOut; the residual passes dres through to xMid unchanged)
    blockLinearBackward(ctx, layer, "down_proj", a, s.dh, dres, a.h, false);
    s.dgate.fill(0);
    s.dup.fill(0);
    k.swigluBackward(s.dgate, s.dup, s.dh, a.gate, a.up, N * I);
    blockLinearBackward(ctx, layer, "gate_proj", a, s.dln, s.dgate, a.ln2, false);
    blockLinearBackward(ctx, layer, "up_proj", a, s.dln, s.dup, a.ln2, true);
    const pn = t.post_attention_layernorm;
    k.rmsnormBackward(dres, pn.grad, s.dln, a.xMid, pn.data, a.rstd2, N, C);
    // attention branch (dres = d xMid)
    blockLinearBackward(ctx, layer, "o_proj", a, s.datt, dres, a.att, false);
    s.dq.fill(0);
    s.dk.fill(0);
    s.dv.fill(0);
    k.attentionBackward(s.dq, s.dk, s.dv, s.datt, a.q, a.k, a.v, a.att, a.lse, attentionShape(ctx));
    const rope = ctx.rope!;
    k.ropeBackward(s.dq, ctx.positions, N, H, D, rope.cos, rope.sin, false);
    k.ropeBackward(s.dk, ctx.positions, N, KVH, D, rope.cos, rope.sin, false);
    let dqIn: FloatArray = s.dq;
    let dkIn: FloatArray = s.dk;
    if (c.qkNorm) {
      s.dqRaw.fill(0);
      s.dkRaw.fill(0);
      k.rmsnormBackward(s.dqRaw, t.q_norm.grad, s.dq, a.qRaw, t.q_norm.data, a.qRstd, N * H, D);
      k.rmsnormBackward(s.dkRaw, t.k_norm.grad, s.dk, a.kRaw, t.k_norm.data, a.kRstd, N * KVH, D);
      dqIn = s.dqRaw;
      dkIn = s.dkRaw;
    }
    const inorm = t.input_layernorm;
    // Below the first block only the embedding could need d(ln1); skip it when frozen.
    const dln = needInputGrad || inorm.grad ? s.dln : null;
    blockLinearBackward(ctx, layer, "q_proj", a, dln, dqIn, a.ln1, false);
    blockLinearBackward(ctx, layer, "k_proj", a, dln, dkIn, a.ln1, true);
    blockLinearBackward(ctx, layer, "v_proj", a, dln, s.dv, a.ln1, true);
    if (dln) k.rmsnormBackward(dres, inorm.grad, s.dln, xIn, inorm.data, a.rstd1, N, C);
  },
};
