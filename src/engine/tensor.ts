/**
 * Named tensors as they move between checkpoint files and models. In memory every
 * floating tensor is Float32 (F16/BF16/Q8_0 are converted on load); `dtype` records how it
 * was or will be stored on disk.
 */
export type StorageDType = "F32" | "F16" | "BF16" | "F64" | "Q8_0" | "I32" | "I64" | "U8";

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface StoredTensor extends Tensor {
  dtype: StorageDType;
}

export type TensorMap = Map<string, Tensor>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
