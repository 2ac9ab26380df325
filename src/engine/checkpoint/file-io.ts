/**
 * Small synchronous file helpers shared by the checkpoint readers and writers: reading a
 * byte range straight into a caller's buffer (no whole-file read), and an atomic streaming
 * writer (temporary file in the same directory, fsync, rename) for files too large to
 * assemble in memory first.
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { SftError } from "../../errors.js";

/** An open file for random-access reads. Close it when done. */
export class RandomAccessFile {
  readonly size: number;
  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {
    this.size = fstatSync(fd).size;
  }

  static open(path: string): RandomAccessFile {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new SftError(code === "ENOENT" ? "file not found" : `cannot open file (${code ?? String(e)})`, {
        where: { file: path },
        hint: "check the path",
        code: "E_IO",
        cause: e,
      });
    }
    return new RandomAccessFile(path, fd);
  }

  /** Fills `into` from file offset `position`; fails if the file ends first. */
  readInto(into: Uint8Array, position: number): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.fd, into, done, into.length - done, position + done);
      if (n === 0) {
        throw new SftError(
          `unexpected end of file at byte ${position + done} (file has ${this.size} bytes)`,
          {
            where: { file: this.path },
            hint: "the file is truncated; download or write it again",
            code: "E_CHECKPOINT",
          },
        );
      }
      done += n;
    }
  }

  read(position: number, length: number): Uint8Array {
    const buf = new Uint8Array(length);
    this.readInto(buf, position);
    return buf;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Streams bytes into a temporary file; `commit()` renames it over the target. */
export class AtomicSyncWriter {
  private readonly tmp: string;
  private fd: number;
  bytesWritten = 0;

  constructor(readonly target: string) {
    mkdirSync(dirname(target), { recursive: true });
    this.tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}`);
    this.fd = openSync(this.tmp, "w");
  }

  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.bytesWritten += bytes.length;
  }

  commit(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.tmp, this.target);
  }

  abort(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    rmSync(this.tmp, { force: true });
  }
}

/** Runs `body` with an AtomicSyncWriter, committing on success and removing the temp file on failure. */
export function writeAtomically(target: string, body: (w: AtomicSyncWriter) => void): void {
  const w = new AtomicSyncWriter(target);
  try {
    body(w);
  } catch (e) {
    w.abort();
    throw e;
  }
  w.commit();
}

/** Views a Float32Array's bytes (little-endian hosts only, which is every Node target). */
export function float32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
