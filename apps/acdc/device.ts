/**
 * How an agent process rings the agent (the seam where originate goes).
 *
 * Contract
 * - `ring(offer)` rings the agent's devices for the caller `offer.callId` and resolves
 *   `{answered: true, ended}` when the agent picked up (`ended` resolves when the
 *   agent's call with the caller is over), or `{answered: false}` when the devices did not
 *   answer. It may resolve after the agent process gave up on it (the ring timeout): the
 *   agent process then ignores it (its call-id is not the current one).
 * - `stop(callId, rt)`: stop ringing that caller (missed, paused, logged out, cancelled).
 * - `watchLeg(leg, pid, rt)` (optional): `{type: 'leg_ended', leg}` is sent to `pid` once
 *   the agent leg `leg` is gone (its CHANNEL_DESTROY, or the switch no longer has it):
 *   how a process follows a call its peer (another node) placed. Without it, nothing is sent.
 * - `originateDevice` (originator.ts) rings the agent's endpoints by originate_req with the
 *   caller as Existing-Call-ID; `noDevice` (an agent without endpoints) never answers.
 */
import type { Pid, Runtime } from '../../src/kernel/index.ts';

export interface RingOffer {
  readonly agentId: string;
  readonly queueId: string;
  readonly callId: string;
  readonly ringTimeoutMs: number;
}

/** `leg`: the agent's leg bridged to the caller, when the device knows it. */
export type RingResult = { answered: true; ended: Promise<void>; leg?: string } | { answered: false };

export interface AgentDevice {
  /** `rt`: the ringing agent process's runtime. */
  ring(offer: RingOffer, rt: Runtime): Promise<RingResult>;
  /** Stop ringing this agent for the caller `callId`. Never throws. */
  stop(callId: string, rt: Runtime): void;
  /** Sends `{type: 'leg_ended', leg}` to `pid` once the agent leg `leg` is gone. Never throws. */
  watchLeg?(leg: string, pid: Pid, rt: Runtime): void;
}

export const noDevice: AgentDevice = {
  ring: () => new Promise<RingResult>(() => undefined),
  stop: () => undefined,
};
