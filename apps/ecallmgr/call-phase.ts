/**
 * The phases of a call's control process and what moves it between them. This table is
 * the process's documentation; call-control.ts refuses any move it does not list.
 *
 *   phase       input              -> next phase(s)
 *   active      command               active | executing   (queued; runs at once when idle)
 *   active      exec_done             active               (a late `now` completion)
 *   active      node_down             node_down
 *   active      node_up               active | executing   (a restarted node connection: run what waits)
 *   executing   command               executing            (queued behind the running one)
 *   executing   exec_done             active | executing   (next command, or idle)
 *   executing   node_down             node_down            (queue kept)
 *   node_down   command               node_down            (queued, not run)
 *   node_down   exec_done             node_down
 *   node_down   node_up               active | executing   (the channel still exists: resume)
 *   node_down   node_timeout          hungup               (the switch stayed away too long)
 *   (any of the three above)
 *               hangup                hanging_up           (CHANNEL_HANGUP: nothing more runs)
 *               destroyed             hungup               (CHANNEL_DESTROY)
 *               channel_gone          hungup               (the switch says the channel does not exist)
 *   hanging_up  command               hanging_up           (answered with a dialplan error)
 *   hanging_up  destroyed | channel_gone   hungup
 *   hanging_up  exec_done | hangup | node_down | node_up   hanging_up
 *   hanging_up  keepalive_timeout     hanging_up           (no CHANNEL_DESTROY yet: the switch is asked,
 *                                                          its answer comes after the events before it;
 *                                                          gone -> channel_gone)
 *   hanging_up  node_timeout          hungup               (asked while the switch was away, and it stayed away)
 *   hungup      command               hungup               (answered with a dialplan error)
 *   hungup      exec_done | hangup | destroyed | node_down | node_up | channel_gone   hungup
 *   hungup      keepalive_timeout     stop                 (the process ends, normal)
 *   active | executing  controller_gone   active       (the node of the call's controller left the
 *                                                          cluster: queued commands dropped, the running
 *                                                          one broken, the call routed again)
 *   node_down   controller_gone       node_down            (the same; nothing runs while the switch is away)
 *   (any phase) usurped               stop                 (another routing of the call took over)
 *
 * Inputs a phase does not list are logged and ignored (e.g. node_up while executing).
 */

export type Phase = 'active' | 'executing' | 'node_down' | 'hanging_up' | 'hungup';
export type Input =
  | 'command'
  | 'exec_done'
  | 'hangup'
  | 'destroyed'
  | 'node_down'
  | 'node_up'
  | 'channel_gone'
  | 'node_timeout'
  | 'keepalive_timeout'
  | 'controller_gone'
  | 'usurped';
export type Next = Phase | 'stop';

const ENDING = {
  hangup: ['hanging_up'],
  destroyed: ['hungup'],
  channel_gone: ['hungup'],
  usurped: ['stop'],
} as const;

export const TRANSITIONS: Readonly<Record<Phase, Partial<Record<Input, readonly Next[]>>>> = {
  active: {
    command: ['active', 'executing'],
    exec_done: ['active'],
    node_down: ['node_down'],
    node_up: ['active', 'executing'],
    controller_gone: ['active'],
    ...ENDING,
  },
  executing: {
    command: ['executing'],
    exec_done: ['active', 'executing'],
    node_down: ['node_down'],
    controller_gone: ['active'],
    ...ENDING,
  },
  node_down: {
    command: ['node_down'],
    controller_gone: ['node_down'],
    exec_done: ['node_down'],
    node_up: ['active', 'executing'],
    node_timeout: ['hungup'],
    ...ENDING,
  },
  hanging_up: {
    command: ['hanging_up'],
    exec_done: ['hanging_up'],
    hangup: ['hanging_up'],
    destroyed: ['hungup'],
    channel_gone: ['hungup'],
    node_down: ['hanging_up'],
    node_up: ['hanging_up'],
    keepalive_timeout: ['hanging_up'],
    node_timeout: ['hungup'],
    usurped: ['stop'],
  },
  hungup: {
    command: ['hungup'],
    exec_done: ['hungup'],
    hangup: ['hungup'],
    destroyed: ['hungup'],
    node_down: ['hungup'],
    node_up: ['hungup'],
    channel_gone: ['hungup'],
    keepalive_timeout: ['stop'],
    usurped: ['stop'],
  },
};

/** The call is over (no command runs any more). */
export const isOver = (p: Phase): boolean => p === 'hanging_up' || p === 'hungup';

/** The phases `input` may lead to from `phase`; undefined when the phase ignores it. */
export function allowed(phase: Phase, input: Input): readonly Next[] | undefined {
  return TRANSITIONS[phase][input];
}

/** Throws when a handler chose a move the table does not list (a bug, so a crash). */
export function checkMove(phase: Phase, input: Input, next: Next): Next {
  const ok = allowed(phase, input);
  if (ok === undefined || !ok.includes(next))
    throw new Error(`call_control: ${phase} --${input}--> ${next} is not in the transition table`);
  return next;
}
