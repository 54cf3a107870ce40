/**
 * Registered endpoints (SIP devices) the simulator can ring: the target of `bridge`,
 * `originate` and the control API's `placeCall`.
 *
 * Contract
 * - `register(user, behaviour)` makes `user` reachable; `unregister(user)` removes it.
 *   A behaviour says what the device does when rung: `auto` answers after `answerAfterMs`
 *   (default 0), `manual` rings until the control API answers, rejects or hangs it up
 *   (or the caller's timeout), `reject` refuses with `rejectCause` (default CALL_REJECTED),
 *   `busy` refuses with USER_BUSY.
 * - `resolve(dialString)` understands `user/<u>[@domain]`, `sofia/<profile>/<u>[@host]`,
 *   `sofia/gateway/<gw>/<u>`, and `error/<cause>`; it returns the device, a forced
 *   failure cause, or USER_NOT_REGISTERED for an unknown user (as FreeSWITCH answers a
 *   `user/` dial string for a user with no registration).
 */

export type DeviceMode = 'auto' | 'manual' | 'reject' | 'busy';

export interface DeviceBehaviour {
  mode?: DeviceMode;
  answerAfterMs?: number;
  rejectCause?: string;
  callerIdName?: string;
}

export interface Device {
  readonly user: string;
  readonly behaviour: Required<Pick<DeviceBehaviour, 'mode' | 'answerAfterMs' | 'rejectCause'>> &
    DeviceBehaviour;
}

export type Resolution = { ok: true; device: Device; channelName: string } | { ok: false; cause: string };

export class Endpoints {
  private readonly devices = new Map<string, Device>();

  register(user: string, behaviour: DeviceBehaviour = {}): Device {
    const device: Device = {
      user,
      behaviour: {
        ...behaviour,
        mode: behaviour.mode ?? 'auto',
        answerAfterMs: behaviour.answerAfterMs ?? 0,
        rejectCause: behaviour.rejectCause ?? 'CALL_REJECTED',
      },
    };
    this.devices.set(user, device);
    return device;
  }

  unregister(user: string): boolean {
    return this.devices.delete(user);
  }

  list(): Device[] {
    return [...this.devices.values()];
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
    return { ok: true, device, channelName: `sofia/internal/${user}@127.0.0.1` };
  }
}
