/**
 * The logging contract every package receives, and the one line format the apps write:
 * `2026-11-25T02:13:34.123Z info lease-manager acquired lease subnet=10.1.30.0/24 publicIP=192.0.2.1`.
 * The writer is injected, so this stays free of I/O; packages never call console.*.
 */
import { hasUnsafeCharacters } from './printable.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that tags each line with `component` (nested with `/`). */
  child(component: string): Logger;
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LineLoggerOptions {
  /** Receives one finished line (without the newline). */
  readonly write: (line: string) => void;
  readonly level?: LogLevel;
  readonly now?: () => Date;
  readonly component?: string;
  /**
   * `text` (the default): `time level component msg key=value`. `json`: one object a line for log pipelines, with
   * the stable keys `time`, `level`, `component`, `msg` first, then the fields (a field with one of those names
   * is written as `field.<name>`).
   */
  readonly format?: 'text' | 'json';
}

const JSON_KEYS = new Set(['time', 'level', 'component', 'msg']);

export function createLineLogger(options: LineLoggerOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? 'info');
  const now = options.now ?? (() => new Date());
  const make = (component: string): Logger => {
    const log = (level: LogLevel) => (message: string, fields?: LogFields) => {
      if (LOG_LEVELS.indexOf(level) < threshold) return;
      const time = now().toISOString();
      options.write(options.format === 'json' ? formatJsonLine(time, level, component || '-', message, fields) : `${time} ${level} ${component || '-'} ${message}${formatFields(fields)}`);
    };
    return {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (name) => make(component ? `${component}/${name}` : name),
    };
  };
  return make(options.component ?? '');
}

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return '';
  let out = '';
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out += ` ${key}=${formatValue(value)}`;
  }
  return out;
}

function formatJsonLine(time: string, level: LogLevel, component: string, msg: string, fields: LogFields | undefined): string {
  const line: Record<string, unknown> = { time, level, component, msg };
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (value === undefined) continue;
    line[JSON_KEYS.has(key) ? `field.${key}` : key] = jsonValue(value);
  }
  // JSON escapes C0 controls itself; DEL, C1 and bidi controls (which a value from etcd may hold) are escaped too,
  // as the text format does, so no line shows other than it reads.
  return JSON.stringify(line).replace(/[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Numbers, booleans and null stay as they are; errors become their message, bigints and other objects text. */
function jsonValue(value: unknown): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') return value;
  if (value instanceof Error) return value.message;
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value) || (typeof value === 'object' && !('toJSON' in value) && Object.getPrototypeOf(value) === Object.prototype)) return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as unknown;
  return String(value);
}

function formatValue(value: unknown): string {
  const text =
    value instanceof Error ? value.message : typeof value === 'string' ? value : typeof value === 'object' && value !== null && !('toJSON' in value) ? JSON.stringify(value) : String(value);
  if (text !== '' && /^[^\s"=\\]*$/.test(text) && !hasUnsafeCharacters(text)) return text;
  return quoteForLog(text);
}

/**
 * A JSON string literal with every control character escaped: JSON.stringify escapes C0 but leaves DEL, C1 and the
 * Unicode controls that reorder text, so those are escaped too. Values from etcd or the wire cannot forge log lines.
 */
export function quoteForLog(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A logger that drops everything (a library default). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
