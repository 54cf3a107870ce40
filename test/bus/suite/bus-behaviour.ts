/**
 * The bus behaviour suite: one function, run by behaviour.embedded.test.ts on the embedded
 * broker and by behaviour.rabbitmq.test.ts on RabbitMQ. Sections follow the contracts of
 * src/bus: the transport, the listener core, the request/reply helper.
 */
import { describe } from 'vitest';
import type { BusEnv } from '../support/bus-env.ts';
import { listenerBehaviour } from './listener-behaviour.ts';
import { requestReplyBehaviour } from './request-reply-behaviour.ts';
import { transportBehaviour } from './transport-behaviour.ts';
import { genListenerBehaviour, genListenerTakeOverAndDeclarations } from './gen-listener-behaviour.ts';

export function busBehaviourSuite(env: () => BusEnv): void {
  describe('transport', () => transportBehaviour(env));
  describe('listener core', () => listenerBehaviour(env));
  describe('request/reply', () => requestReplyBehaviour(env));
  describe('gen_listener', () => genListenerBehaviour(env));
  describe('gen_listener: take-over and declarations', () => genListenerTakeOverAndDeclarations(env));
}
