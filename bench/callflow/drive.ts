/**
 * The callflow bench's call driver, shared by the bench process and the simulator's own
 * process (switch-process.ts): `drive` runs N workers until a count or a time is reached
 * and gives the rate and this process's CPU time per unit; `switchWaits` / `eslWaits`
 * wait for one event of one call (the first seen from now on; an error naming the event
 * and call after STEP_MS); `callflowCall` is one complete call as the phones make it
 * (placed, bridged by the platform, B hangs up, A's CHANNEL_DESTROY awaited).
 */
import { type EslConnection, type EslEvent, type Switch, type SwitchEvent } from '../../src/switch/index.ts';

/** Longest wait for one step of one call before the bench gives up with an error. */
export const STEP_MS = 10_000;
export const REALM = 'acme.test';

/** `n` workers running `one(i)` until `total` are done (or the time is up): rate per s. */
export async function drive(
  n: number,
  one: (i: number) => Promise<void>,
  until: { total?: number; ms?: number },
): Promise<{ rate: number; done: number; cpuMs: number }> {
  let next = 0;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + (until.ms ?? Infinity);
  await Promise.all(
    Array.from({ length: n }, async () => {
      while ((until.total === undefined || next < until.total) && performance.now() < end) {
        await one(next++);
        done++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  // CPU time of this process per unit of work: what other jobs on the machine move least.
  return {
    rate: done / ((performance.now() - t0) / 1000),
    done,
    cpuMs: (cpu.user + cpu.system) / 1000 / done,
  };
}

export type Seen = { name: string; uuid: string | undefined; get(k: string): string | undefined };
/** Waits for event `name` of `uuid`: the first one seen from now on, or an error. */
export type Wait = (name: string, uuid: string) => Promise<Seen>;

/** Waits on events fed through `feed` (the simulator's own, or an event socket's). */
function waits(subscribe: (feed: (e: Seen) => void) => void): Wait {
  const waiting = new Map<string, (e: Seen) => void>();
  subscribe((e) => {
    const key = `${e.name}:${String(e.uuid)}`;
    const w = waiting.get(key);
    if (w === undefined) return;
    waiting.delete(key);
    w(e);
  });
  return (name, uuid) =>
    new Promise((resolve, reject) => {
      const key = `${name}:${uuid}`;
      const timer = setTimeout(() => {
        waiting.delete(key);
        reject(new Error(`no ${name} for call ${uuid} within ${STEP_MS} ms`));
      }, STEP_MS);
      waiting.set(key, (e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
}

const header = (e: SwitchEvent, k: string): string | undefined => e.headers.find(([n]) => n === k)?.[1];

/** The switch's events, as they happen (CHANNEL_BRIDGE and later come after the call is placed). */
export const switchWaits = (sw: Switch): Wait =>
  waits((feed) =>
    sw.onEvent((e: SwitchEvent) => feed({ name: e.name, uuid: e.uuid, get: (k) => header(e, k) })),
  );

/** An event socket's events (they arrive after the command that caused them returned). */
export const eslWaits = (esl: EslConnection): Wait =>
  waits((feed) =>
    esl.on('event', (e: EslEvent) => feed({ name: e.name, uuid: e.uuid, get: (k) => e.headers[k] })),
  );

/** A call from 1001 in the bench account's realm, as the callflow harness places it. */
export const placeCall = (sw: Switch, to: string): string =>
  sw.placeCall({ from: '1001', to, variables: { sip_from_host: REALM } });

/** One complete call through the platform: routed, bridged to 1002, 1002 hangs up, caller hung up. */
export async function callflowCall(sw: Switch, wait: Wait, to: string): Promise<void> {
  const a = placeCall(sw, to);
  const bridged = await wait('CHANNEL_BRIDGE', a);
  const b = bridged.get('Bridge-B-Unique-ID');
  if (b === undefined) throw new Error(`CHANNEL_BRIDGE of ${a} without Bridge-B-Unique-ID`);
  const destroyed = wait('CHANNEL_DESTROY', a);
  sw.hangup(b);
  await destroyed;
}
