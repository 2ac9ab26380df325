/**
 * Reads the verdict a harness wrote on fd 3: exactly `NONCE " " PASSED " " JSON-STRING "\n"`
 * with the run's 32-byte nonce, and nothing else. Anything more, less or different means the
 * tested code wrote on the channel (or stopped the harness) and the run counts as failed.
 */
export type Verdict = { ok: true; passed: number; error: string } | { ok: false; reason: string };

export function readVerdict(channel: Buffer, nonce: Buffer, total: number): Verdict {
  if (channel.length === 0)
    return { ok: false, reason: "no result: the program ended before the tests finished" };
  if (channel.length < nonce.length + 4 || !channel.subarray(0, nonce.length).equals(nonce))
    return { ok: false, reason: "rejected: the result channel holds something the harness did not write" };
  const rest = channel.subarray(nonce.length).toString("utf8");
  const m = /^ (\d{1,9}) ("(?:[^"\\\n]|\\.)*")\n$/.exec(rest);
  if (!m) return { ok: false, reason: "rejected: the result channel holds more than one well-formed result" };
  const passed = Number(m[1]);
  if (passed > total) return { ok: false, reason: `rejected: ${passed} passed of ${total} tests` };
  let error = "";
  try {
    error = String(JSON.parse(m[2]));
  } catch {
    error = "";
  }
  return { ok: true, passed, error };
}
