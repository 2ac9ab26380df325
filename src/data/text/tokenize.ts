/** The text utilities live at the bottom of the package (src/text/); this path keeps existing imports working. */
export * from "../../text/tokenize.js";
