/**
 * The catalogue in the shapes src/bus plugs in (its envelope.ts Decoder / Validator and
 * ExchangeSpec), written structurally so src/api imports nothing from the bus.
 *
 * Contract
 * - `busDecoder({maxBytes})`: `(body, props) => {ok: true, message} | {ok: false, reason}`
 *   over `decode` (same rules: size, gzip, UTF-8, JSON object, depth). Never throws.
 * - `busValidator(message)`: undefined when `validate` accepts it, else its reason.
 * - `busExchangeSpecs()`: EXCHANGES flattened to `{name, type, durable, autoDelete}`.
 */
import { decode, type DecodeOptions, type DeliveryProps } from './decode.ts';
import { EXCHANGES, type ExchangeType } from './exchanges.ts';
import { validate } from './index.ts';

export type BusDecoded =
  | { readonly ok: true; readonly message: Record<string, unknown> }
  | { readonly ok: false; readonly reason: string };

export function busDecoder(opts: DecodeOptions): (body: Buffer, props: DeliveryProps) => BusDecoded {
  return (body, props) => {
    const r = decode(body, props, opts);
    return r.ok ? { ok: true, message: r.msg } : { ok: false, reason: r.reason };
  };
}

export function busValidator(message: Record<string, unknown>): string | undefined {
  const r = validate(message);
  return r.ok ? undefined : r.reason;
}

export interface FlatExchangeSpec {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
}

export function busExchangeSpecs(): readonly FlatExchangeSpec[] {
  return EXCHANGES.map((e) => ({
    name: e.name,
    type: e.type,
    durable: e.options.durable,
    autoDelete: e.options.autoDelete,
  }));
}
