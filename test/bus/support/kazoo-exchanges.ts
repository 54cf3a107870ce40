/**
 * Kazoo's exchanges (`kz_amqp.hrl`) as {name, type}: the default list the tests declare.
 * The catalogue (src/api/exchanges.ts) owns the production list; this one is test data.
 */
import type { ExchangeSpec } from '../../../src/bus/types.ts';

export const KAZOO_EXCHANGES: readonly ExchangeSpec[] = [
  { name: 'targeted', type: 'direct' },
  { name: 'callctl', type: 'direct' },
  { name: 'callevt', type: 'topic' },
  { name: 'callmgr', type: 'topic' },
  { name: 'resources', type: 'topic' },
  { name: 'conference', type: 'topic' },
  { name: 'monitor', type: 'topic' },
  { name: 'configuration', type: 'topic' },
  { name: 'kapps', type: 'topic' },
  { name: 'presence', type: 'topic' },
  { name: 'notifications', type: 'topic' },
  { name: 'sysconf', type: 'topic' },
  { name: 'bookkeepers', type: 'topic' },
  { name: 'nodes', type: 'fanout' },
  { name: 'registrar', type: 'topic' },
  { name: 'leader', type: 'topic' },
  { name: 'tasks', type: 'topic' },
];
