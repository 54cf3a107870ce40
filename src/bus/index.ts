/**
 * src/bus public surface: the transport (createTransport, BusTransport and its errors),
 * the embedded broker, gen_listener (a gen_server owning a queue, its bindings and
 * responders, validated against the catalogue), the listener core (its heart) and the
 * request/reply helper. Everything else in this folder is internal. See README.md beside this file.
 */
export type * from './types.ts';
export * from './errors.ts';
export { createTransport, defaultEmbeddedBroker, type CreateTransportOptions } from './create-transport.ts';
export { RecoveringTransport, BUS_BACKOFF, type RecoveringTransportOptions } from './recovering-transport.ts';
export { EmbeddedBroker } from './embedded-broker.ts';
export { parseBusUrl, redactUrl, type BusUrl } from './broker-url.ts';
export { matchTopic } from './topic-match.ts';
export {
  KAZOO_ANONYMOUS_QUEUE_DEFAULTS,
  KAZOO_QUEUE_DEFAULTS,
  kazooQueueOptions,
  type QueueOverrides,
} from './queue-defaults.ts';
export {
  decodeJson,
  validateEnvelope,
  encodeJson,
  jsonProperties,
  newMsgId,
  type Decoder,
  type Validator,
  type Envelope,
  type DecodeResult,
} from './envelope.ts';
export { BusCounters, type CountersSnapshot } from './counters.ts';
export {
  ListenerCore,
  type ListenerOptions,
  type ListenerBinding,
  type Handler,
  type HandlerContext,
  type ResponderSpec,
  type AckMode,
  type ListenerEvents,
} from './listener-core.ts';
export {
  Requester,
  type RequesterOptions,
  type PublishTarget,
  type CallOptions,
  type CollectOptions,
} from './requester.ts';
export {
  GenListener,
  startListener,
  type GenListenerBehaviour,
  type GenListenerEvent,
  type GenListenerOptions,
  type GenListenerResponder,
  type ListenSpec,
  type ListenerHandlerContext,
} from './gen-listener.ts';
