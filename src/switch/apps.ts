/**
 * The dialplan applications the simulator implements, each an async function that runs
 * on one channel and returns its Application-Response.
 *
 * Contract (per application; arguments as FreeSWITCH's mod_dptools takes them)
 * - answer, pre_answer, ring_ready: move the call on (CHANNEL_ANSWER / _PROGRESS_MEDIA /
 *   _PROGRESS); response `_none_`.
 * - hangup [cause]: hangs the channel up (default NORMAL_CLEARING).
 * - set / export `name=value` (empty value unsets), unset `name`, multiset `a=1 b=2` or
 *   `^^<sep>a=1<sep>b=2`.
 * - sleep <ms>; echo (until hangup).
 * - playback <file>: PLAYBACK_START, plays for the media duration (`silence_stream://N` is
 *   N ms, `tone_stream://` its tones, `file_string://a!b` the sum, anything else
 *   `media.playbackMs`), stops early on a digit in the channel variable
 *   `playback_terminators` (`any` = every digit; none by default) or on uuid_break;
 *   PLAYBACK_STOP (Playback-Status done|break); response `FILE PLAYED`; the digit that
 *   stopped it is in `playback_terminator_used`.
 * - play_and_get_digits <min> <max> <tries> <timeout-ms> <terminators> <file> <invalid-file>
 *   <var> [regexp] [digit-timeout-ms]; read <min> <max> <file> <var> <timeout-ms>
 *   <terminators>: a digit stops the prompt; digits are collected until max, a terminator
 *   or the timeout; the result is stored in <var> (and `read_result` success|timeout|
 *   failure for read); response `_none_`.
 * - record <path> [time-limit-secs]: RECORD_START, records until a terminator (`#` unless
 *   `playback_terminators` says otherwise), the time limit (else `media.recordMaxMs`) or
 *   hangup; sets record_ms, record_seconds, record_samples (8 kHz), the terminator in
 *   playback_terminator_used and silence_hits_exhausted=false before RECORD_STOP, so the
 *   RECORD_STOP event carries them (ecallmgr reads `variable_record_ms` for Length);
 *   response `_none_`.
 * - gentones <tgml>[|<loops>] and playback `tone_stream://<tgml>`: last as long as the
 *   tones (see toneMs), then complete.
 * - bridge <dial string>: rings it as dial-string.ts / ring-race.ts say (`{}`/`[]`
 *   variables on the B-legs, `,` legs at once with the first answer winning, `|` groups in
 *   turn; call_timeout or originate_timeout, leg_timeout) until one answers; answers the A-leg if needed, CHANNEL_BRIDGE, then waits for either side to
 *   hang up; CHANNEL_UNBRIDGE; the A-leg's hangup hangs the B-leg up with the same cause.
 *   Sets originate_disposition (SUCCESS or the failure cause: USER_NOT_REGISTERED,
 *   NO_ANSWER, ...), originate_failed_cause, bridge_hangup_cause, last_bridge_hangup_cause.
 *   The response is `_none_` either way, as in FreeSWITCH recordings: read the variables.
 *   `hangup_after_bridge=true` hangs A up when B leaves. Stopped by a transfer of its legs
 *   (bridge-exit.ts: uuid_park, uuid_transfer): CHANNEL_UNBRIDGE, a B-leg not transferred
 *   hangs up NORMAL_CLEARING, an A-leg transferred does not hang up.
 * - say <lang> <type> <method> <text> [gender] (Kazoo's order; mod_say_en's files): plays
 *   the files mod_say would, one playback each (PLAYBACK_START/STOP per file, each
 *   `media.playbackMs` long), so it lasts in proportion to the text: a number `pronounced`
 *   as digits/<n>.wav, hundred, thousand, million; `iterated` (and other types) one file
 *   per character (digits/<d>.wav, ascii/<code>.wav); `playback_terminators` stop it;
 *   response `_none_`.
 * - event `Event-Name=CUSTOM,Event-Subclass=x::y,k=v`: fires that event with the channel.
 */
import type { Logger } from '../kernel/log.ts';
import type { Channel } from './channel.ts';
import type { CallModel } from './call-model.ts';
import type { Header } from './esl-wire.ts';
import { parseDialString } from './dial-string.ts';
import { ringDialString } from './ring-race.ts';
import { BridgeExit } from './bridge-exit.ts';

export interface SimMediaOptions {
  /** How long a played file lasts, in ms (default 1000). */
  playbackMs: number;
  /** How long a record lasts with no time limit and no terminator, in ms (default 5000). */
  recordMaxMs: number;
}

export interface AppContext {
  readonly ch: Channel;
  readonly arg: string;
  readonly model: CallModel;
  readonly media: SimMediaOptions;
  /** Aborted on hangup (reason undefined) or uuid_break (reason 'break'). */
  readonly signal: AbortSignal;
  /** Next digit pressed on the channel (buffered), or 'timeout' after ms, or 'aborted'. */
  waitForDigit(ms: number): Promise<string>;
  readonly log: Logger;
}

export type Application = (ctx: AppContext) => Promise<string>;

type WaitEnd = 'done' | 'aborted' | 'digit';

/** Waits ms, ending early on abort; never rejects. */
export function interruptible(ms: number, signal: AbortSignal): Promise<WaitEnd> {
  return new Promise<WaitEnd>((resolve) => {
    if (signal.aborted) return resolve('aborted');
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve('aborted');
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve('done');
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** How long playing `file` lasts in the simulator, in ms. */
export function mediaMs(file: string, media: SimMediaOptions): number {
  if (file.startsWith('file_string://'))
    return file
      .slice('file_string://'.length)
      .split('!')
      .reduce((sum, f) => sum + mediaMs(f, media), 0);
  const m = /^silence_stream:\/\/(\d+)/.exec(file);
  if (m?.[1] !== undefined) return Number(m[1]);
  if (file.startsWith('tone_stream://')) return toneMs(file.slice('tone_stream://'.length));
  return media.playbackMs;
}

/**
 * Length in ms of a TGML tone string (FreeSWITCH's teletone: `%(on,off,freqs)` segments,
 * `;`-separated, `L=n` repeats, settings such as `v=`, `>=`, `+=` take no time); DTMF digits in
 * gentones-style strings count 100 ms each. A tone looping forever (`L=-1`) is capped at
 * 60 s; uuid_break or hangup end it sooner.
 */
export function toneMs(tgml: string): number {
  let loops = 1;
  let ms = 0;
  for (const part of tgml.split(';')) {
    const p = part.trim();
    const l = /^(?:L|loops)=(-?\d+)$/i.exec(p);
    if (l?.[1] !== undefined) {
      loops = Number(l[1]);
      continue;
    }
    for (const seg of p.matchAll(/%\(\s*(\d+)\s*,\s*(\d+)[^)]*\)/g)) ms += Number(seg[1]) + Number(seg[2]);
    if (!p.includes('%(') && !p.includes('=')) ms += p.replace(/[^0-9*#a-d]/gi, '').length * 100;
  }
  return loops < 0 ? 60_000 : ms * Math.max(1, loops);
}

function terminatorsOf(ch: Channel, fallback: string): string {
  const t = ch.variables.get('playback_terminators') ?? fallback;
  if (t === 'none') return '';
  return t === 'any' ? '0123456789*#ABCD' : t;
}

function setVar(ch: Channel, assignment: string): void {
  const i = assignment.indexOf('=');
  if (i <= 0) return;
  const name = assignment.slice(0, i).trim();
  const value = assignment.slice(i + 1);
  if (value === '') ch.variables.delete(name);
  else ch.variables.set(name, value);
}

/** Waits up to ms for a digit in stopOn (other digits are ignored). */
async function untilDigit(
  ctx: AppContext,
  ms: number,
  stopOn: string,
): Promise<{ end: WaitEnd; digit?: string }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await ctx.waitForDigit(Math.max(0, deadline - Date.now()));
    if (r === 'timeout') return { end: 'done' };
    if (r === 'aborted') return { end: 'aborted' };
    if (stopOn.includes(r)) return { end: 'digit', digit: r };
  }
}

async function play(
  ctx: AppContext,
  file: string,
  stopOn: string,
): Promise<{ end: WaitEnd; digit?: string }> {
  const { ch, model } = ctx;
  model.fire('PLAYBACK_START', ch, [['Playback-File-Path', file]]);
  const r = await untilDigit(ctx, mediaMs(file, ctx.media), stopOn);
  model.fire('PLAYBACK_STOP', ch, [
    ['Playback-File-Path', file],
    ['Playback-Status', r.end === 'done' ? 'done' : 'break'],
  ]);
  return r;
}

/** Collects digits after a prompt: until max, a terminator, or timeout. */
async function collect(
  ctx: AppContext,
  o: { first?: string; max: number; terminators: string; timeoutMs: number; digitTimeoutMs: number },
): Promise<{ digits: string; terminator?: string; aborted: boolean }> {
  let digits = '';
  let terminator: string | undefined;
  const add = (d: string): boolean => {
    if (o.terminators.includes(d)) terminator = d;
    else digits += d;
    return terminator !== undefined || digits.length >= o.max;
  };
  if (o.first !== undefined && add(o.first)) return { digits, terminator, aborted: false };
  for (;;) {
    const r = await ctx.waitForDigit(digits.length === 0 ? o.timeoutMs : o.digitTimeoutMs);
    if (r === 'aborted') return { digits, terminator, aborted: true };
    if (r === 'timeout' || add(r)) return { digits, terminator, aborted: false };
  }
}

const none = async (): Promise<string> => '_none_';

/** mod_say_en's files for a whole number below a billion, pronounced. */
function pronounced(n: number): string[] {
  const d = (x: number): string => `digits/${x}.wav`;
  const below1000 = (x: number): string[] => {
    const out: string[] = [];
    if (x >= 100) out.push(d(Math.floor(x / 100)), 'digits/hundred.wav');
    const r = x % 100;
    if (r >= 20) out.push(d(r - (r % 10)), ...(r % 10 > 0 ? [d(r % 10)] : []));
    else if (r > 0) out.push(d(r));
    return out;
  };
  if (n === 0) return [d(0)];
  const millions = Math.floor(n / 1e6);
  const thousands = Math.floor(n / 1e3) % 1000;
  return [
    ...(millions > 0 ? [...below1000(millions), 'digits/million.wav'] : []),
    ...(thousands > 0 ? [...below1000(thousands), 'digits/thousand.wav'] : []),
    ...below1000(n % 1000),
  ];
}

/** The files `say` plays for `text` (see the contract). */
export function sayFiles(type: string, method: string, text: string): string[] {
  const t = type.toLowerCase();
  if (
    (t === 'number' || t === 'items' || t === 'messages' || t === 'persons') &&
    method.toLowerCase() !== 'iterated' &&
    /^\d{1,9}$/.test(text)
  )
    return pronounced(Number(text));
  return [...text].map((c) => (/\d/.test(c) ? `digits/${c}.wav` : `ascii/${c.charCodeAt(0)}.wav`));
}

export const APPLICATIONS: Record<string, Application> = {
  answer: async ({ model, ch }) => (model.answer(ch), '_none_'),
  pre_answer: async ({ model, ch }) => (model.preAnswer(ch), '_none_'),
  ring_ready: async ({ model, ch }) => (model.ringReady(ch), '_none_'),
  hangup: async ({ model, ch, arg }) => (
    model.hangup(ch, arg.trim() === '' ? 'NORMAL_CLEARING' : arg.trim().toUpperCase()),
    '_none_'
  ),
  set: async ({ ch, arg }) => (setVar(ch, arg), '_none_'),
  export: async ({ ch, arg }) => (setVar(ch, arg.replace(/^nolocal:/, '')), '_none_'),
  unset: async ({ ch, arg }) => (ch.variables.delete(arg.trim()), '_none_'),
  multiset: async ({ ch, arg }) => {
    const sep = /^\^\^(.)/.exec(arg)?.[1];
    for (const a of sep === undefined ? arg.split(/\s+/) : arg.slice(3).split(sep)) setVar(ch, a);
    return '_none_';
  },
  sleep: async (ctx) => (await interruptible(Number(ctx.arg) || 0, ctx.signal), '_none_'),
  echo: async (ctx) => (await interruptible(2 ** 31 - 1, ctx.signal), '_none_'),
  park: none,
  playback: async (ctx) => {
    const r = await play(ctx, ctx.arg.trim(), terminatorsOf(ctx.ch, ''));
    ctx.ch.variables.set('playback_terminator_used', r.digit ?? '');
    return 'FILE PLAYED';
  },
  play_and_get_digits: async (ctx) => {
    const [min, max, tries, timeout, terms, file, invalid, variable, regexp, digitTimeout] = ctx.arg
      .trim()
      .split(/\s+/);
    const re = regexp !== undefined && regexp !== '' ? new RegExp(`^(?:${regexp})$`) : /^[0-9*#]*$/;
    for (let t = 0; t < Math.max(1, Number(tries) || 1); t++) {
      const prompt = await play(ctx, file ?? '', '0123456789*#');
      if (prompt.end === 'aborted') break;
      const got = await collect(ctx, {
        first: prompt.digit,
        max: Number(max) || 1,
        terminators: terms ?? '#',
        timeoutMs: Number(timeout) || 5000,
        digitTimeoutMs: Number(digitTimeout) || Number(timeout) || 5000,
      });
      if (got.aborted) break;
      if (got.digits.length >= (Number(min) || 0) && re.test(got.digits)) {
        if (variable !== undefined) ctx.ch.variables.set(variable, got.digits);
        return '_none_';
      }
      if (invalid !== undefined && invalid !== '' && invalid !== 'silence_stream://0')
        await play(ctx, invalid, '');
    }
    if (variable !== undefined) ctx.ch.variables.delete(variable);
    return '_none_';
  },
  read: async (ctx) => {
    const [min, max, file, variable, timeout, terms] = ctx.arg.trim().split(/\s+/);
    const prompt = await play(ctx, file ?? '', '0123456789*#');
    const got =
      prompt.end === 'aborted'
        ? { digits: '', aborted: true, terminator: undefined }
        : await collect(ctx, {
            first: prompt.digit,
            max: Number(max) || 1,
            terminators: terms ?? '#',
            timeoutMs: Number(timeout) || 5000,
            digitTimeoutMs: Number(timeout) || 5000,
          });
    const ok = got.digits.length >= (Number(min) || 0) && got.digits.length > 0;
    if (variable !== undefined) ctx.ch.variables.set(variable, got.digits);
    ctx.ch.variables.set('read_result', ok ? 'success' : got.aborted ? 'failure' : 'timeout');
    ctx.ch.variables.set('read_terminator_used', got.terminator ?? '');
    return '_none_';
  },
  gentones: async (ctx) => {
    const [tones = '', loops] = ctx.arg.trim().split('|');
    const tgml = loops !== undefined ? `L=${loops};${tones}` : tones;
    const r = await untilDigit(ctx, toneMs(tgml), '');
    return r.end === 'aborted' ? '_none_' : '+OK';
  },
  record: async (ctx) => {
    const [path = '', limit] = ctx.arg.trim().split(/\s+/);
    const started = Date.now();
    ctx.model.fire('RECORD_START', ctx.ch, [['Record-File-Path', path]]);
    const limitMs = limit !== undefined && Number(limit) > 0 ? Number(limit) * 1000 : ctx.media.recordMaxMs;
    const end = await untilDigit(ctx, limitMs, terminatorsOf(ctx.ch, '#'));
    // Ended by its limit: exactly the limit long (a timer may fire a millisecond before
    // the wall clock has moved that far), else as long as it ran.
    const ms = end.end === 'done' ? limitMs : Math.min(limitMs, Date.now() - started);
    const v = ctx.ch.variables;
    v.set('record_ms', String(ms));
    v.set('record_seconds', String(Math.floor(ms / 1000)));
    v.set('record_samples', String(ms * 8));
    v.set('playback_terminator_used', end.digit ?? '');
    v.set('silence_hits_exhausted', 'false');
    ctx.model.fire('RECORD_STOP', ctx.ch, [['Record-File-Path', path]]);
    return '_none_';
  },
  say: async (ctx) => {
    const [, type = '', method = '', text = ''] = ctx.arg.trim().split(/\s+/);
    const stopOn = terminatorsOf(ctx.ch, '');
    for (const file of sayFiles(type, method, text)) {
      const r = await play(ctx, file, stopOn);
      if (r.end !== 'done') {
        ctx.ch.variables.set('playback_terminator_used', r.digit ?? '');
        break;
      }
    }
    return '_none_';
  },
  event: async ({ model, ch, arg }) => {
    const extra: Header[] = [];
    let name = 'CUSTOM';
    for (const kv of arg.split(',')) {
      const i = kv.indexOf('=');
      if (i <= 0) continue;
      const k = kv.slice(0, i).trim();
      if (k === 'Event-Name') name = kv.slice(i + 1);
      else extra.push([k, kv.slice(i + 1)]);
    }
    model.fire(name, ch, extra);
    return '_none_';
  },
  bridge: bridgeApp,
};

async function bridgeApp(ctx: AppContext): Promise<string> {
  const { ch: a, model } = ctx;
  const result = await ringDialString(model, parseDialString(ctx.arg), {
    from: a.profile.callerIdNumber,
    callerIdName: a.profile.callerIdName,
    callUuid: a.callUuid,
    otherLeg: a.uuid,
    timeoutMs: Number(a.variables.get('call_timeout') ?? '60') * 1000,
    signal: ctx.signal,
  });
  if (!result.ok) {
    if (result.protoCause !== undefined)
      a.variables.set('last_bridge_proto_specific_hangup_cause', result.protoCause);
    a.variables.set('originate_disposition', result.cause);
    a.variables.set('originate_failed_cause', result.cause);
    return '_none_';
  }
  const b = result.channel;
  if (ctx.signal.aborted) {
    model.hangup(b, a.hangupCause ?? 'ORIGINATOR_CANCEL');
    return '_none_';
  }
  model.answer(a);
  a.variables.set('originate_disposition', 'SUCCESS');
  model.bridge(a, b);
  const aGone = new Promise<void>((resolve) =>
    ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  await Promise.race([aGone, model.whenHungUp(b.uuid)]);
  // Legs transferred out of the bridge (uuid_park, uuid_transfer: bridge-exit.ts) stay up.
  const exit = ctx.signal.reason instanceof BridgeExit ? ctx.signal.reason : undefined;
  if (model.channels.has(a.uuid)) model.unbridge(a);
  if (a.isHungUp) model.hangup(b, a.hangupCause);
  else if (exit !== undefined && !exit.leaving.has(b.uuid)) model.hangup(b, 'NORMAL_CLEARING');
  const bCause = b.hangupCause ?? 'NORMAL_CLEARING';
  a.variables.set('bridge_hangup_cause', bCause);
  a.variables.set('last_bridge_hangup_cause', bCause);
  if (!a.isHungUp && exit?.leaving.has(a.uuid) !== true && a.variables.get('hangup_after_bridge') === 'true')
    model.hangup(a, 'NORMAL_CLEARING');
  return '_none_';
}
