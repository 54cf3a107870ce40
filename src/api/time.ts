/**
 * Kazoo's timestamps: seconds since year 0 of the Gregorian calendar (Erlang's
 * `calendar:datetime_to_gregorian_seconds/1`, Kazoo's `kz_time:now_s/0`), which is what
 * Kazoo puts in call events' Timestamp, in every document's `pvt_created`/`pvt_modified`
 * (kz_doc:update_pvt_parameters), in voicemail messages' `utc_seconds` and
 * `metadata.timestamp`, and what its clients (Monster UI) send and turn back into dates.
 *
 * Contract: `gregorianSeconds(ms)` is the Unix time `ms` (default now) in whole
 * Gregorian seconds; `GREGORIAN_OFFSET_S` is the difference between the two epochs;
 * `asGregorianSeconds(v)` reads a stored timestamp, Unix seconds of an earlier Fife
 * included.
 */
export const GREGORIAN_OFFSET_S = 62_167_219_200;

export const gregorianSeconds = (ms: number = Date.now()): number =>
  Math.floor(ms / 1000) + GREGORIAN_OFFSET_S;

/**
 * A stored timestamp read as Gregorian seconds: documents written by Kazoo carry
 * Gregorian seconds; an earlier Fife wrote Unix seconds, and any number below
 * GREGORIAN_OFFSET_S (a date before 1970 read as Gregorian) is taken as Unix and moved
 * by the offset. Integers given as text count; anything else is undefined.
 */
export function asGregorianSeconds(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
  const s = Math.floor(n);
  return s < GREGORIAN_OFFSET_S ? s + GREGORIAN_OFFSET_S : s;
}
