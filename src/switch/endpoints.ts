/**
 * Registered phones (SIP devices) the simulator can ring: the target of `bridge`,
 * `originate` and the control API's `placeCall`, each with a script saying what it does.
 *
 * Contract
 * - `register(user, script)` makes `user` reachable; `unregister(user)` removes it.
 *   A script's `mode` says what the phone does when rung: `auto` answers after
 *   `answerAfterMs` (default 0); `manual` rings until the control API answers, rejects or
 *   hangs it up (or the caller's timeout); `noanswer` rings until the caller gives up;
 *   `reject` refuses with `rejectSipCode` (default 603) and `busy` with 486. Once answered,
 *   `hangupAfterMs` hangs the phone up (a BYE from the phone) and `dtmf` sends
 *   `[{atMs, digits}]` counted from the answer. A phone that places a call (placeCall from
 *   a registered user) runs its `hangupAfterMs` / `dtmf` on that call once answered.
 * - `scriptNext(user, script)` overrides the script for the next call to `user` only
 *   (merged over the registered one); `resolve` consumes it.
 * - `sipToCause(code)` maps a SIP final response to the hangup cause FreeSWITCH's
 *   mod_sofia gives it (486 USER_BUSY, 480 NO_USER_RESPONSE, 603 CALL_REJECTED, ...);
 *   `rejectCause` overrides it.
 * - `resolve(dialString)` understands `user/<u>[@domain]`, `sofia/<profile>/<u>[@host]`,
 *   `sofia/gateway/<gw>/<u>`, and `error/<cause>`; it returns the phone with the script
 *   for this call, a forced failure cause, or USER_NOT_REGISTERED for an unknown user
 *   (as FreeSWITCH answers a `user/` dial string for a user with no registration).
 */

export type DeviceMode = 'auto' | 'manual' | 'noanswer' | 'reject' | 'busy';
export const DEVICE_MODES: readonly DeviceMode[] = ['auto', 'manual', 'noanswer', 'reject', 'busy'];

export interface DtmfStep {
  atMs: number;
  digits: string;
}

export interface DeviceBehaviour {
  mode?: DeviceMode;
  answerAfterMs?: number;
  rejectSipCode?: number;
  rejectCause?: string;
  hangupAfterMs?: number;
  dtmf?: DtmfStep[];
  callerIdName?: string;
}

export type PhoneScript = DeviceBehaviour;

export interface ResolvedBehaviour extends DeviceBehaviour {
  mode: DeviceMode;
  answerAfterMs: number;
  rejectSipCode: number;
  rejectCause: string;
}

export interface Device {
  readonly user: string;
  readonly behaviour: ResolvedBehaviour;
}

export type Resolution = { ok: true; device: Device; channelName: string } | { ok: false; cause: string };

/** mod_sofia's mapping of a SIP final response to a hangup cause (sofia_glue_sip_cause_to_freeswitch). */
const SIP_CAUSES: Record<number, string> = {
  200: 'NORMAL_CLEARING',
  401: 'CALL_REJECTED',
  402: 'CALL_REJECTED',
  403: 'CALL_REJECTED',
  404: 'UNALLOCATED_NUMBER',
  408: 'RECOVERY_ON_TIMER_EXPIRE',
  410: 'NUMBER_CHANGED',
  480: 'NO_USER_RESPONSE',
  484: 'INVALID_NUMBER_FORMAT',
  486: 'USER_BUSY',
  487: 'ORIGINATOR_CANCEL',
  488: 'INCOMPATIBLE_DESTINATION',
  500: 'NORMAL_TEMPORARY_FAILURE',
  502: 'NETWORK_OUT_OF_ORDER',
  503: 'NORMAL_TEMPORARY_FAILURE',
  504: 'RECOVERY_ON_TIMER_EXPIRE',
  600: 'USER_BUSY',
  603: 'CALL_REJECTED',
  604: 'NO_ROUTE_DESTINATION',
  606: 'INCOMPATIBLE_DESTINATION',
};

export function sipToCause(code: number): string {
  if (SIP_CAUSES[code] !== undefined) return SIP_CAUSES[code];
  if (code >= 400 && code < 500) return 'INTERWORKING';
  return code >= 600 ? 'CALL_REJECTED' : 'NORMAL_TEMPORARY_FAILURE';
}

function complete(script: DeviceBehaviour): ResolvedBehaviour {
  const mode = script.mode ?? (script.rejectSipCode !== undefined ? 'reject' : 'auto');
  const rejectSipCode = script.rejectSipCode ?? (mode === 'busy' ? 486 : 603);
  return {
    ...script,
    mode,
    answerAfterMs: script.answerAfterMs ?? 0,
    rejectSipCode,
    rejectCause: script.rejectCause ?? sipToCause(rejectSipCode),
  };
}

export class Endpoints {
  private readonly devices = new Map<string, Device>();
  private readonly next = new Map<string, DeviceBehaviour[]>();

  register(user: string, script: DeviceBehaviour = {}): Device {
    const device: Device = { user, behaviour: complete(script) };
    this.devices.set(user, device);
    return device;
  }

  unregister(user: string): boolean {
    this.next.delete(user);
    return this.devices.delete(user);
  }

  get(user: string): Device | undefined {
    return this.devices.get(user);
  }

  list(): Device[] {
    return [...this.devices.values()];
  }

  /** The next call to `user` follows `script` (over the registered one). False if unknown. */
  scriptNext(user: string, script: DeviceBehaviour): boolean {
    if (!this.devices.has(user)) return false;
    this.next.set(user, [...(this.next.get(user) ?? []), script]);
    return true;
  }

  resolve(dial: string): Resolution {
    const d = dial.trim();
    const parts = d.split('/');
    const tech = parts[0]?.toLowerCase();
    if (tech === 'error') return { ok: false, cause: (parts[1] ?? 'DESTINATION_OUT_OF_ORDER').toUpperCase() };
    const last = parts[parts.length - 1] ?? '';
    const user = last.split('@')[0] ?? '';
    if (parts.length < 2 || user === '') return { ok: false, cause: 'INVALID_NUMBER_FORMAT' };
    const device = this.devices.get(user);
    if (device === undefined)
      return { ok: false, cause: tech === 'user' ? 'USER_NOT_REGISTERED' : 'NO_ROUTE_DESTINATION' };
    const queued = this.next.get(user);
    const override = queued?.shift();
    if (queued?.length === 0) this.next.delete(user);
    const forCall =
      override === undefined
        ? device
        : { user, behaviour: complete({ ...device.behaviour, ...resetDerived(override) }) };
    return { ok: true, device: forCall, channelName: `sofia/internal/${user}@127.0.0.1` };
  }
}

/** An override that sets the mode or SIP code recomputes what derives from them. */
function resetDerived(o: DeviceBehaviour): DeviceBehaviour {
  const r: DeviceBehaviour = { ...o };
  if (o.mode !== undefined || o.rejectSipCode !== undefined) {
    if (o.mode === undefined) r.mode = 'reject';
    if (o.rejectSipCode === undefined) r.rejectSipCode = undefined;
    if (o.rejectCause === undefined) r.rejectCause = undefined;
  }
  return r;
}
