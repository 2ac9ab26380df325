/**
 * Atomic file writes: data goes to a temporary file in the same directory, is fsynced, and
 * is renamed over the target. A crash mid-write leaves the old file (or none), never a
 * truncated one that looks valid.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}`);
}

/** Writes a whole file atomically (sync). */
export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, "w");
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, target);
}

/**
 * A streaming atomic writer: write chunks, then `commit()` renames into place, or `abort()`
 * removes the temporary file. Nothing is visible at `target` before commit.
 */
export class AtomicFileWriter {
  private constructor(
    readonly target: string,
    private readonly tmp: string,
    private readonly handle: import("node:fs/promises").FileHandle,
  ) {}

  static async open(target: string): Promise<AtomicFileWriter> {
    mkdirSync(dirname(target), { recursive: true });
    const tmp = tempPathFor(target);
    return new AtomicFileWriter(target, tmp, await open(tmp, "w"));
  }

  async write(chunk: string | Uint8Array): Promise<void> {
    await this.handle.write(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
  }

  async commit(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
    await rename(this.tmp, this.target);
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
    await rm(this.tmp, { force: true });
  }
}
