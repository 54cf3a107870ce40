/**
 * Types of the message catalogue (src/api): what a message definition is made of.
 *
 * Contract
 * - A `Message` is a plain JSON object whose keys are spelled exactly as Kazoo spells them
 *   on the wire (`Event-Category`, `Call-ID`, ...). Fife never renames headers; typed views
 *   of single messages (e.g. `AuthnReq` in authn.ts) are interfaces over the same keys.
 * - A `MessageDef` is pure data (plus small pure key builders): one entry per message. It
 *   mirrors Kazoo's `kapi_definition`: required headers (an entry may be a list meaning
 *   "at least one of these"), optional headers, allowed values, types, the exchange and the
 *   routing key. Adding a message to Fife is adding one `MessageDef` to a family file.
 * - Nothing here does I/O.
 */
import type { ExchangeName } from './exchanges.ts';

/** A decoded or to-be-built message: JSON object keyed by Kazoo header names. */
export type Message = Readonly<Record<string, unknown>>;

/** The envelope every built message carries (Kazoo's `kz_api.hrl` default headers). */
export interface Envelope {
  readonly 'Event-Category': string;
  readonly 'Event-Name': string;
  readonly 'App-Name': string;
  readonly 'App-Version': string;
  readonly 'Msg-ID': string;
  readonly 'Server-ID'?: string;
  readonly Node?: string;
  readonly 'Account-ID'?: string;
  readonly 'Call-ID'?: string;
  readonly 'Defer-Response'?: string;
  readonly [header: string]: unknown;
}

/**
 * Value types a header may be checked against.
 * - `string`, `integer`, `number`, `boolean`, `object` (JSON object, not array/null), `list`
 *   (JSON array): what they say.
 * - `booleanish`: a boolean or the strings "true"/"false" (Kazoo's `kz_term:is_boolean`).
 * - `integerish`: an integer or a string of decimal digits (Kazoo peers send both).
 * - `pos-integer`: an integer above 0, not a string (Kazoo's `kz_term:is_pos_integer`).
 * - `terminators`: DTMF terminators as Kazoo's `kapi_dialplan:terminators_v` takes them: a
 *   list of single digits (0-9, `*`, `#`), or the string `none` (`""` is absent).
 * - `scalar`: string, number or boolean.
 * - `string-list`: array of strings.
 * - `queue-name`: a string of at most 255 bytes of UTF-8 (AMQP's short-string limit): a
 *   header that becomes a routing key or queue name (Server-ID, Control-Queue).
 * - `{ listOf: SubDef }`: array whose every element is an object valid against SubDef
 *   (bridge endpoints, route_resp routes).
 */
export type FieldType =
  | 'string'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'booleanish'
  | 'integerish'
  | 'pos-integer'
  | 'terminators'
  | 'object'
  | 'list'
  | 'string-list'
  | 'scalar'
  | 'queue-name'
  | { readonly listOf: SubDef };

/** A required entry: one header, or a list meaning "at least one of these". */
export type Required = string | readonly string[];

/** Header rules without envelope: used for nested objects (a bridge endpoint, a route). */
export interface SubDef {
  readonly name: string;
  readonly required: readonly Required[];
  readonly optional: readonly string[];
  readonly values?: Readonly<Record<string, readonly string[]>>;
  readonly types?: Readonly<Record<string, FieldType>>;
}

/**
 * Where a message goes.
 * - `queue`: a point-to-point message; the publisher names the queue (a request's
 *   Server-ID for replies on `targeted`, a call's Control-Queue for dialplan commands).
 * - `key`: a topic or fanout message whose routing key is computed from the message;
 *   `pattern` says the same in words for docs/messages.md (`authn.req.<realm>`; alternative
 *   forms separated by ` or `). A test checks that the key of a sample message matches it.
 */
export type Route =
  | { readonly exchange: ExchangeName; readonly kind: 'queue' }
  | {
      readonly exchange: ExchangeName;
      readonly kind: 'key';
      readonly key: (msg: Message) => string;
      readonly pattern: string;
    };

/** Another (exchange, binding key) on which real peers publish this message. */
export interface AlsoArrivesOn {
  readonly exchange: ExchangeName;
  /** Binding key pattern for a listener, e.g. `authn.endpoint.req.*`. */
  readonly bindKey: string;
  readonly why: string;
}

export interface MessageDef {
  /** Catalogue id, unique: `authn_req`, `dialplan.play`, `call_event`, ... */
  readonly id: string;
  /** Event-Category, fixed. */
  readonly category: string;
  /** Event-Name, fixed; `'*'` means any non-empty Event-Name (call events, error replies). */
  readonly name: string;
  /**
   * Further fixed values filled on build and checked on validate. A definition sharing its
   * (category, name) with another must name in `discriminator` the header that tells them
   * apart (dialplan commands: Application-Name) and fix it here.
   */
  readonly fixed?: Readonly<Record<string, string>>;
  readonly discriminator?: string;
  /** Values build() fills when absent; checked only through `values`/`types` (playstop's Insert-At). */
  readonly defaults?: Readonly<Record<string, string>>;
  readonly required: readonly Required[];
  readonly optional: readonly string[];
  /** Allowed values (enum) per header; for a list value every element must be allowed. */
  readonly values?: Readonly<Record<string, readonly string[]>>;
  readonly types?: Readonly<Record<string, FieldType>>;
  readonly route: Route;
  readonly alsoArrivesOn?: readonly AlsoArrivesOn[];
  /** Kazoo strips empty values recursively except for route_req and call_event. */
  readonly stripRecursive?: boolean;
  /** AMQP headers to set on publish (call events carry `call-id`). */
  readonly amqpHeaders?: (msg: Message) => Readonly<Record<string, string>>;
  /** One line for the README and error texts. */
  readonly doc: string;
  /** Longer notes for docs/messages.md (a flow the message is part of), one paragraph each. */
  readonly notes?: readonly string[];
}

/** One thing wrong with a message. */
export interface Problem {
  readonly header: string;
  readonly kind: 'missing' | 'type' | 'value' | 'unknown' | 'not-an-object';
  readonly detail: string;
}
