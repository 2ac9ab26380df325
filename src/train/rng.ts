/** The training streams use the package's one seeded generator (kept here for existing imports). */
export { Rng, type RngState } from "../util/rng.js";
