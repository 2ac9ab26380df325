/**
 * The runtime shared by every model family: parameters (with LoRA), activations allocated
 * once per (B, T) shape, the forward pass over blocks, the chunked logits + fused
 * cross-entropy head, and the backward pass in reverse, with optional per-layer gradient
 * checkpointing (only each block's input is kept; the block is recomputed in backward).
 * The model's family (models/<family>/, looked up in registry.ts) supplies names, sizes, the
 * block arithmetic and every other difference between families, as data on the family.
 */
import { SftError } from "../../errors.js";
import { mixSeed, Rng } from "../../util/rng.js";
import type { ModelConfig } from "../config.js";
import type { FloatArray, Kernels } from "../kernels/types.js";
import { initLoraA, initLoraB, peftKey, type ResolvedLora } from "../lora.js";
import { allocViews, type DType, type Param, type ParamSpec, ParamStore } from "../params.js";
import type { TensorMap } from "../tensor.js";
import type { ModelFamily } from "./family.js";
import type { Linear, LoraScratch } from "./linear.js";
import { familyOf } from "./registry.js";
import { RopeTables } from "./rope.js";
import type {
  FamilyBlocks,
  KVCache,
  LayerParams,
  LinearDef,
  StepContext,
  TensorDef,
  Views,
} from "./types.js";

/** A batch of B rows of T tokens (row-major [B*T]). */
export interface Batch {
  B: number;
  T: number;
  inputIds: Int32Array;
  /** Aligned with inputIds (HF semantics): position t is trained to predict labels[t+1]; -100 = not trained. */
  labels?: Int32Array;
  /** Position of each token; default: index within its row, or within its segment when packed. */
  positions?: Int32Array;
  /** Packed-sample id of each token: attention and the label shift never cross a change of id. */
  segments?: Int32Array;
}

export interface RuntimeOptions {
  dtype: DType;
  kernels: Kernels;
  lora: ResolvedLora | null;
  gradientCheckpointing: boolean;
  /** Frozen linear weights held in bf16 (LoRA runs only). */
  frozenBf16: boolean;
  /** Elements of one logits chunk (rows × vocab); null: 2^21, but at least 64 rows. */
  logitsChunkElements: number | null;
  seed: number;
}

/** Activations and scratch for one (B, T) shape. */
interface ShapeState {
  B: number;
  T: number;
  N: number;
  withGrad: boolean;
  /** residual stream before block l (l < L) and after the last block (l = L) */
  residuals: FloatArray[];
  /** per block (or one shared set when checkpointing / no grad) */
  acts: Views[];
  scratch: Views;
  /** final norm output, its gradient, its statistics */
  head: Views;
  stats: Views;
  /** d residual, carried backwards through the blocks */
  dres: FloatArray;
  /** throwaway block output when a checkpointed block is recomputed */
  xRecompute: FloatArray;
  loraScratch: LoraScratch | null;
  chunkRows: number;
  targets: Int32Array;
  trainedRows: Int32Array;
  chunkTargets: Int32Array;
}

export interface ForwardBackwardOptions {
  /** Divides the summed token loss (default: this batch's trained-token count). */
  lossDenominator?: number;
  /** Seed of this call's LoRA dropout masks; null: no dropout; omitted: drawn from the model seed. */
  dropoutSeed?: number | null;
  /**
   * NEFTune: adds uniform noise in ±alpha/sqrt(T·C) to the token embeddings (training
   * only), from `seed`.
   */
  neftune?: { alpha: number; seed: number } | null;
}

export interface LossResult {
  /** lossSum / denominator */
  loss: number;
  /** summed cross-entropy over trained tokens (nats) */
  lossSum: number;
  /** tokens that carried a label (after the shift) */
  trainedTokens: number;
}

/**
 * One model of any family: its parameters and the forward/backward, logits and decoding
 * passes. `Model` (engine/model.ts) is this class with its weights filled in; build models
 * through `createModel` / `loadModel` rather than directly.
 */
export class TransformerRuntime {
  readonly family: ModelFamily;
  /** The family's blocks (family.blocks). */
  readonly blocks: FamilyBlocks;
  readonly store: ParamStore;
  readonly layers: LayerParams[] = [];
  readonly globals: Record<string, Param> = {};
  readonly lmHead: Param;
  readonly rope: RopeTables | null;
  /** The LoRA-wrapped linears, in model order. */
  readonly loraModules: Linear[] = [];
  private readonly states: ShapeState[] = [];
  private callCounter = 0;

  constructor(
    readonly config: ModelConfig,
    readonly opts: RuntimeOptions,
  ) {
    this.family = familyOf(config);
    this.blocks = this.family.blocks;
    checkConfig(config);
    this.family.validateConfig(config);
    const lora = opts.lora;
    const specs: ParamSpec[] = [];
    const linearDefs: LinearDef[][] = [];
    const tensorDefs: TensorDef[][] = [];
    const globalDefs = this.blocks.globalTensors(config);
    const baseTrainable = lora === null;
    for (const t of globalDefs)
      specs.push({ name: t.name, shape: t.shape, trainable: baseTrainable, decay: t.decay });
    for (let l = 0; l < config.numLayers; l++) {
      const lins = this.blocks.layerLinears(config, l);
      const tens = this.blocks.layerTensors(config, l);
      linearDefs.push(lins);
      tensorDefs.push(tens);
      for (const t of tens)
        specs.push({ name: t.name, shape: t.shape, trainable: baseTrainable, decay: t.decay });
      for (const d of lins) {
        specs.push({
          name: `${d.path}.weight`,
          shape: d.layout === "out_in" ? [d.outF, d.inF] : [d.inF, d.outF],
          trainable: baseTrainable,
          decay: true,
          bf16: !baseTrainable && opts.frozenBf16 && opts.dtype === "float32",
        });
        if (d.bias)
          specs.push({ name: `${d.path}.bias`, shape: [d.outF], trainable: baseTrainable, decay: false });
      }
    }
    // LoRA tensors come last so that they form one contiguous trainable run.
    if (lora) {
      for (const lins of linearDefs) {
        for (const d of lins) {
          if (!lora.targets.includes(d.target)) continue;
          specs.push({ name: peftKey(d.path, "A"), shape: [lora.r, d.inF], trainable: true, decay: true });
          specs.push({ name: peftKey(d.path, "B"), shape: [d.outF, lora.r], trainable: true, decay: true });
        }
      }
    }
    this.store = new ParamStore(specs, opts.dtype);
    for (const t of globalDefs) this.globals[t.key] = this.store.get(t.name);
    this.lmHead = this.globals[this.blocks.lmHeadKey(config)];
    let streamId = 0;
    for (let l = 0; l < config.numLayers; l++) {
      const layer: LayerParams = { index: l, linears: {}, tensors: {} };
      for (const t of tensorDefs[l]) layer.tensors[t.key] = this.store.get(t.name);
      for (const d of linearDefs[l]) {
        const weight = this.store.get(`${d.path}.weight`);
        const wrapped = lora?.targets.includes(d.target) ?? false;
        const lin: Linear = {
          path: d.path,
          inF: d.inF,
          outF: d.outF,
          layout: d.layout,
          weight,
          weightBf16: weight.bf16,
          bias: d.bias ? this.store.get(`${d.path}.bias`) : null,
          lora:
            wrapped && lora
              ? {
                  A: this.store.get(peftKey(d.path, "A")),
                  B: this.store.get(peftKey(d.path, "B")),
                  r: lora.r,
                  scaling: lora.scaling,
                  dropout: lora.dropout,
                }
              : null,
          streamId: streamId++,
        };
        layer.linears[d.key] = lin;
        if (lin.lora) this.loraModules.push(lin);
      }
      this.layers.push(layer);
    }
    this.rope = this.family.usesRope ? new RopeTables(config, opts.dtype) : null;
  }

  get kernels(): Kernels {
    return this.opts.kernels;
  }

  /** Whether any embedding table (token or position) takes gradients. */
  private get embeddingsTrainable(): boolean {
    return this.blocks.embeddingTensorKeys.some((key) => this.globals[key].grad !== null);
  }

  // ---------------------------------------------------------------------------------------
  // Weights

  /**
   * Random initialisation as GPT-2/Llama do: normal(0, family.initStd) for matrices and
   * embeddings (0.02; GPT-2 scales its residual projections by 1/sqrt(2L)), ones for norm
   * weights, zeros for biases. LoRA tensors are initialised separately (initLora).
   */
  initRandom(seed: number): void {
    const rng = new Rng(mixSeed(seed, 0x1a17));
    for (const p of this.store.params) {
      if (p.name.includes(".lora_")) continue;
      const isNorm = p.shape.length === 1 && !p.name.endsWith(".bias");
      const values = new Float32Array(p.bf16 ? p.bf16.length : p.data.length);
      if (isNorm) values.fill(1);
      else if (p.name.endsWith(".bias")) values.fill(0);
      else {
        const std = this.family.initStd(p.name, this.config);
        for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
      }
      this.store.load(p.name, values);
    }
  }

  /** PEFT initialisation of every LoRA A and B (see lora.ts). */
  initLora(seed: number): void {
    const lora = this.opts.lora;
    if (!lora) return;
    const rng = new Rng(mixSeed(seed, 0x10a));
    for (const lin of this.loraModules) {
      initLoraA(lin.lora!.A.data, lin.inF, rng);
      initLoraB(lin.lora!.B.data, lora.r, lora.init, rng);
    }
  }

  /**
   * Copies base weights from HF-named tensors. Every base tensor must be present with the
   * right shape; a tied output projection may be absent (or present and ignored).
   */
  loadWeights(tensors: TensorMap, source = "checkpoint"): void {
    for (const p of this.store.params) {
      if (p.name.includes(".lora_")) continue;
      let t = tensors.get(p.name);
      // Some checkpoints name tensors differently (GPT2Model's lack the `transformer.` prefix).
      for (const alias of this.family.tensorNameAliases(p.name)) t ??= tensors.get(alias);
      if (!t) {
        throw new SftError(`tensor "${p.name}" is missing`, {
          where: { file: source, field: p.name },
          hint: `the ${this.config.modelType} config needs it; is the checkpoint complete and does config.json match it?`,
          code: "E_CHECKPOINT",
        });
      }
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new SftError(
          `tensor "${p.name}" has shape [${t.shape.join(", ")}], the config implies [${p.shape.join(", ")}]`,
          {
            where: { file: source, field: p.name },
            hint: "check config.json against the weights",
            code: "E_CHECKPOINT",
          },
        );
      }
      this.store.load(p.name, t.data, p.name);
    }
  }

  /** Copies LoRA tensors from PEFT-named tensors (an adapter_model.safetensors). */
  loadLoraWeights(tensors: TensorMap, source = "adapter"): void {
    for (const lin of this.loraModules) {
      for (const which of ["A", "B"] as const) {
        const name = peftKey(lin.path, which);
        const alt = name.replace(/\.weight$/, ".default.weight");
        const t = tensors.get(name) ?? tensors.get(alt);
        const p = this.store.get(name);
        if (!t) {
          throw new SftError(`adapter tensor "${name}" is missing`, {
            where: { file: source, field: name },
            hint: "the adapter's target_modules and r must match the LoRA options",
            code: "E_CHECKPOINT",
          });
        }
        if (t.shape.length !== 2 || t.shape[0] !== p.shape[0] || t.shape[1] !== p.shape[1]) {
          throw new SftError(
            `adapter tensor "${name}" has shape [${t.shape.join(", ")}], expected [${p.shape.join(", ")}]`,
            {
              where: { file: source, field: name },
              hint: "check the adapter's r against --lora-r",
              code: "E_CHECKPOINT",
            },
          );
        }
        this.store.load(name, t.data, name);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Shapes

  private state(B: number, T: number, withGrad: boolean): ShapeState {
    const found = this.states.find((s) => s.B === B && s.T === T && s.withGrad === withGrad);
    if (found) return found;
    const s = this.allocState(B, T, withGrad);
    this.states.push(s);
    // Keep a training shape and an evaluation/decoding shape or two; drop the oldest beyond that.
    if (this.states.length > 3) this.states.shift();
    return s;
  }

  private allocState(B: number, T: number, withGrad: boolean): ShapeState {
    const c = this.config;
    const N = B * T;
    const C = c.hiddenSize;
    const L = c.numLayers;
    const dtype = this.opts.dtype;
    const actSizes: Record<string, number> = { ...this.blocks.actSizes(c, N, B, T) };
    for (const [key, lin] of Object.entries(this.layers[0]?.linears ?? {})) {
      if (!lin.lora) continue;
      actSizes[`lora:${key}:h`] = N * lin.lora.r;
      if (lin.lora.dropout > 0) actSizes[`lora:${key}:d`] = N * lin.inF;
    }
    const nActs = withGrad && !this.opts.gradientCheckpointing ? L : 1;
    // By default at least 64 rows per chunk even for huge vocabularies: each chunk streams
    // the whole output projection through the GEMM, so tiny chunks would be memory-bound.
    const asked = this.opts.logitsChunkElements;
    const rows =
      asked === null ? Math.max(64, Math.floor((1 << 21) / c.vocabSize)) : Math.floor(asked / c.vocabSize);
    const chunkRows = Math.min(N, Math.max(1, rows));
    const groups: Record<string, number>[] = [];
    // Without backward, two residual buffers used in turn are enough.
    const nResiduals = withGrad ? L + 1 : 2;
    for (let l = 0; l < nResiduals; l++) groups.push({ x: N * C });
    for (let l = 0; l < nActs; l++) groups.push(actSizes);
    groups.push(this.blocks.scratchSizes(c, N, B, T));
    groups.push({
      hF: N * C,
      dhF: withGrad ? N * C : 0,
      hc: chunkRows * C,
      dhc: withGrad ? chunkRows * C : 0,
      logits: chunkRows * c.vocabSize,
      // tanh of the soft-capped logits, kept for their gradient
      capTanh: c.finalLogitSoftcap && withGrad ? chunkRows * c.vocabSize : 0,
    });
    groups.push({ ...this.blocks.finalStatSizes(N), losses: chunkRows });
    groups.push({
      dres: withGrad ? N * C : 0,
      xRecompute: this.opts.gradientCheckpointing && withGrad ? N * C : 0,
    });
    let maxIn = 0;
    let maxR = 0;
    for (const lin of this.loraModules) {
      maxIn = Math.max(maxIn, lin.inF);
      maxR = Math.max(maxR, lin.lora!.r);
    }
    const hasDropout = this.loraModules.some((l) => l.lora!.dropout > 0);
    groups.push({
      dHidden: N * maxR,
      mask: hasDropout ? N * maxIn : 0,
      dDropped: hasDropout ? N * maxIn : 0,
    });
    const { views } = allocViews(dtype, groups);
    const buffers = views.slice(0, nResiduals).map((v) => v.x);
    const residuals = Array.from({ length: L + 1 }, (_, l) => buffers[withGrad ? l : l % 2]);
    const acts = views.slice(nResiduals, nResiduals + nActs);
    const [scratch, head, stats, misc, lora] = views.slice(nResiduals + nActs);
    return {
      B,
      T,
      N,
      withGrad,
      residuals,
      acts,
      scratch,
      head,
      stats,
      dres: misc.dres,
      xRecompute: misc.xRecompute,
      loraScratch:
        this.loraModules.length > 0
          ? { dHidden: lora.dHidden, mask: lora.mask, dDropped: lora.dDropped }
          : null,
      chunkRows,
      targets: new Int32Array(N),
      trainedRows: new Int32Array(N),
      chunkTargets: new Int32Array(chunkRows),
    };
  }

  /** Drops cached activation buffers (e.g. before a run with a different shape). */
  releaseActivations(): void {
    this.states.length = 0;
  }

  // ---------------------------------------------------------------------------------------
  // Forward / backward

  private context(st: ShapeState, batch: Batch, dropoutSeed: number | null): StepContext {
    const c = this.config;
    const { B, T, N } = st;
    const where = (field: string) => ({ where: { field } });
    if (batch.inputIds.length !== N) {
      throw new SftError(
        `input_ids has ${batch.inputIds.length} tokens, expected B*T = ${N}`,
        where("input_ids"),
      );
    }
    for (let i = 0; i < N; i++) {
      const id = batch.inputIds[i];
      if (!(id >= 0 && id < c.vocabSize)) {
        throw new SftError(
          `token id ${id} at row ${Math.floor(i / T)}, position ${i % T} is outside the vocabulary [0, ${c.vocabSize})`,
          { where: { field: "input_ids" }, hint: "use the tokenizer that belongs to this model" },
        );
      }
    }
    if (batch.segments && batch.segments.length !== N) {
      throw new SftError(`segments has ${batch.segments.length} entries, expected ${N}`, where("segments"));
    }
    let positions = batch.positions;
    if (positions) {
      if (positions.length !== N) {
        throw new SftError(`positions has ${positions.length} entries, expected ${N}`, where("positions"));
      }
    } else {
      positions = new Int32Array(N);
      const seg = batch.segments;
      for (let b = 0; b < B; b++) {
        let p = 0;
        for (let t = 0; t < T; t++) {
          const i = b * T + t;
          if (seg && t > 0 && seg[i] !== seg[i - 1]) p = 0;
          positions[i] = p++;
        }
      }
    }
    let maxPos = 0;
    for (let i = 0; i < N; i++) {
      if (positions[i] < 0)
        throw new SftError(`negative position ${positions[i]} at ${i}`, where("positions"));
      if (positions[i] > maxPos) maxPos = positions[i];
    }
    const maxPositions = this.family.maxPositions(c);
    if (maxPositions !== null && maxPos >= maxPositions) {
      throw new SftError(`position ${maxPos} is beyond the model's ${maxPositions} learned positions`, {
        where: { field: "positions" },
        hint: "use a shorter sequence length (max_position_embeddings / n_positions)",
      });
    }
    this.rope?.ensure(maxPos + 1);
    return {
      k: this.opts.kernels,
      config: c,
      B,
      T,
      N,
      positions,
      segments: batch.segments,
      dropoutSeed,
      rope: this.rope,
      loraScratch: st.loraScratch,
    };
  }

  /** Shifted targets: row (b, t) predicts labels[b, t+1]; -100 at the row end and across segments. */
  private fillTargets(st: ShapeState, batch: Batch): number {
    const { B, T } = st;
    const V = this.config.vocabSize;
    const labels = batch.labels;
    if (!labels) {
      st.targets.fill(-100);
      return 0;
    }
    if (labels.length !== st.N) {
      throw new SftError(`labels has ${labels.length} entries, expected B*T = ${st.N}`, {
        where: { field: "labels" },
      });
    }
    const seg = batch.segments;
    let count = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        let y = t + 1 < T ? labels[i + 1] : -100;
        if (seg && t + 1 < T && seg[i + 1] !== seg[i]) y = -100;
        if (y !== -100 && !(y >= 0 && y < V)) {
          throw new SftError(
            `label ${y} at row ${b}, position ${t + 1} is neither -100 nor a token id below ${V}`,
            { where: { field: "labels" }, hint: "labels must be token ids or -100 (not trained)" },
          );
        }
        st.targets[i] = y;
        if (y !== -100) st.trainedRows[count++] = i;
      }
    }
    return count;
  }

  private forwardBlocks(ctx: StepContext, st: ShapeState, ids: Int32Array): void {
    this.blocks.embedForward(ctx, this.globals, st.residuals[0], ids);
    if (ctx.neftune) addNeftuneNoise(st.residuals[0], ctx.neftune, ctx.T, this.config.hiddenSize);
    const keepAll = st.acts.length === this.layers.length;
    for (let l = 0; l < this.layers.length; l++) {
      const acts = keepAll ? st.acts[l] : st.acts[0];
      this.blocks.blockForward(ctx, this.layers[l], acts, st.scratch, st.residuals[l], st.residuals[l + 1]);
    }
    this.blocks.finalNormForward(ctx, this.globals, st.head.hF, st.stats, st.residuals[this.layers.length]);
  }

  /**
   * Logits for the trained rows only, chunk by chunk, each fed straight into the fused
   * cross-entropy; with `gradScale` the chunk's d logits flow back into dhF and the output
   * projection's gradient. Never holds more than chunkRows × V logits.
   */
  private lossHead(ctx: StepContext, st: ShapeState, count: number, gradScale: number | null): number {
    const k = ctx.k;
    const C = this.config.hiddenSize;
    const V = this.config.vocabSize;
    const W = this.lmHead.data;
    const { hF, dhF } = st.head;
    if (gradScale !== null) dhF.fill(0);
    let lossSum = 0;
    for (let start = 0; start < count; start += st.chunkRows) {
      const m = Math.min(st.chunkRows, count - start);
      const hc = st.head.hc.subarray(0, m * C);
      const tg = st.chunkTargets.subarray(0, m);
      for (let r = 0; r < m; r++) {
        const row = st.trainedRows[start + r];
        hc.set(hF.subarray(row * C, row * C + C), r * C);
        tg[r] = st.targets[row];
      }
      const logits = st.head.logits.subarray(0, m * V);
      k.matmul(logits, hc, W, m, V, C, { transB: true });
      const capTanh = gradScale === null ? null : st.head.capTanh.subarray(0, m * V);
      softcapLogits(logits, this.config.finalLogitSoftcap, capTanh);
      const losses = st.stats.losses.subarray(0, m);
      lossSum += k.crossEntropyForwardBackward(
        gradScale === null ? null : logits,
        losses,
        logits,
        tg,
        m,
        V,
        gradScale ?? 0,
      );
      if (gradScale === null) continue;
      // d cap·tanh(z/cap)/dz = 1 - tanh²
      if (this.config.finalLogitSoftcap && capTanh)
        for (let i = 0; i < m * V; i++) logits[i] *= 1 - capTanh[i] * capTanh[i];
      const dhc = st.head.dhc.subarray(0, m * C);
      k.matmul(dhc, logits, W, m, C, V);
      for (let r = 0; r < m; r++) {
        const row = st.trainedRows[start + r];
        dhF.set(dhc.subarray(r * C, r * C + C), row * C);
      }
      if (this.lmHead.grad)
        k.matmul(this.lmHead.grad, logits, hc, V, C, m, { transA: true, accumulate: true });
    }
    return lossSum;
  }

  /**
   * Forward and backward over one batch; gradients ACCUMULATE into every trainable
   * tensor's grad (call zeroGrad between optimizer steps). The loss is the summed
   * token cross-entropy divided by `lossDenominator` (default: this batch's trained tokens),
   * so micro-batches given the whole batch's token count add up to the big-batch gradient.
   */
  forwardBackward(batch: Batch, opts: ForwardBackwardOptions = {}): LossResult {
    const st = this.state(batch.B, batch.T, true);
    const seed =
      opts.dropoutSeed === undefined ? mixSeed(this.opts.seed, 0xd40, this.callCounter++) : opts.dropoutSeed;
    const ctx = this.context(st, batch, seed);
    ctx.neftune = opts.neftune ?? null;
    const count = this.fillTargets(st, batch);
    const den = opts.lossDenominator ?? count;
    if (!(den > 0) && count > 0) {
      throw new SftError(`lossDenominator must be positive, got ${den}`, {
        where: { field: "lossDenominator" },
      });
    }
    this.forwardBlocks(ctx, st, batch.inputIds);
    if (count === 0) return { loss: 0, lossSum: 0, trainedTokens: 0 };
    const lossSum = this.lossHead(ctx, st, count, 1 / den);
    this.backwardBlocks(ctx, st, batch.inputIds);
    return { loss: lossSum / den, lossSum, trainedTokens: count };
  }

  private backwardBlocks(ctx: StepContext, st: ShapeState, ids: Int32Array): void {
    const L = this.layers.length;
    const dres = st.dres;
    dres.fill(0);
    this.blocks.finalNormBackward(ctx, this.globals, dres, st.head.dhF, st.stats, st.residuals[L]);
    const keepAll = st.acts.length === L;
    for (let l = L - 1; l >= 0; l--) {
      const acts = keepAll ? st.acts[l] : st.acts[0];
      if (!keepAll) {
        // Gradient checkpointing: rebuild this block's activations from its saved input.
        this.blocks.blockForward(ctx, this.layers[l], acts, st.scratch, st.residuals[l], st.xRecompute);
      }
      const needInputGrad = l > 0 || this.embeddingsTrainable;
      this.blocks.blockBackward(ctx, this.layers[l], acts, st.scratch, st.residuals[l], dres, needInputGrad);
    }
    if (this.embeddingsTrainable) this.blocks.embedBackward(ctx, this.globals, dres, ids);
  }

  /** Loss without gradients (evaluation: no dropout). */
  forward(batch: Batch, opts: { lossDenominator?: number } = {}): LossResult {
    const st = this.state(batch.B, batch.T, false);
    const ctx = this.context(st, batch, null);
    const count = this.fillTargets(st, batch);
    this.forwardBlocks(ctx, st, batch.inputIds);
    if (count === 0) return { loss: 0, lossSum: 0, trainedTokens: 0 };
    const lossSum = this.lossHead(ctx, st, count, null);
    const den = opts.lossDenominator ?? count;
    return { loss: lossSum / den, lossSum, trainedTokens: count };
  }

  /**
   * Logits [B*T, V] (float32) for every position, or only for the last position of each
   * row ([B, V]) with `lastOnly`. Meant for evaluation and generation on small batches.
   */
  logits(batch: Batch, opts: { lastOnly?: boolean } = {}): Float32Array {
    const st = this.state(batch.B, batch.T, false);
    const ctx = this.context(st, batch, null);
    this.forwardBlocks(ctx, st, batch.inputIds);
    return this.projectRows(ctx, st, opts.lastOnly ?? false);
  }

  private projectRows(ctx: StepContext, st: ShapeState, lastOnly: boolean): Float32Array {
    const C = this.config.hiddenSize;
    const V = this.config.vocabSize;
    const rows: number[] = [];
    if (lastOnly) for (let b = 0; b < st.B; b++) rows.push(b * st.T + st.T - 1);
    else for (let i = 0; i < st.N; i++) rows.push(i);
    const out = new Float32Array(rows.length * V);
    for (let start = 0; start < rows.length; start += st.chunkRows) {
      const m = Math.min(st.chunkRows, rows.length - start);
      const hc = st.head.hc.subarray(0, m * C);
      for (let r = 0; r < m; r++)
        hc.set(st.head.hF.subarray(rows[start + r] * C, rows[start + r] * C + C), r * C);
      const logits = st.head.logits.subarray(0, m * V);
      ctx.k.matmul(logits, hc, this.lmHead.data, m, V, C, { transB: true });
      softcapLogits(logits, this.config.finalLogitSoftcap, null);
      out.set(logits, start * V);
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------
  // Incremental decoding

  /** An empty KV cache for B rows of up to `capacity` positions. */
  createKVCache(B: number, capacity: number): KVCache {
    const c = this.config;
    const n = B * capacity * c.numKvHeads * c.headDim;
    const { views } = allocViews(
      this.opts.dtype,
      this.layers.map(() => ({ k: n, v: n })),
    );
    return { B, capacity, length: 0, keys: views.map((v) => v.k), values: views.map((v) => v.v) };
  }

  /**
   * Feeds `ids` ([B*Tnew], Tnew new tokens per row, e.g. the prompt and then one token at
   * a time) through the model at positions cache.length…, appends their keys/values to
   * the cache, and returns the logits of each row's last new token, [B, V].
   */
  decodeStep(cache: KVCache, ids: Int32Array): Float32Array {
    const B = cache.B;
    if (ids.length === 0 || ids.length % B !== 0) {
      throw new SftError(`decodeStep got ${ids.length} ids for ${B} rows`, { where: { field: "ids" } });
    }
    const T = ids.length / B;
    if (cache.length + T > cache.capacity) {
      throw new SftError(
        `KV cache full: ${cache.length} + ${T} positions exceed its capacity ${cache.capacity}`,
        {
          where: { field: "capacity" },
          hint: "create the cache with room for the prompt plus max_new_tokens",
        },
      );
    }
    const positions = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) positions[b * T + t] = cache.length + t;
    const st = this.state(B, T, false);
    const ctx = this.context(st, { B, T, inputIds: ids, positions }, null);
    ctx.kv = cache;
    this.forwardBlocks(ctx, st, ids);
    cache.length += T;
    return this.projectRows(ctx, st, true);
  }

  // ---------------------------------------------------------------------------------------
  // Per-block access for layer-level gradient checks

  /** Runs block l forward on xIn (N = B*T rows) into xOut and keeps what backward needs. */
  blockForwardForTest(batch: Batch, l: number, xIn: FloatArray, xOut: FloatArray, dropoutSeed: number): void {
    const st = this.state(batch.B, batch.T, true);
    const ctx = this.context(st, batch, dropoutSeed);
    this.blocks.blockForward(ctx, this.layers[l], st.acts[0], st.scratch, xIn, xOut);
  }

  /** Backward of the last blockForwardForTest: dres = d xOut in, d xIn out. */
  blockBackwardForTest(
    batch: Batch,
    l: number,
    xIn: FloatArray,
    dres: FloatArray,
    dropoutSeed: number,
  ): void {
    const st = this.state(batch.B, batch.T, true);
    const ctx = this.context(st, batch, dropoutSeed);
    this.blocks.blockBackward(ctx, this.layers[l], st.acts[0], st.scratch, xIn, dres, true);
  }
}

/**
 * Final-logit soft-capping (Gemma 2): logits become cap·tanh(logits/cap) in place, the tanh
 * kept in `tanhOut` for backward. No cap (null/undefined/0): logits are left alone.
 */
function softcapLogits(logits: FloatArray, cap: number | null | undefined, tanhOut: FloatArray | null): void {
  if (!cap) return;
  for (let i = 0; i < logits.length; i++) {
    const t = Math.tanh(logits[i] / cap);
    if (tanhOut) tanhOut[i] = t;
    logits[i] = cap * t;
  }
}

/**
 * NEFTune (Jain et al.): uniform noise of magnitude alpha/sqrt(T·C) on the embeddings. It is
 * an additive constant for backward, so no gradient code changes.
 */
function addNeftuneNoise(x: FloatArray, n: { alpha: number; seed: number }, T: number, C: number): void {
  const mag = n.alpha / Math.sqrt(T * C);
  const rng = new Rng(mixSeed(n.seed, 0x4ef7));
  for (let i = 0; i < x.length; i++) x[i] += (2 * rng.uniform() - 1) * mag;
}

/** The checks every family shares; the family's own follow (family.validateConfig). */
function checkConfig(c: ModelConfig): void {
  const bad = (field: string, msg: string, hint: string) => {
    throw new SftError(msg, { where: { field }, hint });
  };
  for (const [field, v] of [
    ["vocab_size", c.vocabSize],
    ["hidden_size", c.hiddenSize],
    ["intermediate_size", c.intermediateSize],
    ["num_hidden_layers", c.numLayers],
    ["num_attention_heads", c.numHeads],
    ["num_key_value_heads", c.numKvHeads],
    ["head_dim", c.headDim],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      bad(field, `${field} must be a positive integer, got ${v}`, "fix config.json");
  }
  if (c.numHeads % c.numKvHeads !== 0) {
    bad(
      "num_key_value_heads",
      `num_attention_heads (${c.numHeads}) is not a multiple of num_key_value_heads (${c.numKvHeads})`,
      "fix config.json",
    );
  }
}
