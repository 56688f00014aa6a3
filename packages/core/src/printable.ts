/**
 * Text from etcd or the wire, made safe for a terminal or a log line: control characters (C0, DEL, C1) and the
 * Unicode controls that reorder or hide text (bidi overrides and isolates, zero-width marks, line and paragraph
 * separators) are written as escapes, so a lease value cannot forge table rows, move the cursor or recolour the
 * screen. Printable text, including non-ASCII letters, is kept as is.
 */

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** The text with every unsafe character escaped (`\n`, `\x1b`, `\u202e`); backslashes are doubled only then. */
export function printable(text: string): string {
  UNSAFE.lastIndex = 0;
  if (!UNSAFE.test(text)) return text;
  return text.replace(/\\/g, '\\\\').replace(UNSAFE, escapeChar);
}

/** True when `printable` would change the text. */
export function hasUnsafeCharacters(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text);
}
