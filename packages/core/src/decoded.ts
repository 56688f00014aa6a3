/** Result of decoding data read from the store: decoders never throw, so one bad item can be logged and skipped. */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export function decoded<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function rejected<T>(reason: string): Decoded<T> {
  return { ok: false, reason };
}
