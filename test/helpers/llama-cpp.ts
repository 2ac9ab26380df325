/** Starts llama.cpp through node-llama-cpp (CPU, prebuilt only), or says why it cannot here. */
export type NodeLlamaCpp = typeof import("node-llama-cpp");
export type Llama = Awaited<ReturnType<NodeLlamaCpp["getLlama"]>>;

export async function startLlama(): Promise<{ llama: Llama } | { skip: string }> {
  try {
    const nlc: NodeLlamaCpp = await import("node-llama-cpp");
    const llama = await nlc.getLlama({
      gpu: false,
      build: "never",
      logLevel: nlc.LlamaLogLevel.error,
      progressLogs: false,
    });
    return { llama };
  } catch (e) {
    return { skip: `node-llama-cpp cannot load here: ${(e as Error).message}` };
  }
}
