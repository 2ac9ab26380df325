/**
 * A separate process that takes one lock: `node --import tsx lock-holder.ts PATH COMMAND`.
 * Prints `locked <pid>` (or the SftError on stderr, exit 3), then holds the lock until stdin
 * closes or a signal arrives.
 */
import { isSftError } from "../../src/errors.js";
import { acquireLock } from "../../src/util/lock.js";

const [path, command] = process.argv.slice(2);
try {
  const lock = acquireLock(path, { command });
  process.stdout.write(`locked ${process.pid}\n`);
  process.stdin.on("end", () => {
    lock.release();
    process.stdout.write("released\n");
  });
  process.stdin.resume();
} catch (e) {
  process.stderr.write(`${isSftError(e) ? e.format() : String(e)}\n`);
  process.exit(3);
}
