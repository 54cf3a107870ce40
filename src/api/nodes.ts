/**
 * Node heartbeat (Kazoo `kapi_nodes`, Event-Category `nodes`, Event-Name `advertise`).
 *
 * Contract
 * - `nodes` lists `nodes_advertise`: published on the `nodes` fanout exchange with an empty
 *   routing key every few seconds by every node. Node (the sender's node name) is its
 *   identity; Expires is the sender's heartbeat interval in ms (receivers keep the node for
 *   Expires x 1.25). WhApps maps app name to `{Startup, Roles}`.
 * - The observer (Fife's, no Kazoo peer sends these): `nodes_observe_req` is published on the
 *   same fanout by a node whose observer page is open, every few seconds while it is: every
 *   node that hears it sends `nodes_observe` to its Server-ID (on `targeted`) at once and
 *   then, for Lease-Ms, whenever its trees change and once a second, at most a few times a
 *   second: its tree (Tree: the `fife tree` JSON), the kernel events since its last update
 *   (Events, with Dropped-Events past the cap), its last crashes (Crashes), message rates
 *   per listener pid (Rates, per second) and its longest mailboxes (Mailboxes, pid ->
 *   length). Its own Server-ID is its observer's queue, where `nodes_observe_fault` goes:
 *   a fault button of a page on another node (Fault `kill`: crash Target-Pid with Reason,
 *   default `killed`).
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
  {
    id: 'nodes_observe_req',
    category: 'nodes',
    name: 'observe_req',
    doc: 'an observer page is open: every node sends its trees and kernel events to Server-ID for Lease-Ms',
    required: ['Server-ID', 'Lease-Ms'],
    optional: [],
    types: { 'Lease-Ms': 'integerish' },
    route: { exchange: 'nodes', kind: 'key', key: () => '', pattern: '' },
  },
  {
    id: 'nodes_observe',
    category: 'nodes',
    name: 'observe',
    doc: "one node's live trees, kernel events since its last update, last crashes, listener rates and mailboxes",
    required: ['Tree'],
    optional: ['Crashes', 'Dropped-Events', 'Events', 'Mailboxes', 'Rates', 'Seq'],
    types: {
      Tree: 'object',
      Events: 'list',
      Crashes: 'list',
      'Dropped-Events': 'integerish',
      Mailboxes: 'object',
      Rates: 'object',
      Seq: 'integerish',
    },
    route: { exchange: 'targeted', kind: 'queue' },
  },
  {
    id: 'nodes_observe_fault',
    category: 'nodes',
    name: 'observe_fault',
    doc: "an observer page's fault button: inject Fault into the process Target-Pid of the node whose observer queue this is",
    required: ['Fault', 'Target-Pid'],
    optional: ['Reason'],
    values: { Fault: ['kill'] },
    types: { 'Target-Pid': 'string', Reason: 'string' },
    route: { exchange: 'targeted', kind: 'queue' },
  },
];
