/**
 * The phases of a call's control process and what moves it between them. This table is
 * the process's documentation; call-control.ts refuses any move it does not list.
 *
 *   phase      input             -> next phase(s)
 *   active     command              active | executing   (queued; runs at once when idle)
 *   active     exec_done            active               (a late `now` completion)
 *   active     destroyed            hungup               (CHANNEL_DESTROY)
 *   active     node_down            node_down
 *   active     channel_gone         hungup               (the switch says the channel does not exist)
 *   active     node_up              active | executing   (a restarted node connection: run what waits)
 *   executing  command              executing            (queued behind the running one)
 *   executing  exec_done            active | executing   (next command, or idle)
 *   executing  destroyed            hungup
 *   executing  node_down            node_down            (queue kept)
 *   executing  channel_gone         hungup
 *   node_down  command              node_down            (queued, not run)
 *   node_down  exec_done            node_down
 *   node_down  node_up              active | executing   (the channel still exists: resume)
 *   node_down  channel_gone         hungup               (it vanished while we were away)
 *   node_down  node_timeout         hungup               (the switch stayed away too long)
 *   node_down  destroyed            hungup
 *   hungup     command              hungup               (answered with a dialplan error)
 *   hungup     exec_done|destroyed|node_down|node_up|channel_gone   hungup
 *   hungup     keepalive_timeout    stop                 (the process ends, normal)
 *
 * Inputs a phase does not list are logged and ignored (e.g. node_up while executing).
 */

export type Phase = 'active' | 'executing' | 'node_down' | 'hungup';
export type Input = 'command' | 'exec_done' | 'destroyed' | 'node_down' | 'node_up' | 'channel_gone' | 'node_timeout' | 'keepalive_timeout';
export type Next = Phase | 'stop';

export const TRANSITIONS: Readonly<Record<Phase, Partial<Record<Input, readonly Next[]>>>> = {
  active: { command: ['active', 'executing'], exec_done: ['active'], destroyed: ['hungup'], node_down: ['node_down'], channel_gone: ['hungup'], node_up: ['active', 'executing'] },
  executing: { command: ['executing'], exec_done: ['active', 'executing'], destroyed: ['hungup'], node_down: ['node_down'], channel_gone: ['hungup'] },
  node_down: {
    command: ['node_down'], exec_done: ['node_down'], node_up: ['active', 'executing'], channel_gone: ['hungup'],
    node_timeout: ['hungup'], destroyed: ['hungup'],
  },
  hungup: {
    command: ['hungup'], exec_done: ['hungup'], destroyed: ['hungup'], node_down: ['hungup'], node_up: ['hungup'],
    channel_gone: ['hungup'], keepalive_timeout: ['stop'],
  },
};

/** The phases `input` may lead to from `phase`; undefined when the phase ignores it. */
export function allowed(phase: Phase, input: Input): readonly Next[] | undefined {
  return TRANSITIONS[phase][input];
}

/** Throws when a handler chose a move the table does not list (a bug, so a crash). */
export function checkMove(phase: Phase, input: Input, next: Next): Next {
  const ok = allowed(phase, input);
  if (ok === undefined || !ok.includes(next)) throw new Error(`call_control: ${phase} --${input}--> ${next} is not in the transition table`);
  return next;
}
