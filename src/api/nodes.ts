/**
 * Node heartbeat (Kazoo `kapi_nodes`, Event-Category `nodes`, Event-Name `advertise`).
 *
 * Contract
 * - `nodes` lists `nodes_advertise`: published on the `nodes` fanout exchange with an empty
 *   routing key every few seconds by every node. Node (the sender's node name) is its
 *   identity; Expires is the sender's heartbeat interval in ms (receivers keep the node for
 *   Expires x 1.25). WhApps maps app name to `{Startup, Roles}`.
 */
import type { Envelope, MessageDef } from './types.ts';

export interface NodesAdvertise extends Envelope {
  readonly Expires: number | string;
  readonly WhApps?: Readonly<Record<string, unknown>>;
  readonly Version?: string;
  readonly 'Used-Memory'?: number;
  readonly Zone?: string;
}

export const nodes: readonly MessageDef[] = [
  {
    id: 'nodes_advertise',
    category: 'nodes',
    name: 'advertise',
    doc: 'node heartbeat: who I am, which apps I run, until when to believe me',
    required: ['Expires'],
    optional: [
      'Channels',
      'Conferences',
      'Globals',
      'md5',
      'Media-Servers',
      'Node-Info',
      'Ports',
      'Processes',
      'Registrations',
      'Used-Memory',
      'Version',
      'WhApps',
      'Zone',
    ],
    types: {
      Expires: 'integerish',
      WhApps: 'object',
      'Media-Servers': 'object',
      'Node-Info': 'object',
      Globals: 'object',
      Channels: 'integerish',
      Conferences: 'integerish',
      Registrations: 'integerish',
      'Used-Memory': 'integerish',
      Processes: 'integerish',
      Ports: 'integerish',
      Version: 'string',
      Zone: 'string',
    },
    route: { exchange: 'nodes', kind: 'key', key: () => '', pattern: '' },
  },
];
