/**
 * The two parts of Go's encoding/json that flannel's formats depend on: compact output with HTML-safe escapes
 * (what `json.Marshal` writes), and case-insensitive matching of object keys to struct fields (what
 * `json.Unmarshal` reads, the last matching key winning).
 */
import { ConfigError } from './errors.js';

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** `JSON.stringify` with Go's escaping of `<`, `>`, `&`, U+2028 and U+2029; compact like `json.Marshal`. */
export function goJsonStringify(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text.replace(/[<>&\u2028\u2029]/g, (ch) => GO_ESCAPES[ch] ?? ch);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Maps an object's keys onto known field names case-insensitively, as Go does for struct fields. Keys that match no
 * field are ignored; when two keys match the same field, the later one wins.
 */
export function matchFields<F extends string>(
  object: Record<string, unknown>,
  fields: readonly F[],
): Partial<Record<F, unknown>> {
  const byLower = new Map(fields.map((field) => [field.toLowerCase(), field] as const));
  const out: Partial<Record<F, unknown>> = {};
  for (const [key, value] of Object.entries(object)) {
    const field = byLower.get(key.toLowerCase());
    if (field !== undefined) out[field] = value;
  }
  return out;
}

/**
 * The options of a `Backend` object, matched to `known` case-insensitively as Go would; `Type` is the backend's
 * name and always allowed. Unlike Go (which ignores unknown keys), an unknown option is refused: a misspelt
 * `Vni` is one thing, `VNl` silently falling back to the default is another.
 */
export function backendOptionFields<F extends string>(
  backend: Readonly<Record<string, unknown>>,
  type: string,
  known: readonly F[],
  /** Keys flannel defines for another platform and ignores here (vxlan's Windows `MacPrefix`, `Name`): accepted, unused. */
  ignored: readonly string[] = [],
): Partial<Record<F, unknown>> {
  const allowed = new Set([...known, ...ignored, 'Type'].map((field) => field.toLowerCase()));
  const unknown = Object.keys(backend).filter((key) => !allowed.has(key.toLowerCase()));
  if (unknown.length > 0) {
    const options = known.length === 0 ? `the ${type} backend takes no options` : `the ${type} backend takes ${known.join(', ')}`;
    throw new ConfigError(`Backend.${unknown[0]}`, `unknown ${type} backend option${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `"${k}"`).join(', ')}: ${options}; remove or correct ${unknown.length === 1 ? 'it' : 'them'}`);
  }
  const present: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(backend)) if (value !== null && value !== undefined) present[key] = value;
  return matchFields(present, known);
}
