/**
 * Kazoo's queue defaults (kz_amqp_util:new_queue), applied by the
 * listener core and the requester, not by the transport (whose defaults are AMQP's).
 *
 * - Every queue: durable false, exclusive false, auto-delete true.
 * - Anonymous queues (client-generated name) also get x-max-length 100 and
 *   x-message-ttl 60000 ms. Named queues get neither unless asked.
 * - An override of `null` removes a default (Kazoo's `infinity`); any other value replaces it.
 */
import type { QueueOptions } from './types.ts';

export type QueueOverrides = { readonly [K in keyof QueueOptions]?: QueueOptions[K] | null };

export const KAZOO_QUEUE_DEFAULTS: QueueOptions = { durable: false, exclusive: false, autoDelete: true };
export const KAZOO_ANONYMOUS_QUEUE_DEFAULTS: QueueOptions = {
  ...KAZOO_QUEUE_DEFAULTS,
  maxLength: 100,
  messageTtl: 60_000,
};

export function kazooQueueOptions(anonymous: boolean, overrides: QueueOverrides = {}): QueueOptions {
  const out: Record<string, unknown> = {
    ...(anonymous ? KAZOO_ANONYMOUS_QUEUE_DEFAULTS : KAZOO_QUEUE_DEFAULTS),
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = v;
  }
  return out as QueueOptions;
}
