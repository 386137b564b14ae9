/*
 * Where JSON text stops being valid. V8's JSON.parse names the position of most faults, but not of an
 * unexpected character ("Unexpected token 'x', "...abc"... is not valid JSON"), whose message instead
 * echoes the text around it. This scanner finds that position itself, so every fault is reported at
 * its own line and column; it runs only after JSON.parse has failed.
 */

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

/** The offset of the first character where `text` is not valid JSON; text.length when it ends too early, -1 when valid. */
export function jsonFaultOffset(text: string): number {
  const n = text.length;
  let i = 0;
  // Open containers, innermost last: '{' or '['. Iterative, so deep nesting cannot overflow the stack.
  const open: string[] = [];
  const skipWs = () => {
    while (i < n && WS.has(text.charCodeAt(i))) i++;
  };
  const digits = (): boolean => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    return i > start;
  };
  /** Scans a string from its opening quote; false at the offending character. */
  const string = (): boolean => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) return (i++, true);
      if (c < 0x20) return false;
      if (c !== 0x5c) {
        i++;
        continue;
      }
      i++;
      if (text[i] === 'u') {
        for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) return (i += k, false);
        i += 5;
      } else if (ESCAPES.has(text[i])) {
        i++;
      } else {
        return false;
      }
    }
    return false;
  };
  const number = (): boolean => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (!digits()) return false;
    if (text[i] === '.' && (i++, !digits())) return false;
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!digits()) return false;
    }
    return true;
  };
  const word = (w: string): boolean => {
    for (const c of w) {
      if (text[i] !== c) return false;
      i++;
    }
    return true;
  };
  /** One value, or the opening of a container; false at the offending character. */
  const value = (): boolean => {
    skipWs();
    const c = text[i];
    if (c === '{' || c === '[') {
      open.push(c);
      i++;
      skipWs();
      if (text[i] === (c === '{' ? '}' : ']')) {
        open.pop();
        i++;
        return true;
      }
      return c === '{' ? key() : value();
    }
    if (c === '"') return string();
    if (c === 't') return word('true');
    if (c === 'f') return word('false');
    if (c === 'n') return word('null');
    return number();
  };
  /** A key and its colon inside an object, then its value. */
  const key = (): boolean => {
    skipWs();
    if (text[i] !== '"' || !string()) return false;
    skipWs();
    if (text[i] !== ':') return false;
    i++;
    return value();
  };

  if (!value()) return Math.min(i, n);
  for (;;) {
    skipWs();
    const top = open[open.length - 1];
    if (top === undefined) return i < n ? i : -1;
    if (text[i] === ',') {
      i++;
      if (!(top === '{' ? key() : value())) return Math.min(i, n);
    } else if (text[i] === (top === '{' ? '}' : ']')) {
      open.pop();
      i++;
    } else {
      return Math.min(i, n);
    }
  }
}
