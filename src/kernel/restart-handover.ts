/**
 * Restart hand-over: what a worker that an app upgrade restarts leaves to its successor in
 * the same supervisor slot. OTP restarts a process without code_change from scratch (its
 * state and mailbox are lost); what it owns outside the process and the next one would
 * set up again, such as a gen_listener's queue and consumer, can be handed over instead,
 * so that the app keeps serving (src/bus/gen-listener.ts uses it).
 *
 * Contract (per runtime; a slot is a supervisor pid and a child id)
 * - The upgrade (app-upgrade.ts) `open`s a slot before it terminates the child and
 *   `close`s it once the restart (or its undoing) is over.
 * - `deposit(rt, sup, id, key, make)`: the ending process leaves what `make()` gives
 *   under `key`; false (make not called, or it gave nothing) when the slot is not open or
 *   already holds one under that key: the process then cleans up as usual.
 * - `take(rt, sup, id, key)`: the process started in the slot takes the item (once).
 * - `close`: every item nobody took is released (`item.release()`; a failure is logged
 *   by the caller's logger) and the slot forgotten.
 */
import type { Logger } from './log.ts';
import type { Pid } from './pid.ts';
import type { Runtime } from './runtime.ts';

export interface HandedOver {
  /** Called by `close` when no successor took it: clean up as the ending process would have. */
  release(): Promise<void>;
}

const slots = new WeakMap<Runtime, Map<string, Map<string, HandedOver>>>();
const slotKey = (sup: Pid, id: string): string => `${sup.node}\u0000${sup.id}\u0000${id}`;

function slot(rt: Runtime, sup: Pid, id: string): Map<string, HandedOver> | undefined {
  return slots.get(rt)?.get(slotKey(sup, id));
}

export const Handover = {
  open(rt: Runtime, sup: Pid, id: string): void {
    let bySlot = slots.get(rt);
    if (bySlot === undefined) slots.set(rt, (bySlot = new Map()));
    if (!bySlot.has(slotKey(sup, id))) bySlot.set(slotKey(sup, id), new Map());
  },

  deposit(rt: Runtime, sup: Pid, id: string, key: string, make: () => HandedOver | undefined): boolean {
    const s = slot(rt, sup, id);
    if (s === undefined || s.has(key)) return false;
    const item = make();
    if (item === undefined) return false;
    s.set(key, item);
    return true;
  },

  take<T extends HandedOver>(rt: Runtime, sup: Pid, id: string, key: string): T | undefined {
    const s = slot(rt, sup, id);
    const item = s?.get(key);
    s?.delete(key);
    return item as T | undefined;
  },

  async close(rt: Runtime, sup: Pid, id: string, log: Logger): Promise<void> {
    const s = slot(rt, sup, id);
    slots.get(rt)?.delete(slotKey(sup, id));
    for (const [key, item] of s ?? []) {
      try {
        await item.release();
      } catch (err) {
        log.error({ child: id, key, err }, 'restart hand-over: releasing what nobody took failed');
      }
    }
  },
};
