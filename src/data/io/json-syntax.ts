/**
 * Locates the first syntax error in a JSON text and names it in plain words. JSON.parse's
 * own messages differ between Node versions; this gives stable, exact messages. It runs only
 * after JSON.parse has already failed, so its speed does not matter.
 */
export interface JsonSyntaxProblem {
  /** 0-based offset into the text. */
  offset: number;
  problem: string;
}

class Fail {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {}
}

export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const value = (): void => {
    ws();
    if (i >= text.length) throw new Fail(i, "unexpected end of input, expected a value");
    const c = text[i];
    if (c === "{") object();
    else if (c === "[") array();
    else if (c === '"') string();
    else if (c === "-" || (c >= "0" && c <= "9")) number();
    else literal();
  };
  const literal = () => {
    for (const lit of ["true", "false", "null"]) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    throw new Fail(i, "expected a value");
  };
  const object = () => {
    i++;
    ws();
    if (text[i] === "}") {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') throw new Fail(i, "expected a quoted key");
      string();
      ws();
      if (text[i] !== ":") throw new Fail(i, "expected ':'");
      i++;
      value();
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "}") {
        i++;
        return;
      }
      throw new Fail(
        i,
        i >= text.length ? "unexpected end of input, expected ',' or '}'" : "expected ',' or '}'",
      );
    }
  };
  const array = () => {
    i++;
    ws();
    if (text[i] === "]") {
      i++;
      return;
    }
    for (;;) {
      value();
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "]") {
        i++;
        return;
      }
      throw new Fail(
        i,
        i >= text.length ? "unexpected end of input, expected ',' or ']'" : "expected ',' or ']'",
      );
    }
  };
  const string = () => {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new Fail(i, "control character inside a string (escape it, e.g. \\n)");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i, "invalid \\u escape");
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Fail(i, "invalid escape sequence");
        i += 2;
        continue;
      }
      i++;
    }
    throw new Fail(start, "unterminated string");
  };
  const number = () => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === "-") throw new Fail(i, "invalid number");
    i += m[0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) return { offset: i, problem: "unexpected text after the JSON value" };
    return { offset: 0, problem: "invalid JSON" };
  } catch (e) {
    if (e instanceof Fail) return { offset: e.offset, problem: e.problem };
    throw e;
  }
}

/** Line (0-based, relative) and column (1-based) of an offset in a possibly multi-line text. */
export function lineAndColumn(text: string, offset: number): { lineOffset: number; column: number } {
  let lineOffset = 0;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text.charCodeAt(k) === 10) {
      lineOffset++;
      lineStart = k + 1;
    }
  }
  return { lineOffset, column: offset - lineStart + 1 };
}
