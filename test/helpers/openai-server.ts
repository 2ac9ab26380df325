/**
 * A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions (and embeddings)
 * protocol, for tests. Answers are scripted from the request itself, so a run's results do
 * not depend on request order or timing; faults can be injected per request number.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ChatRequestBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  n?: number;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  response_format?: { type: string };
}

export type Fault =
  | { kind: "429"; retryAfterS: number }
  | { kind: "500" }
  | { kind: "400" }
  | { kind: "401" }
  | { kind: "403" }
  | { kind: "hang" }
  | { kind: "malformed" }
  | { kind: "cut" };

export interface ScriptedAnswer {
  text: string;
  finish_reason?: string;
}

export interface ServerOptions {
  /** The reply for a request (choice index i when n > 1). */
  answer?: (body: ChatRequestBody, choice: number) => string | ScriptedAnswer;
  /** Fault for the k-th request (1-based, counting every HTTP request including retries). */
  fault?: (k: number, body: ChatRequestBody | undefined) => Fault | undefined;
  /** Delay before each normal answer (ms). */
  delayMs?: number;
}

export interface ServerLogEntry {
  k: number;
  path: string;
  body: ChatRequestBody | undefined;
  fault?: Fault["kind"];
  at: number;
  authorization?: string;
}

export interface RunningServer {
  /** Base URL ending in /v1. */
  url: string;
  log: ServerLogEntry[];
  /** Requests answered normally (status 200 with a valid body). */
  answered(): number;
  close(): Promise<void>;
}

export function hashInt(text: string): number {
  return createHash("sha256").update(text).digest().readUInt32BE(0);
}

/** Hashed bag-of-words embedding (dim 64): similar wording → high cosine. */
export function toyEmbedding(text: string): number[] {
  const v = new Array(64).fill(0);
  const tokens = text.toLowerCase().match(/[\u4e00-\u9fff]|[a-z0-9]+/g) ?? [];
  for (const t of tokens) v[hashInt(t) % 64] += 1;
  return v;
}

export async function startOpenAiServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const log: ServerLogEntry[] = [];
  const sockets = new Set<Socket>();
  let k = 0;
  let answered = 0;
  const answer = opts.answer ?? defaultAnswer;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      k++;
      const n = k;
      let body: ChatRequestBody | undefined;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChatRequestBody;
      } catch {
        body = undefined;
      }
      const fault = opts.fault?.(n, body);
      log.push({
        k: n,
        path: req.url ?? "",
        body,
        fault: fault?.kind,
        at: Date.now(),
        authorization: req.headers.authorization,
      });
      if (fault) return injectFault(fault, req, res);
      const reply = () => {
        if (req.url?.endsWith("/embeddings")) {
          const input = (body as unknown as { input: string | string[] }).input;
          const inputs = Array.isArray(input) ? input : [input];
          answered++;
          return sendJson(res, 200, {
            object: "list",
            data: inputs.map((t, i) => ({ object: "embedding", index: i, embedding: toyEmbedding(t) })),
            model: "toy-embed",
            usage: { prompt_tokens: 0, total_tokens: 0 },
          });
        }
        if (!body || !Array.isArray(body.messages))
          return sendJson(res, 400, { error: { message: "bad request" } });
        const choices = Array.from({ length: body.n ?? 1 }, (_, i) => {
          const a = answer(body, i);
          const { text, finish_reason } = typeof a === "string" ? { text: a, finish_reason: "stop" } : a;
          return {
            index: i,
            message: { role: "assistant", content: text },
            finish_reason: finish_reason ?? "stop",
          };
        });
        const promptTokens = body.messages.reduce((s, m) => s + Math.ceil(m.content.length / 4), 0);
        const completionTokens = choices.reduce((s, c) => s + Math.ceil(c.message.content.length / 4), 0);
        answered++;
        sendJson(res, 200, {
          id: `chatcmpl-${n}`,
          object: "chat.completion",
          created: 0,
          model: body.model,
          choices,
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: completionTokens,
            total_tokens: promptTokens + completionTokens,
          },
        });
      };
      if (opts.delayMs) setTimeout(reply, opts.delayMs);
      else reply();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    log,
    answered: () => answered,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function injectFault(fault: Fault, req: IncomingMessage, res: ServerResponse): void {
  switch (fault.kind) {
    case "429":
      res.writeHead(429, { "content-type": "application/json", "retry-after": String(fault.retryAfterS) });
      res.end(JSON.stringify({ error: { message: "rate limited", type: "rate_limit" } }));
      return;
    case "500":
      sendJson(res, 500, { error: { message: "internal error" } });
      return;
    case "400":
      sendJson(res, 400, { error: { message: "bad request" } });
      return;
    case "401":
      sendJson(res, 401, { error: { message: "Incorrect API key provided", type: "invalid_request_error" } });
      return;
    case "403":
      sendJson(res, 403, { error: { message: "Project does not have access to model", type: "permission" } });
      return;
    case "hang":
      return; // never answers; the client's timeout must fire
    case "malformed": {
      const text = '{"id": "x", "choices": [ {"message": ';
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    case "cut":
      req.socket.destroy();
      return;
  }
}

// ---------------------------------------------------------------------------------------
// The default script: understands sftkit's built-in build/augment prompts (English and
// Chinese) and answers each deterministically from the request text.

const SUBJECTS = [
  "photosynthesis",
  "compound interest",
  "binary search",
  "the water cycle",
  "supply and demand",
  "plate tectonics",
  "recursion",
  "the French Revolution",
  "vaccines",
  "climate models",
  "prime numbers",
  "public speaking",
];
const ASKS = [
  "Explain how {s} works, with one concrete example.",
  "Describe three common misconceptions about {s} and correct each one.",
  "Write a short step-by-step guide to understanding {s} for a beginner.",
  "Compare {s} with a related idea and list two differences.",
  "Summarise the key facts about {s} in a short paragraph.",
  "Give a worked example that uses {s} to solve a practical problem.",
];
const WORDS = (
  "apple river engine velvet quantum harbor lantern marble orbit pepper cactus violin glacier tunnel meadow " +
  "falcon copper saddle thunder pixel canyon walnut ember compass juniper magnet oyster prism quartz rubber " +
  "sapphire timber umbrella vortex whisker yeast zephyr anchor bamboo cobalt dolphin eclipse fossil granite " +
  "hammock igloo jigsaw kettle lagoon mosaic nectar opal pebble quiver ribbon saffron tulip"
).split(" ");
const ZH_WORDS = (
  "苹果 河流 引擎 丝绒 量子 港口 灯笼 大理 轨道 胡椒 仙人 提琴 冰川 隧道 草地 猎鹰 铜矿 马鞍 雷声 像素 峡谷 核桃 余烬 罗盘 " +
  "磁铁 牡蛎 棱镜 石英 橡胶 宝石 木材 雨伞 漩涡 胡须 酵母 微风 船锚 竹子 海豚 日食 化石 花岗 吊床 拼图 水壶 泻湖 花蜜"
).split(" ");
const ZH_SUBJECTS = [
  "光合作用",
  "复利",
  "二分查找",
  "水循环",
  "供求关系",
  "板块构造",
  "递归",
  "疫苗",
  "质数",
  "演讲技巧",
];
const ZH_ASKS = [
  "请解释{s}是如何运作的，并举一个具体的例子。",
  "请列出关于{s}的三个常见误解，并逐一纠正。",
  "请为初学者写一份理解{s}的分步指南。",
  "请把{s}与一个相关概念进行比较，说明两点不同。",
];

function lastUser(body: ChatRequestBody): string {
  for (let i = body.messages.length - 1; i >= 0; i--)
    if (body.messages[i].role === "user") return body.messages[i].content;
  return "";
}

function topicOf(prompt: string): string | undefined {
  return /topic: ([^\n.]+)/i.exec(prompt)?.[1]?.trim() ?? /主题：([^\n。]+)/.exec(prompt)?.[1]?.trim();
}

export function defaultAnswer(body: ChatRequestBody, choice: number): string | ScriptedAnswer {
  const all = body.messages.map((m) => m.content).join("\n");
  const user = lastUser(body);
  const h = hashInt(`${all}#${choice}#${body.seed ?? ""}`);
  const zh = /[\u4e00-\u9fff]/.test(all.slice(0, 200));
  const pick = <T>(xs: T[], salt: number) => xs[(h >>> salt) % xs.length];
  if (/You write instructions for training|你负责为训练/.test(all)) {
    const topic = topicOf(user);
    if (zh) return pick(ZH_ASKS, 3).replace("{s}", topic ?? pick(ZH_SUBJECTS, 7));
    return pick(ASKS, 3).replace("{s}", topic ? `${pick(SUBJECTS, 7)} in ${topic}` : pick(SUBJECTS, 7));
  }
  if (/Come up with a new task|想出一个新的任务/.test(all)) {
    // five content words drawn from the request hash: different requests → different tasks
    const words = Array.from({ length: 5 }, (_, i) => WORDS[hashInt(`${all}#${choice}#${i}`) % WORDS.length]);
    if (zh) {
      const w = Array.from(
        { length: 5 },
        (_, i) => ZH_WORDS[hashInt(`${all}#${choice}#${i}`) % ZH_WORDS.length],
      );
      return `Instruction: ${w[0]}${w[1]}与${w[2]}${w[3]}有何联系${w[4]}\nInput: <noinput>`;
    }
    return `Instruction: Describe ${words[0]} ${words[1]} with ${words[2]} near the ${words[3]} ${words[4]}.\nInput: <noinput>`;
  }
  if (/in different words|用不同的措辞/.test(all)) {
    const original = /<<<([\s\S]*?)>>>/.exec(user)?.[1] ?? user;
    return zh
      ? `请你${original.replace(/^请/, "")}`
      : `Could you please ${original.charAt(0).toLowerCase()}${original.slice(1)}`;
  }
  if (/into a (harder|simpler) version|改写成更(难|简单)/.test(all)) {
    const original = /<<<([\s\S]*?)>>>/.exec(user)?.[1] ?? user;
    if (/simpler|更简单/.test(user))
      return zh ? `${original}（用简单的话说）` : `${original} Keep it short and simple.`;
    return zh
      ? `${original}另外，请说明你的推理过程。`
      : `${original} Also justify each step and mention one edge case.`;
  }
  if (/so that it is set in|放到.*场景/.test(all)) {
    const original = /<<<([\s\S]*?)>>>/.exec(user)?.[1] ?? user;
    const ctx = /context: ([a-z ]+)/i.exec(user)?.[1] ?? "daily life";
    return zh ? `在${ctx}的场景中：${original}` : `In a ${ctx} setting: ${original}`;
  }
  if (/content safety moderator|内容安全审核/.test(all))
    return /bomb|poison/i.test(user) ? "UNSAFE: violence" : "SAFE";
  // A response to an instruction: restate its key words, then a complete answer.
  const q = user.replace(/\s+/g, " ").trim();
  if (zh) {
    return `关于这个问题：${q}\n\n首先，${q.slice(0, 12)}的核心在于理解基本原理。其次，可以通过具体例子来说明。最后，总结要点，确保回答完整。`;
  }
  const variant = h % 20;
  if (variant === 0) return "I'm sorry, but I can't help with that request.";
  if (variant === 1) return { text: `Regarding ${q}: the first point is that`, finish_reason: "length" };
  return `Regarding ${q}\n\n1. The core idea: ${q.toLowerCase()} comes down to a few clear principles.\n2. An example makes it concrete and easy to check.\n3. In summary, these points answer the request completely.`;
}
