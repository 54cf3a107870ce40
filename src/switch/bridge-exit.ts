/**
 * Taking legs out of a running bridge, as FreeSWITCH's transfer of a bridged channel does
 * (uuid_park, uuid_transfer [-bleg|-both]): what Kazoo's ecallmgr sends for `hangup` with
 * Other-Leg-Only (`uuid_park <call>`) and for `unbridge` (`uuid_transfer <call>
 * [-bleg|-both] park: inline`, ecallmgr_fs_bridge:unbridge/2).
 *
 * Contract
 * - `leaveBridge(model, engine, ch, which)`: `ch` takes part in a bridge whose `bridge`
 *   application runs on the originator (A-leg); `which` names the legs transferred:
 *   `self` (ch), `peer` (its bridged leg, uuid_transfer's -bleg), `both` (-both). The
 *   bridge application is stopped with a `BridgeExit` naming them (apps.ts then fires
 *   CHANNEL_UNBRIDGE on the A-leg and completes the bridge), then each transferred leg
 *   still up leaves its park, if parked (CHANNEL_UNPARK, park's completion: the bridge ran
 *   inside the dialplan's park) and is parked again (CHANNEL_EXECUTE park, CHANNEL_PARK). The leg left behind is the
 *   one switch_ivr_bridge.c lets go: an originatee (B-leg) hangs up NORMAL_CLEARING
 *   (audio_bridge_on_exchange_media), an originator (A-leg) follows hangup_after_bridge.
 *   A bridge still ringing is cancelled the same way (its legs get ORIGINATOR_CANCEL).
 * - Resolves true once done; false (nothing touched) when `ch` is in no bridge the
 *   `bridge` application runs (e.g. one made by uuid_bridge).
 */
import type { AppEngine } from './app-engine.ts';
import type { CallModel } from './call-model.ts';
import type { Channel } from './channel.ts';

/** The abort reason a bridge application gets when legs are transferred out of it. */
export class BridgeExit {
  constructor(
    /** The Unique-IDs of the legs transferred (they stay up); the others are left behind. */
    readonly leaving: ReadonlySet<string>,
  ) {}
}

export type TransferLegs = 'self' | 'peer' | 'both';

export async function leaveBridge(
  model: CallModel,
  engine: AppEngine,
  ch: Channel,
  which: TransferLegs,
): Promise<boolean> {
  // The originator runs the bridge application; an originatee finds it on its other leg.
  const originator =
    engine.current(ch.uuid) === 'bridge' || ch.otherType === 'originatee'
      ? ch
      : ch.otherType === 'originator' && ch.otherLeg !== undefined
        ? model.channels.get(ch.otherLeg)
        : undefined;
  if (originator === undefined) return false;
  const other = originator === ch ? ch.otherLeg : originator.uuid;
  const leaving = new Set<string>();
  if (which !== 'peer') leaving.add(ch.uuid);
  if (which !== 'self' && other !== undefined) leaving.add(other);
  const done = engine.stopBridge(originator, new BridgeExit(leaving));
  if (done === undefined) return false;
  await done;
  for (const uuid of leaving) {
    const leg = model.channels.get(uuid);
    if (leg === undefined || leg.isHungUp) continue;
    engine.unpark(leg);
    engine.runDialplanPark(leg);
  }
  return true;
}
