/**
 * Test helpers that wait on events, never on time.
 * - `sink(t, queue)`: consumes a queue and records bodies; `settle()` publishes a sentinel
 *   through the default exchange on the same transport (hence the same channel, so after
 *   every earlier publish of that transport to the queue) and resolves with the bodies
 *   received before it. That is how a test proves a message did NOT arrive.
 * - `nextEvent(emitter, name)`: the next emission of an event.
 */
import type { EventEmitter } from 'node:events';
import type { BusTransport, ConsumeOptions, Delivery } from '../../../src/bus/types.ts';

const SENTINEL = '__fife_sentinel__';

export interface Sink {
  readonly queue: string;
  readonly deliveries: Delivery[];
  bodies(): string[];
  /** Resolves once `n` deliveries arrived. */
  count(n: number): Promise<void>;
  settle(): Promise<string[]>;
  tag: string;
}

export async function sink(t: BusTransport, queue: string, opts: ConsumeOptions = {}): Promise<Sink> {
  const deliveries: Delivery[] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  let sentinelResolve: (() => void) | undefined;
  const check = (): void => {
    const ready = waiters.filter((w) => deliveries.length >= w.n);
    waiters = waiters.filter((w) => deliveries.length < w.n);
    for (const w of ready) w.resolve();
  };
  const tag = await t.consume(
    queue,
    (d) => {
      if (d.body.toString() === SENTINEL) {
        if (opts.noAck === false) d.ack();
        sentinelResolve?.();
        return;
      }
      deliveries.push(d);
      check();
    },
    opts,
  );
  return {
    queue,
    deliveries,
    tag,
    bodies: () => deliveries.map((d) => d.body.toString()),
    count: (n) =>
      deliveries.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    settle: async () => {
      const done = new Promise<void>((resolve) => (sentinelResolve = resolve));
      await t.publish('', queue, SENTINEL);
      await done;
      return deliveries.map((d) => d.body.toString());
    },
  };
}

export function nextEvent<T extends unknown[]>(
  emitter: EventEmitter,
  name: string,
  filter: (...args: T) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve) => {
    const on = (...args: unknown[]): void => {
      if (!filter(...(args as T))) return;
      emitter.off(name, on);
      resolve(args as T);
    };
    emitter.on(name, on);
  });
}
