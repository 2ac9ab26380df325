/**
 * Confines the dashboard's file access to the folders it was given: a run id is one name
 * directly under the runs folder, and the real path (symlinks resolved) must stay inside it.
 */
import { realpathSync } from "node:fs";
import { join, sep } from "node:path";

/** The real path of `root/name`, or undefined when the name is not one plain entry or leads outside. */
export function confinedEntry(root: string, name: string): string | undefined {
  if (
    name === "" ||
    name === "." ||
    name === ".." ||
    name.includes("/") ||
    name.includes("\\") ||
    name.includes("\0")
  )
    return undefined;
  let real: string;
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(join(root, name));
  } catch {
    return undefined;
  }
  return real.startsWith(realRoot + sep) ? real : undefined;
}
