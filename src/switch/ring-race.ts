/**
 * Rings the legs of a parsed dial string as FreeSWITCH's switch_ivr_originate does, for
 * `bridge` and `originate`.
 *
 * Contract: `ringDialString(model, parsed, opts)` rings the `|` groups one after another;
 * in a group every `,` leg rings at once (a leg with `leg_delay_start=N` starts N s later)
 * and the first to answer wins: the others still ringing are hung up with LOSE_RACE, as
 * FreeSWITCH cancels them ("call completed elsewhere"). A group ends with NO_ANSWER after
 * its timeout (`originate_timeout` of the dial string, else `opts.timeoutMs`), a leg with
 * `leg_timeout=N` gives up on its own after N s (NO_ANSWER); when every leg failed the
 * group fails with the last leg's cause and the next group rings. `opts.signal` aborting
 * (the A-leg hung up) cancels every ringing leg with ORIGINATOR_CANCEL. Each leg's merged
 * variables become its channel variables (so `ecallmgr_*` ones are on its events);
 * `origination_uuid`, `origination_caller_id_number` / `_name` name and present the leg.
 * Resolves with the answered leg, or the failure cause (and the refusing phone's
 * `sip:<code>`); an empty dial string fails with NO_ROUTE_DESTINATION.
 */
import type { CallModel, OriginateResult } from './call-model.ts';
import type { Channel } from './channel.ts';
import type { DialLeg, DialString } from './dial-string.ts';

export interface RingOptions {
  from?: string;
  callerIdName?: string;
  callUuid?: string;
  /** The A-leg (bridge): each B-leg carries it as Other-Leg-Unique-ID. */
  otherLeg?: string;
  /** Per group, when the dial string has no originate_timeout (ms). */
  timeoutMs: number;
  signal?: AbortSignal;
}

const seconds = (v: string | undefined): number | undefined => {
  const n = Number(v);
  return v !== undefined && v !== '' && Number.isFinite(n) && n >= 0 ? n * 1000 : undefined;
};

export async function ringDialString(
  model: CallModel,
  parsed: DialString,
  opts: RingOptions,
): Promise<OriginateResult> {
  let last: OriginateResult = { ok: false, cause: 'NO_ROUTE_DESTINATION' };
  for (const group of parsed.groups) {
    if (opts.signal?.aborted === true) return { ok: false, cause: 'ORIGINATOR_CANCEL' };
    last = await ringGroup(model, group, opts, seconds(parsed.vars.originate_timeout) ?? opts.timeoutMs);
    if (last.ok) return last;
  }
  return last;
}

function ringGroup(
  model: CallModel,
  legs: readonly DialLeg[],
  opts: RingOptions,
  timeoutMs: number,
): Promise<OriginateResult> {
  return new Promise((resolve) => {
    const ringing = new Set<Channel>();
    const timers: NodeJS.Timeout[] = [];
    let pending = legs.length;
    let lastFailure: OriginateResult = { ok: false, cause: 'NO_ANSWER' };
    let done = false;
    const finish = (r: OriginateResult, cancelCause: string): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      for (const ch of ringing) if (model.isRinging(ch.uuid)) model.rejectRinging(ch.uuid, cancelCause);
      resolve(r);
    };
    const onAbort = (): void => finish({ ok: false, cause: 'ORIGINATOR_CANCEL' }, 'ORIGINATOR_CANCEL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    timers.push(setTimeout(() => finish({ ok: false, cause: 'NO_ANSWER' }, 'NO_ANSWER'), timeoutMs));
    const start = (leg: DialLeg): void => {
      if (done) return;
      const v = leg.vars;
      void model
        .originate(leg.dial, {
          from: v.origination_caller_id_number ?? opts.from,
          callerIdName: v.origination_caller_id_name ?? opts.callerIdName,
          variables: { ...v },
          timeoutMs: Math.min(seconds(v.leg_timeout) ?? timeoutMs, timeoutMs),
          callUuid: opts.callUuid,
          uuid: v.origination_uuid,
          otherLeg: opts.otherLeg,
          onCreated: (ch) => ringing.add(ch),
        })
        .then((r) => {
          if (r.ok && done) model.hangup(r.channel, 'LOSE_RACE');
          else if (r.ok) finish(r, 'LOSE_RACE');
          else {
            lastFailure = r;
            if (--pending === 0) finish(lastFailure, 'NO_ANSWER');
          }
        });
    };
    for (const leg of legs) {
      const delay = seconds(leg.vars.leg_delay_start);
      if (delay === undefined || delay === 0) start(leg);
      else timers.push(setTimeout(() => start(leg), delay));
    }
  });
}
