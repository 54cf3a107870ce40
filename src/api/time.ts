/**
 * Kazoo's timestamps: seconds since year 0 of the Gregorian calendar (Erlang's
 * `calendar:datetime_to_gregorian_seconds/1`, Kazoo's `kz_time:now_s/0`), which is what
 * Kazoo puts in call events' Timestamp and in voicemail messages' `metadata.timestamp`,
 * and what its clients turn back into dates.
 *
 * Contract: `gregorianSeconds(ms)` is the Unix time `ms` (default now) in whole
 * Gregorian seconds; `GREGORIAN_OFFSET_S` is the difference between the two epochs.
 */
export const GREGORIAN_OFFSET_S = 62_167_219_200;

export const gregorianSeconds = (ms: number = Date.now()): number =>
  Math.floor(ms / 1000) + GREGORIAN_OFFSET_S;
