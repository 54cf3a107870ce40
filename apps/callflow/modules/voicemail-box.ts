/**
 * A Kazoo vmbox document as cf_voicemail reads it (kzd_voicemail_box, the vmboxes
 * schema), the voicemail prompts, and PIN-style DTMF collection.
 *
 * Contract
 * - `loadBox(call, id)`: the box, or a problem string (missing, not `pvt_type` vmbox).
 *   Read: `pin`, `media.unavailable`, `skip_greeting`, `max_message_length` (s, Kazoo's
 *   default 500), `min_message_size` (ms, Kazoo's default 500), `max_login_attempts`
 *   (Kazoo's default 3), `mailbox`.
 * - `prompt(name)`: Kazoo's system prompt URL `prompt://system_media/<name>/en-us`.
 * - `collectDigits(call, media, opts)`: plays `media`, a first digit stops it (playstop);
 *   digits until `#`, `max` digits or `interdigitMs` without one; '' when nothing was
 *   pressed within `timeoutMs` after the prompt.
 */
import type { Envelope } from '../../../src/bus/index.ts';
import type { CallHandle } from '../call.ts';
import { num } from './module.ts';

export interface VmBox {
  readonly id: string;
  readonly mailbox: string;
  readonly pin?: string;
  readonly unavailable?: string;
  readonly skipGreeting: boolean;
  readonly maxLengthS: number;
  readonly minLengthMs: number;
  readonly loginAttempts: number;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export async function loadBox(call: CallHandle, id: string): Promise<VmBox | string> {
  let doc: Record<string, unknown>;
  try {
    doc = await call.doc(id);
  } catch (err) {
    return `vmbox ${id}: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (doc.pvt_type !== 'vmbox') return `document ${id} is not a vmbox (pvt_type ${String(doc.pvt_type)})`;
  const media = isObj(doc.media) ? doc.media : {};
  const pin = typeof doc.pin === 'string' || typeof doc.pin === 'number' ? String(doc.pin) : undefined;
  return {
    id,
    mailbox: typeof doc.mailbox === 'string' ? doc.mailbox : '',
    pin: pin === '' ? undefined : pin,
    unavailable: typeof media.unavailable === 'string' ? media.unavailable : undefined,
    skipGreeting: doc.skip_greeting === true,
    maxLengthS: Math.max(1, num(doc.max_message_length, 500)),
    minLengthMs: num(doc.min_message_size, 500),
    loginAttempts: Math.max(1, num(doc.max_login_attempts, 3)),
  };
}

export const prompt = (name: string): string => `prompt://system_media/${name}/en-us`;

const isDtmf = (m: Envelope): boolean => m['Event-Name'] === 'DTMF' && typeof m['DTMF-Digit'] === 'string';
const playDone = (m: Envelope): boolean =>
  m['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && m['Application-Name'] === 'play';

export async function collectDigits(
  call: CallHandle,
  media: string,
  opts: { max: number; timeoutMs: number; interdigitMs: number },
): Promise<string> {
  await call.send('play', { 'Media-Name': media });
  let playing = true;
  let first: Envelope | 'timeout';
  for (;;) {
    first = await call.nextEvent(
      (m) => isDtmf(m) || (playing && playDone(m)),
      playing ? Infinity : opts.timeoutMs,
    );
    if (first === 'timeout' || !playDone(first)) break;
    playing = false;
  }
  if (first === 'timeout') return '';
  if (playing) await call.send('playstop');
  let digits = String(first['DTMF-Digit']);
  while (!digits.endsWith('#') && digits.length < opts.max) {
    const m = await call.nextEvent(isDtmf, opts.interdigitMs);
    if (m === 'timeout') break;
    digits += String(m['DTMF-Digit']);
  }
  if (playing) await call.nextEvent(playDone, 5000);
  return digits.replace(/#$/, '');
}
