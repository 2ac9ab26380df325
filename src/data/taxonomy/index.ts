export {
  type DimensionCoverage,
  type DiversityReport,
  diversityReport,
  taxonomyFieldsOf,
} from "./diversity.js";
export {
  DEFAULT_TAXONOMY,
  drawFromTaxonomy,
  loadTaxonomy,
  type Taxonomy,
  type TaxonomyDraw,
  taskPairs,
  taxonomySchema,
} from "./taxonomy.js";
