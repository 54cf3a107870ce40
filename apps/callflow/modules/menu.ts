/**
 * cf_menu: an auto-attendant. Answers the call, plays the greeting, collects DTMF digits from the call's
 * DTMF events (a first digit stops the greeting with `playstop`), and continues to the
 * child keyed by the digit string.
 *
 * Data: `id` (a Kazoo menu document in the account: `media.greeting`,
 * `media.invalid_media`, `retries`, `timeout`, `max_extension_length`,
 * `interdigit_timeout`); the same keys may be given in data itself, where they win, and
 * `prompt` is a shorthand for `media.greeting`. Defaults: retries 3, timeout 10000 ms,
 * max_extension_length 4, interdigit_timeout 2000 ms.
 * Branches: the digit string; `timeout` when nothing was pressed (else the greeting is
 * played again); `max_retries` when the retries are used up (else `_`, as cf_menu's
 * cf_exe:continue). Digits that match no child play `invalid_media` and count as a try.
 * Collection ends at `#`, at max_extension_length, at the inter-digit timeout, or as
 * soon as the digits name a child no other child key extends.
 */
import type { Envelope } from '../../../src/bus/index.ts';
import type { CallHandle } from '../call.ts';
import { firstProblem, next, num, optNumber, optString, type CfModule, type Data } from './module.ts';
import { mediaPath } from './media.ts';

interface Menu {
  greeting?: string;
  invalid?: string;
  retries: number;
  timeoutMs: number;
  maxLength: number;
  interdigitMs: number;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

async function menuOf(data: Data, call: CallHandle): Promise<Menu> {
  const doc = typeof data.id === 'string' ? await call.doc(data.id) : {};
  const d: Record<string, unknown> = { ...doc, ...data };
  const media = { ...(isObj(doc.media) ? doc.media : {}), ...(isObj(data.media) ? data.media : {}) };
  const greeting = typeof d.prompt === 'string' ? d.prompt : media.greeting;
  return {
    greeting: typeof greeting === 'string' ? greeting : undefined,
    invalid: typeof media.invalid_media === 'string' ? media.invalid_media : undefined,
    retries: Math.max(1, num(d.retries ?? d.max_retries, 3)),
    timeoutMs: num(d.timeout, 10_000),
    maxLength: Math.max(1, num(d.max_extension_length, 4)),
    interdigitMs: num(d.interdigit_timeout, 2000),
  };
}

const isDtmf = (m: Envelope): boolean => m['Event-Name'] === 'DTMF' && typeof m['DTMF-Digit'] === 'string';
const playDone = (m: Envelope): boolean =>
  m['Event-Name'] === 'CHANNEL_EXECUTE_COMPLETE' && m['Application-Name'] === 'play';

/** One try: the digits pressed ('' for none). */
async function collect(
  call: CallHandle,
  menu: Menu,
  children: Readonly<Record<string, unknown>>,
): Promise<string> {
  let playing = false;
  if (menu.greeting !== undefined) {
    await call.send('play', { 'Media-Name': mediaPath(menu.greeting, call.info.accountId) });
    playing = true;
  }
  let first: Envelope | 'timeout';
  for (;;) {
    first = await call.nextEvent(
      (m) => isDtmf(m) || (playing && playDone(m)),
      playing ? Infinity : menu.timeoutMs,
    );
    if (first !== 'timeout' && playDone(first)) {
      playing = false;
      continue;
    }
    break;
  }
  if (first === 'timeout') return '';
  if (playing) await call.send('playstop');
  let digits = String(first['DTMF-Digit']);
  const done = (): boolean =>
    digits.endsWith('#') ||
    digits.length >= menu.maxLength ||
    (digits in children && !Object.keys(children).some((k) => k !== digits && k.startsWith(digits)));
  while (!done()) {
    const m = await call.nextEvent(isDtmf, menu.interdigitMs);
    if (m === 'timeout') break;
    digits += String(m['DTMF-Digit']);
  }
  if (playing) await call.nextEvent(playDone, 5000);
  return digits.replace(/#$/, '');
}

export const menu: CfModule = {
  name: 'menu',
  check: (d) =>
    firstProblem(
      optString(d, 'id'),
      optString(d, 'prompt'),
      optNumber(d, 'retries'),
      optNumber(d, 'max_retries'),
      optNumber(d, 'timeout'),
      optNumber(d, 'max_extension_length'),
      optNumber(d, 'interdigit_timeout'),
    ),
  async run(data, call, children) {
    const m = await menuOf(data, call);
    await call.exec('answer');
    for (let attempt = 0; attempt < m.retries; attempt++) {
      const digits = await collect(call, m, children);
      call.log.info({ digits, attempt }, 'menu: collected');
      if (digits === '') {
        if (children.timeout !== undefined) return next('timeout');
        continue;
      }
      if (children[digits] !== undefined) return next(digits);
      if (m.invalid !== undefined)
        await call.exec('play', { 'Media-Name': mediaPath(m.invalid, call.info.accountId) });
    }
    return next(children.max_retries !== undefined ? 'max_retries' : '_');
  },
};
