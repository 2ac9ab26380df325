/** Dataset builds use the package's seeded helpers (kept here for existing imports). */
export { makeRng, sample, seedFrom, shuffled } from "../../util/rng.js";
